"""Cache transforms: what an informer keeps of each object (client-go's ``SetTransform``).

Role: an informer may be given a ``Transform``, applied to every listed or watched object
before it is cached and before handlers see it (controller-runtime's
``TransformStripManagedFields`` and ``cache.Options.ByObject``). ``strip_managed_fields``
drops ``metadata.managedFields`` (often most of an object's bytes, never read by a
controller); ``slim`` builds a transform that keeps the whole metadata (minus managedFields)
and only the named ``spec``/``status`` fields, and for lists of dicts (containers) only the
named keys of each item (nested: a dict or list-of-dicts field keeps the named sub-fields).
``interned`` wraps a transform so that the short strings of the cached object are
``sys.intern``-ed: the status words, condition texts, names, uids and timestamps repeated
within an object and across thousands of them are then held once. With a ``Shared`` table it
also holds equal parts once across objects: every empty list and dict is one object, and equal
``conditions`` items (the five conditions of thousands of versions differ only by the second
of their lastTransitionTime) are one dict (a bounded table of the recent ones). This relies on
the informer's invariant that cached objects are never mutated (readers copy before editing).
``strip_managed_fields`` and ``slim`` return a new dict and never mutate their input;
``interned`` rewrites values in place (its input is the freshly decoded object the informer
alone holds). A field that is absent stays absent, so readers' ``.get`` defaults behave as before.
Must not: drop anything a reader of that cache uses: the caller names what it keeps.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["Shared", "Transform", "interned", "slim", "strip_managed_fields"]

Body = dict[str, Any]
Transform = Callable[[Body], Body]

# A field spec: a key kept whole, or (key, sub-fields) for a dict or a list of dicts of which
# only those sub-fields are kept (e.g. ("containers", ("name", "image", "env"))).
Field = str | tuple[str, tuple["Field", ...]]
_INTERN_MAX = 48  # longer: traceparents, messages, scripts: rarely repeated
_UNIQUE = "resourceVersion"  # one per object version: interning it would only grow the table


def strip_managed_fields(obj: Body) -> Body:
    """``obj`` without ``metadata.managedFields`` (the same object when it has none)."""
    meta = obj.get("metadata")
    if not isinstance(meta, Mapping) or "managedFields" not in meta:
        return obj
    out = dict(obj)
    out["metadata"] = {k: v for k, v in meta.items() if k != "managedFields"}
    return out


def _pick(section: Any, fields: tuple[Field, ...]) -> Body | None:
    if not isinstance(section, Mapping):
        return None
    out: Body = {}
    for field in fields:
        if isinstance(field, str):
            if field in section:
                out[field] = section[field]
            continue
        name, sub = field
        value = section.get(name)
        if isinstance(value, list):
            out[name] = [_pick(item, sub) if isinstance(item, Mapping) else item for item in value]
        elif isinstance(value, Mapping):
            out[name] = _pick(value, sub)
    return out


class Shared:
    """Parts equal across cached objects, held once: empty lists and dicts, condition items.

    ``condition(item)`` returns the table's equal dict (else keeps ``item``); the table keeps
    the ``limit`` most recently added items (conditions of finished flows repeat for long).
    """

    def __init__(self, limit: int = 1024) -> None:
        self.empty_list: list[Any] = []
        self.empty_dict: Body = {}
        self._limit = limit
        self._items: dict[tuple[object, ...], Body] = {}

    def condition(self, item: Body) -> Body:
        key: list[object] = []
        for name, value in item.items():  # typed: 1, 1.0 and True are equal in Python
            kind = type(value)
            if kind is str or value is None:
                key += (name, value)
            elif kind is int or kind is bool or kind is float:
                key += (name, kind, value)
            else:
                return item  # not flat: kept as it is
        found = self._items.setdefault(tuple(key), item)
        if found is item and len(self._items) > self._limit:
            del self._items[next(iter(self._items))]
        return found


def _interned(value: Any, shared: Shared | None) -> Any:
    """``value`` (a dict or a list) with its short strings interned, in place, at any depth;
    with ``shared``, empty containers and condition items replaced by the shared ones."""
    pairs = value.items() if type(value) is dict else enumerate(value)
    for key, item in pairs:  # replacing a value (not a key) keeps the iteration valid
        kind = type(item)
        if kind is str:
            if len(item) <= _INTERN_MAX and key != _UNIQUE:
                value[key] = sys.intern(item)
        elif kind is dict or kind is list:
            if shared is not None and not item:
                value[key] = shared.empty_list if kind is list else shared.empty_dict
                continue
            _interned(item, shared)
            if shared is not None and key == "conditions" and kind is list:
                item[:] = [shared.condition(c) if type(c) is dict else c for c in item]
    return value


def interned(transform: Transform, shared: Shared | None = None) -> Transform:
    """``transform``, then the short strings of its result interned (see the module doc)."""

    def intern_strings(obj: Body) -> Body:
        out = transform(obj)
        return _interned(out, shared)  # type: ignore[no-any-return]

    return intern_strings


def slim(
    *, spec: tuple[Field, ...] = (), status: tuple[Field, ...] = (), top: tuple[str, ...] = ()
) -> Transform:
    """A transform keeping apiVersion, kind, metadata (no managedFields), the named ``top``
    level keys and only the named fields of ``spec`` and ``status``."""

    def transform(obj: Body) -> Body:
        out: Body = {k: obj[k] for k in ("apiVersion", "kind", *top) if k in obj}
        meta = obj.get("metadata")
        if isinstance(meta, Mapping):
            out["metadata"] = (
                {k: v for k, v in meta.items() if k != "managedFields"}
                if "managedFields" in meta
                else meta
            )
        for key, fields in (("spec", spec), ("status", status)):
            picked = _pick(obj.get(key), fields) if fields else None
            if picked is not None:
                out[key] = picked
        return out

    return transform
