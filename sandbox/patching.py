"""Patch application: JSON merge patch (RFC 7386), JSON patch (RFC 6902), strategic merge.

Strategic merge follows the built-in kinds' patch strategies for the usual keyed lists
(containers, env, volumes, volumeMounts, ports, schedulingGates, conditions by type,
ownerReferences by uid, finalizers as a set) and honours `$patch: delete|replace` directives;
other `$`-directives (`$setElementOrder/...`, `$retainKeys`) are dropped. Every function returns
a new document and never mutates its inputs' shared parts in place (callers pass fresh copies).
Errors raise `ApiError` (422 for a failing JSON-patch `test`, 400 for malformed patches).
"""

from __future__ import annotations

import copy
from typing import Any

from sandbox.errors import ApiError, bad_request, unsupported_media_type

__all__ = [
    "apply_json_patch",
    "apply_merge_patch",
    "apply_patch",
    "apply_strategic_merge_patch",
    "merge_key_for",
]


def apply_merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: maps merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch) if isinstance(patch, list) else patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = apply_merge_patch(result.get(key), value)
    return result


def _unapplied(message: str) -> ApiError:
    """422: the JSON patch does not apply to the document."""
    return ApiError(422, "Invalid", message)


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise bad_request(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc: Any, parts: list[str], path: str) -> Any:
    cur = doc
    for part in parts:
        if isinstance(cur, dict):
            if part not in cur:
                raise _unapplied(f"jsonpatch: path {path!r} not found (missing key {part!r})")
            cur = cur[part]
        elif isinstance(cur, list):
            try:
                cur = cur[int(part)]
            except (ValueError, IndexError):
                raise _unapplied(f"jsonpatch: invalid index {part!r} in {path!r}") from None
        else:
            raise _unapplied(f"jsonpatch: path {path!r} not found")
    return cur


def _add(doc: Any, path: str, value: Any) -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    parent = _walk(doc, parts[:-1], path)
    last = parts[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-":
            parent.append(value)
        else:
            idx = int(last)
            if idx > len(parent):
                raise _unapplied(f"jsonpatch: index {idx} out of range in {path!r}")
            parent.insert(idx, value)
    else:
        raise _unapplied(f"jsonpatch: cannot add at {path!r}")
    return doc


def _remove(doc: Any, path: str) -> tuple[Any, Any]:
    parts = _pointer(path)
    if not parts:
        raise bad_request("jsonpatch: cannot remove the whole document")
    parent = _walk(doc, parts[:-1], path)
    last = parts[-1]
    try:
        if isinstance(parent, dict):
            return doc, parent.pop(last)
        if isinstance(parent, list):
            return doc, parent.pop(int(last))
    except (KeyError, ValueError, IndexError):
        pass
    raise _unapplied(f"jsonpatch remove operation does not apply: doc is missing path: {path}")


def apply_json_patch(doc: Any, ops: Any) -> Any:
    """RFC 6902 on a fresh copy of `doc`; `test` failures answer 422 like the real server."""
    if not isinstance(ops, list):
        raise bad_request("json patch must be a list of operations")
    doc = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op:
            raise bad_request(f"invalid json patch operation {op!r}")
        kind, path = op["op"], op.get("path", "")
        match kind:
            case "add":
                doc = _add(doc, path, copy.deepcopy(op.get("value")))
            case "remove":
                doc, _ = _remove(doc, path)
            case "replace":
                parts = _pointer(path)
                if not parts:
                    doc = copy.deepcopy(op.get("value"))
                    continue
                _walk(doc, parts, path)
                parent = _walk(doc, parts[:-1], path)
                if isinstance(parent, list):
                    parent[int(parts[-1])] = copy.deepcopy(op.get("value"))
                else:
                    parent[parts[-1]] = copy.deepcopy(op.get("value"))
            case "move":
                doc, value = _remove(doc, op["from"])
                doc = _add(doc, path, value)
            case "copy":
                value = copy.deepcopy(_walk(doc, _pointer(op["from"]), op["from"]))
                doc = _add(doc, path, value)
            case "test":
                actual = _walk(doc, _pointer(path), path)
                if actual != op.get("value"):
                    raise _unapplied(
                        f"the server rejected our request due to an error in our request: testing value {path} failed",
                    )
            case _:
                raise bad_request(f"unknown json patch operation {kind!r}")
    return doc


# Keyed lists of the built-in kinds: field name -> merge key. `ports` depends on the parent.
_MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "schedulingGates": "name",
    "conditions": "type",
    "ownerReferences": "uid",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "readinessGates": "conditionType",
    "topologySpreadConstraints": "topologyKey",
    "webhooks": "name",
    "subsets": "",
}
_SET_LISTS = {"finalizers"}


