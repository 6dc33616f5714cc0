"""Cache transforms: what an informer keeps of each object (client-go's ``SetTransform``).

Role: an informer may be given a ``Transform``, applied to every listed or watched object
before it is cached and before handlers see it (controller-runtime's
``TransformStripManagedFields`` and ``cache.Options.ByObject``). ``strip_managed_fields``
drops ``metadata.managedFields`` (often most of an object's bytes, never read by a
controller); ``slim`` builds a transform that keeps the whole metadata (minus managedFields)
and only the named ``spec``/``status`` fields, and for lists of dicts (containers) only the
named keys of each item. Transforms return a new dict and never mutate their input; a field
that is absent stays absent, so readers' ``.get`` defaults behave as before.
Must not: drop anything a reader of that cache uses: the caller names what it keeps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["Transform", "slim", "strip_managed_fields"]

Body = dict[str, Any]
Transform = Callable[[Body], Body]

# A field spec: a top-level key of spec/status, or (key, item keys) for a list of dicts of
# which only those keys are kept (e.g. ("containers", ("name", "image", "env"))).
Field = str | tuple[str, tuple[str, ...]]


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
        name, keys = field
        items = section.get(name)
        if isinstance(items, list):
            out[name] = [
                {k: item[k] for k in keys if k in item} if isinstance(item, Mapping) else item
                for item in items
            ]
    return out


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
