"""Structural-schema handling of custom resources: pruning, defaulting and validation.

Follows apiextensions-apiserver: unknown fields are pruned (unless
`x-kubernetes-preserve-unknown-fields`), nulls of non-nullable fields are dropped, `default`s
are filled in, then the object is validated. Causes are reported as the real server words them,
e.g. `spec.retries: Invalid value: "x": spec.retries in body must be of type integer: "x"`.
Works in place on a fresh object owned by the caller; no I/O. CEL rules are not evaluated.
"""

from __future__ import annotations

import copy
import json
import operator
import re
from typing import Any

__all__ = ["Cause", "prune_and_default", "validate"]

Cause = tuple[str, str, str]
"""(field path, reason type, message) like a field.Error."""

_META_KEYS = {"apiVersion", "kind", "metadata"}


def _show(value: Any) -> str:
    if isinstance(value, str | int | float | bool) or value is None:
        return json.dumps(value)
    return "object" if isinstance(value, dict) else "array"


def prune_and_default(schema: dict[str, Any] | None, obj: dict[str, Any]) -> list[str]:
    """Prune unknown fields and apply defaults in place; returns the pruned field paths."""
    pruned: list[str] = []
    if not schema:
        return pruned
    props = schema.get("properties") or {}
    for key in list(obj):
        if key in _META_KEYS:
            continue
        if key in props:
            obj[key] = _walk(props[key], obj[key], key, pruned)
            if obj[key] is _DROP:
                del obj[key]
        elif not schema.get("x-kubernetes-preserve-unknown-fields"):
            pruned.append(key)
            del obj[key]
    for key, sub in props.items():
        if key not in obj and key not in _META_KEYS and "default" in sub:
            obj[key] = copy.deepcopy(sub["default"])
            obj[key] = _walk(sub, obj[key], key, pruned)
    return pruned


class _Drop:
    pass


_DROP: Any = _Drop()


def _walk(schema: dict[str, Any], value: Any, path: str, pruned: list[str]) -> Any:
    if value is None:
        return value if schema.get("nullable") else _DROP
    if isinstance(value, dict):
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        if props is not None:
            for key in list(value):
                if key in props:
                    value[key] = _walk(props[key], value[key], f"{path}.{key}", pruned)
                    if value[key] is _DROP:
                        del value[key]
                elif schema.get("x-kubernetes-embedded-resource") and key in _META_KEYS:
                    continue
                elif not schema.get("x-kubernetes-preserve-unknown-fields"):
                    pruned.append(f"{path}.{key}")
                    del value[key]
            for key, sub in props.items():
                if key not in value and "default" in sub:
                    value[key] = _walk(sub, copy.deepcopy(sub["default"]), f"{path}.{key}", pruned)
        elif isinstance(extra, dict):
            for key in list(value):
                value[key] = _walk(extra, value[key], f"{path}.{key}", pruned)
                if value[key] is _DROP:
                    del value[key]
        elif (
            not schema.get("x-kubernetes-preserve-unknown-fields")
            and schema.get("type") == "object"
            and extra is not True
        ):
            for key in list(value):
                pruned.append(f"{path}.{key}")
                del value[key]
    elif isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, dict):
            for i, item in enumerate(value):
                value[i] = _walk(items, item, f"{path}[{i}]", pruned)
            value[:] = [v for v in value if v is not _DROP]
    return value


_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}


def _type_ok(kind: str, value: Any) -> bool:
    if kind in ("integer", "number") and isinstance(value, bool):
        return False
    if kind == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _TYPES.get(kind, (object,)))


def validate(schema: dict[str, Any] | None, obj: dict[str, Any], only: str = "") -> list[Cause]:
    """Validate a pruned, defaulted object against its schema (metadata is not checked); with
    `only`, that top-level field alone."""
    causes: list[Cause] = []
    if not schema:
        return causes
    props = schema.get("properties") or {}
    for key in schema.get("required") or []:
        if key not in obj and key not in _META_KEYS:
            causes.append((key, "FieldValueRequired", "Required value"))
    for key, value in obj.items():
        if key in props and key not in _META_KEYS and only in ("", key):
            _check(props[key], value, key, causes)
    return causes


_RANGE = (
    ("minimum", "exclusiveMinimum", operator.lt, "greater than or equal to"),
    ("maximum", "exclusiveMaximum", operator.gt, "less than or equal to"),
)
"""Numeric bounds: (keyword, its exclusive flag, out of range when, the message's words)."""

