"""Server-side apply, simplified: field ownership per manager in managedFields (FieldsV1).

Each apply records the fields its configuration sets (maps per key, lists as a whole) under
`metadata.managedFields` for that manager. The next apply by the same manager removes the
fields it set before and sets no longer (and maps it emptied), then merges the new
configuration: strategic merge for built-in kinds, JSON merge for custom resources.
Conflicts between managers are not detected (every apply acts as `force=true`).
Pure functions on fresh dicts; no I/O.
"""

from __future__ import annotations

import time
from typing import Any

from sandbox.patching import apply_merge_patch, apply_strategic_merge_patch

__all__ = ["apply_config", "managed_entry", "merge_managed"]


def apply_config(
    live: dict[str, Any], config: dict[str, Any], manager: str, strategic: bool
) -> dict[str, Any]:
    """The object after `manager` applies `config` to `live` (a fresh copy it may change)."""
    old_fields = _fields_of(live, manager, "Apply")
    new_fields = _leaf_paths(_body_fields(config))
    for path in sorted(old_fields - new_fields, key=len, reverse=True):
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


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


# ---- managedFields (a simplified fieldsV1: maps are tracked per key, lists atomically)
def _fields_v1(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        return {}
    return {f"f:{k}": _fields_v1(v) for k, v in value.items()}


def _body_fields(obj: dict[str, Any]) -> dict[str, Any]:
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
    return _fields_v1(body)


def managed_entry(
    manager: str, operation: str, api_version: str, obj: dict[str, Any]
) -> dict[str, Any]:
    return {
        "manager": manager,
        "operation": operation,
        "apiVersion": api_version,
        "time": _now(),
        "fieldsType": "FieldsV1",
        "fieldsV1": _body_fields(obj),
    }


def merge_managed(
    current: list[dict[str, Any]] | None,
    manager: str,
    operation: str,
    api_version: str,
    obj: dict[str, Any],
) -> list[dict[str, Any]]:
    entries = [
        m
        for m in current or []
        if not (m.get("manager") == manager and m.get("operation") == operation)
    ]
    entries.append(managed_entry(manager, operation, api_version, obj))
    return entries


def _leaf_paths(fields: dict[str, Any], prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    out: set[tuple[str, ...]] = set()
    for k, v in fields.items():
        path = (*prefix, k[2:])
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


def _get_path(obj: dict[str, Any], path: tuple[str, ...]) -> Any:
    cur: Any = obj
    for part in path:
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def _delete_path(obj: dict[str, Any], path: tuple[str, ...]) -> None:
    cur: Any = obj
    for part in path[:-1]:
        if not isinstance(cur, dict) or part not in cur:
            return
        cur = cur[part]
    if isinstance(cur, dict):
        cur.pop(path[-1], None)
