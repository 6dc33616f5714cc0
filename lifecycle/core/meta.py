"""The one accessor of object metadata: name, namespace, uid, key, labels, annotations, owners.

Role: every module that reads ``metadata`` of a body (typed, lifecycle.core.bodies, or a raw dict
from the API) reads it here, so a missing or null ``metadata`` is handled once. Spec and status
are read through the typed bodies themselves (``body.get("spec", {}).get("appName", "")``),
which mypy checks key by key.

Invariants: never raises on a malformed body; a missing field reads as ``""`` / empty.

Must not: do I/O or import anything beyond the standard library and lifecycle.core.bodies.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

from lifecycle.core.bodies import ObjectMeta, OwnerReference

__all__ = [
    "annotations_of",
    "created_key",
    "labels_of",
    "metadata_of",
    "name_of",
    "namespace_of",
    "owner_references_of",
    "owner_uids",
    "uid_of",
]


def metadata_of(obj: Mapping[str, object]) -> ObjectMeta:
    """``metadata`` of a body, empty when absent or not a mapping."""
    meta = obj.get("metadata")
    return cast(ObjectMeta, meta) if isinstance(meta, Mapping) else {}


def name_of(obj: Mapping[str, object]) -> str:
    return metadata_of(obj).get("name") or ""


def namespace_of(obj: Mapping[str, object]) -> str:
    return metadata_of(obj).get("namespace") or ""


def uid_of(obj: Mapping[str, object]) -> str:
    return metadata_of(obj).get("uid") or ""


def labels_of(obj: Mapping[str, object]) -> dict[str, str]:
    return metadata_of(obj).get("labels") or {}


def annotations_of(obj: Mapping[str, object]) -> dict[str, str]:
    return metadata_of(obj).get("annotations") or {}


def owner_references_of(obj: Mapping[str, object]) -> list[OwnerReference]:
    return metadata_of(obj).get("ownerReferences") or []


def created_key(obj: Mapping[str, object]) -> tuple[str, str]:
    """Sort key, oldest first: creationTimestamp (RFC 3339 sorts as text), then name."""
    meta = metadata_of(obj)
    return meta.get("creationTimestamp", ""), meta.get("name", "")


def owner_uids(obj: Mapping[str, object]) -> list[str]:
    """The uids of an object's ownerReferences (the cache's "owner" index)."""
    return [str(r.get("uid")) for r in owner_references_of(obj)]