def merge_key_for(field: str, parent_is_container: bool) -> str | None:
    """The merge key of a keyed list field, or None for atomic lists."""
    if field == "ports":
        return "containerPort" if parent_is_container else "port"
    return _MERGE_KEYS.get(field) or None


def _strip_directives(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_directives(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [_strip_directives(v) for v in value]
    return value


def _merge_list(field: str, current: Any, patch: list[Any], in_container: bool) -> list[Any]:
    key = merge_key_for(field, in_container)
    if field in _SET_LISTS and isinstance(current, list):
        merged = list(current)
        for item in patch:
            if item not in merged:
                merged.append(item)
        return merged
    if key is None or not isinstance(current, list):
        return [
            _strip_directives(i)
            for i in patch
            if not (isinstance(i, dict) and i.get("$patch") == "delete")
        ]
    if any(isinstance(i, dict) and i.get("$patch") == "replace" for i in patch):
        return [_strip_directives(i) for i in patch if not (isinstance(i, dict) and "$patch" in i)]
    merged = [copy.deepcopy(i) for i in current]
    for item in patch:
        if not isinstance(item, dict) or key not in item:
            merged.append(_strip_directives(item))
            continue
        idx = next(
            (
                n
                for n, cur in enumerate(merged)
                if isinstance(cur, dict) and cur.get(key) == item[key]
            ),
            None,
        )
        if item.get("$patch") == "delete":
            if idx is not None:
                merged.pop(idx)
            continue
        child_container = field in ("containers", "initContainers", "ephemeralContainers")
        if idx is None:
            merged.append(_strip_directives(item))
        else:
            merged[idx] = _strategic(merged[idx], item, child_container)
    return merged


def _strategic(target: Any, patch: Any, in_container: bool = False) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return _strip_directives({k: v for k, v in patch.items() if k != "$patch"})
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            if key.startswith("$deleteFromPrimitiveList/"):
                field = key.split("/", 1)[1]
                if isinstance(result.get(field), list):
                    result[field] = [v for v in result[field] if v not in value]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list):
            result[key] = _merge_list(key, result.get(key), value, in_container)
        elif isinstance(value, dict):
            if value.get("$patch") == "delete":
                result.pop(key, None)
            else:
                result[key] = _strategic(result.get(key), value, False)
        else:
            result[key] = value
    return result


def apply_strategic_merge_patch(target: Any, patch: Any) -> Any:
    """Strategic merge patch for built-in kinds (see module docstring for the keyed lists)."""
    if not isinstance(patch, dict):
        raise bad_request("strategic merge patch must be a JSON object")
    return _strategic(target, patch)


def apply_patch(
    content_type: str, doc: dict[str, Any], patch: Any, strategic: bool
) -> dict[str, Any]:
    """Apply a patch by its media type; 415 for a type the resource does not take.

    `strategic` says whether strategic merge patches are accepted (built-in kinds only).
    Server-side apply bodies are handled elsewhere; here they are refused like unknown types.
    """
    ctype = content_type.split(";")[0].strip()
    if ctype == "application/json-patch+json":
        new = apply_json_patch(doc, patch)
    elif ctype == "application/merge-patch+json":
        if not isinstance(patch, dict):
            raise bad_request("merge patch must be a JSON object")
        new = apply_merge_patch(doc, patch)
    elif ctype == "application/strategic-merge-patch+json" and strategic:
        new = apply_strategic_merge_patch(doc, patch)
    else:
        raise unsupported_media_type(ctype)
    if not isinstance(new, dict):
        raise bad_request("patch result is not an object")
    return new
