"""Server-side apply, simplified: field ownership per manager in managedFields (FieldsV1).

Each apply records the fields its configuration sets under `metadata.managedFields` for that
manager, in FieldsV1 form: `f:<field>` for map keys, `k:{"name":"web"}` (plus `.` for the
item itself) for the keyed lists of built-in kinds (containers, env, ports, ... as strategic
merge knows them); other lists, and every list of a custom resource, are atomic. The next
apply by the same manager removes the fields and list items it set before and sets no longer
(and maps it emptied), then merges the new configuration: strategic merge for built-in kinds,
JSON merge for custom resources.
Conflicts between managers are not detected (every apply acts as `force=true`).
Pure functions on fresh dicts; no I/O.
"""

from __future__ import annotations

import json
from typing import Any

from sandbox.gc import now_rfc3339
from sandbox.patching import apply_merge_patch, apply_strategic_merge_patch, merge_key_for

__all__ = ["apply_config", "managed_entry", "merge_managed"]


def apply_config(
    live: dict[str, Any], config: dict[str, Any], manager: str, strategic: bool
) -> dict[str, Any]:
    """The object after `manager` applies `config` to `live` (a fresh copy it may change)."""
    old_fields = _fields_of(live, manager, "Apply")
    new_fields = _leaf_paths(body_fields(config, strategic))
    # whole list items first (their fields go with them), then the deepest fields
    gone = sorted(old_fields - new_fields, key=lambda p: (p[-1] != ".", -len(p)))
    for path in gone:
        if any(p[: len(path)] == path for p in new_fields):
            continue
        _delete_path(live, path)
        # maps the manager created and no longer sets go too, once empty
        for depth in range(len(path) - 1, 1, -1):
            parent = path[:depth]
            if any(p[:depth] == parent for p in new_fields) or _get_path(live, parent) != {}:
                break
            _delete_path(live, parent)
    merged: dict[str, Any] = (
        apply_strategic_merge_patch(live, config) if strategic else apply_merge_patch(live, config)
    )
    return merged


def _item_key(item: dict[str, Any], key: str) -> str:
    return "k:" + json.dumps({key: item[key]}, separators=(",", ":"))


def _fields_v1(value: Any, keyed: bool, in_container: bool = False) -> dict[str, Any]:
    if not isinstance(value, dict):
        return {}
    out: dict[str, Any] = {}
    for k, v in value.items():
        key = merge_key_for(k, in_container) if keyed and isinstance(v, list) else None
        if key and all(isinstance(i, dict) and key in i for i in v):
            child_container = k in ("containers", "initContainers", "ephemeralContainers")
            out[f"f:{k}"] = {
                _item_key(i, key): {".": {}, **_fields_v1(i, keyed, child_container)} for i in v
            }
        else:
            out[f"f:{k}"] = _fields_v1(v, keyed)
    return out


def body_fields(obj: dict[str, Any], keyed: bool = True) -> dict[str, Any]:
    """The FieldsV1 set of what `obj` sets (metadata: labels, annotations, finalizers, owners)."""
    body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
    meta = {
        k: v
        for k, v in (obj.get("metadata") or {}).items()
        if k in ("labels", "annotations", "finalizers", "ownerReferences")
    }
    if meta:
        body["metadata"] = meta
    else:
        body.pop("metadata", None)
    return _fields_v1(body, keyed)


def managed_entry(
    manager: str, operation: str, api_version: str, obj: dict[str, Any], keyed: bool = True
) -> dict[str, Any]:
    """One managedFields entry for what `obj` sets."""
    return {
        "manager": manager,
        "operation": operation,
        "apiVersion": api_version,
        "time": now_rfc3339(),
        "fieldsType": "FieldsV1",
        "fieldsV1": body_fields(obj, keyed),
    }


def merge_managed(
    current: list[dict[str, Any]] | None,
    manager: str,
    operation: str,
    api_version: str,
    obj: dict[str, Any],
    keyed: bool = True,
) -> list[dict[str, Any]]:
    """`current` with the entry of (manager, operation) replaced by one for `obj`."""
    entries = [
        m
        for m in current or []
        if not (m.get("manager") == manager and m.get("operation") == operation)
    ]
    entries.append(managed_entry(manager, operation, api_version, obj, keyed))
    return entries


def _leaf_paths(fields: dict[str, Any], prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    out: set[tuple[str, ...]] = set()
    for k, v in fields.items():
        path = (*prefix, k)
        if v:
            out |= _leaf_paths(v, path)
        else:
            out.add(path)
    return out


def _fields_of(obj: dict[str, Any], manager: str, operation: str) -> set[tuple[str, ...]]:
    for m in obj["metadata"].get("managedFields") or []:
        if m.get("manager") == manager and m.get("operation") == operation:
            return _leaf_paths(m.get("fieldsV1") or {})
    return set()


def _step(cur: Any, token: str) -> Any:
    """Follow one FieldsV1 token: `f:name` into a map, `k:{...}` to the matching list item."""
    if token.startswith("f:") and isinstance(cur, dict):
        return cur.get(token[2:])
    if token.startswith("k:") and isinstance(cur, list):
        want = json.loads(token[2:])
        for item in cur:
            if isinstance(item, dict) and all(item.get(k) == v for k, v in want.items()):
                return item
    return None


def _get_path(obj: dict[str, Any], path: tuple[str, ...]) -> Any:
    cur: Any = obj
    for token in path:
        cur = _step(cur, token)
        if cur is None:
            return None
    return cur


def _delete_path(obj: dict[str, Any], path: tuple[str, ...]) -> None:
    if path[-1] == ".":
        path = path[:-1]  # the list item itself
    parent = _get_path(obj, path[:-1])
    last = path[-1]
    if isinstance(parent, dict) and last.startswith("f:"):
        parent.pop(last[2:], None)
    elif isinstance(parent, list) and last.startswith("k:"):
        item = _step(parent, last)
        if item is not None:
            parent.remove(item)
