"""The versions a KeptnApp and a KeptnWorkload make (KLT §2.6): their bodies and the parent's status.

PURE. A KeptnAppVersion is its app's spec + the same-name KeptnAppContext's spec (copied once, at
creation) + appName; a KeptnWorkloadVersion is its workload's spec + workloadName. Both get
previousVersion (the parent's status.currentVersion when it names another version), the parent's
annotations (its trace context) and a controller ownerReference to the parent, whose
status.currentVersion then names the new version.
Must not: do I/O or read the clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from lifecycle.core import bodies as b
from lifecycle.core.conditions import with_conditions
from lifecycle.core.meta import annotations_of, namespace_of
from lifecycle.core.model import ResourceKind, owner_reference

__all__ = ["CONTEXT_FIELDS", "WORKLOAD_FIELDS", "copied", "current_version_status", "version_body"]

Parent = b.KeptnAppBody | b.KeptnWorkloadBody  # what makes versions

CONTEXT_FIELDS = tuple(b.KeptnAppContextSpec.__annotations__)
"""KeptnAppContext spec fields (all of them) copied into a new KeptnAppVersion."""

WORKLOAD_FIELDS = tuple(b.KeptnWorkloadSpec.__annotations__)
"""KeptnWorkload spec fields (all of them): its KeptnWorkloadVersion carries and follows them."""


def copied(spec: Mapping[str, object], fields: tuple[str, ...]) -> dict[str, object]:
    """The ``fields`` that are set in ``spec``."""
    return {f: spec[f] for f in fields if spec.get(f) is not None}


def version_body(
    kind: ResourceKind, parent: Parent, name: str, spec: Mapping[str, object]
) -> dict[str, object]:
    """The version ``name`` of ``parent`` with ``spec`` (which holds its ``version``)."""
    previous = (parent.get("status") or {}).get("currentVersion") or ""
    moved_on = previous and previous != spec.get("version", "")
    return {
        "apiVersion": kind.api_version,
        "kind": kind.kind,
        "metadata": {
            "name": name,
            "namespace": namespace_of(parent),
            "annotations": dict(annotations_of(parent)),
            "ownerReferences": [owner_reference(parent)],
        },
        "spec": {**spec, **({"previousVersion": previous} if moved_on else {})},
    }


def current_version_status(
    kind: ResourceKind, parent: Parent, version: str, now: datetime
) -> dict[str, object] | None:
    """The status patch naming ``version`` the parent's current one; None when nothing changes."""
    fields = with_conditions(kind.kind, parent, {"currentVersion": version}, now)
    if (parent.get("status") or {}).get("currentVersion") == version and "conditions" not in fields:
        return None
    return {"status": fields}