_SIZES: tuple[tuple[str, type[str | list[Any] | dict[str, Any]], bool, str, str], ...] = (
    ("maxLength", str, True, "FieldValueTooLong", "Too long: may not be more than {limit} bytes"),
    (
        "minLength",
        str,
        False,
        "FieldValueInvalid",
        "Invalid value: {shown}: {path} in body should be at least {limit} chars long",
    ),
    (
        "maxItems",
        list,
        True,
        "FieldValueTooMany",
        "Too many: {size}: must have at most {limit} items",
    ),
    (
        "minItems",
        list,
        False,
        "FieldValueInvalid",
        "Invalid value: {size}: {path} in body should have at least {limit} items",
    ),
    (
        "maxProperties",
        dict,
        True,
        "FieldValueTooMany",
        "Too many: {size}: must have at most {limit} items",
    ),
)
"""Size bounds: (keyword, the JSON type it applies to, a maximum?, reason, message), worded
as the real server words them."""


def _sizes(schema: dict[str, Any], value: Any, path: str, causes: list[Cause]) -> None:
    for key, kind, maximum, reason, text in _SIZES:
        if key in schema and isinstance(value, kind):
            size, limit = len(value), schema[key]
            if size > limit if maximum else size < limit:
                shown = _show(value) if kind is str else ""
                message = text.format(limit=limit, size=size, path=path, shown=shown)
                causes.append((path, reason, message))


def _invalid(path: str, shown: str) -> Cause:
    return (path, "FieldValueInvalid", f"Invalid value: {shown}")


def _check(schema: dict[str, Any], value: Any, path: str, causes: list[Cause]) -> None:
    if value is None:
        if not schema.get("nullable"):
            kind = schema.get("type", "object")
            causes.append(_invalid(path, f'"null": {path} in body must be of type {kind}: "null"'))
        return
    kind = schema.get("type")
    if schema.get("x-kubernetes-int-or-string"):
        if not (isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))):
            shown = _show(value)
            causes.append(
                _invalid(path, f"{shown}: {path} in body must be of type integer,string: {shown}")
            )
        return
    if kind and not _type_ok(kind, value):
        shown = _show(value)
        why = f"Invalid value: {shown}: {path} in body must be of type {kind}: {shown}"
        causes.append((path, "FieldValueTypeInvalid", why))
        return
    if "enum" in schema and value not in schema["enum"]:
        supported = ", ".join(json.dumps(v) for v in schema["enum"])
        why = f"Unsupported value: {_show(value)}: supported values: {supported}"
        causes.append((path, "FieldValueNotSupported", why))
    if isinstance(value, int | float) and not isinstance(value, bool):
        for key, exclusive, beyond, words in _RANGE:
            if key in schema:
                limit = schema[key]
                if beyond(value, limit) or (schema.get(exclusive) is True and value == limit):
                    shown = f"{_show(value)}: {path} in body should be {words} {limit}"
                    causes.append(_invalid(path, shown))
    if isinstance(value, str):
        _sizes(schema, value, path, causes)
        if "pattern" in schema and not re.search(schema["pattern"], value):
            shown = f"{_show(value)}: {path} in body should match '{schema['pattern']}'"
            causes.append(_invalid(path, shown))
    if isinstance(value, list):
        _sizes(schema, value, path, causes)
        items = schema.get("items")
        if isinstance(items, dict):
            for i, item in enumerate(value):
                _check(items, item, f"{path}[{i}]", causes)
    if isinstance(value, dict):
        for key in schema.get("required") or []:
            if key not in value:
                causes.append((f"{path}.{key}", "FieldValueRequired", "Required value"))
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if key in props:
                _check(props[key], item, f"{path}.{key}", causes)
            elif isinstance(extra, dict):
                _check(extra, item, f"{path}.{key}", causes)
        _sizes(schema, value, path, causes)
    for sub in schema.get("allOf") or []:
        _check(sub, value, path, causes)
    if schema.get("anyOf") and all(_errors(sub, value, path) for sub in schema["anyOf"]):
        shown = f"{_show(value)}: {path} in body must match at least one schema in anyOf"
        causes.append(_invalid(path, shown))
    if schema.get("oneOf"):
        ok = sum(1 for sub in schema["oneOf"] if not _errors(sub, value, path))
        if ok != 1:
            shown = f"{_show(value)}: {path} in body must validate one and only one schema (oneOf)"
            causes.append(_invalid(path, shown))


def _errors(schema: dict[str, Any], value: Any, path: str) -> list[Cause]:
    out: list[Cause] = []
    _check(schema, value, path, out)
    return out
