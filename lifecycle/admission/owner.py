"""Owner confirmation for the pod webhook: the API server's view, never the review body's.

Role: anyone who can reach the webhook port can POST an AdmissionReview, so nothing in its pod is
trusted for the KeptnWorkload. ``confirm_owner`` reads the pod's supported owner (ReplicaSet,
StatefulSet, DaemonSet, or a Deployment/Rollout named directly) from the cluster; the owner must
exist with the uid the pod names, and the keys and containers the plan uses come from the owner's
pod template (for a ReplicaSet, its Deployment/Rollout is read and uid-checked the same way when
the template carries no workload key). A pod whose owner cannot be confirmed raises
``Unconfirmed``: the mutator then changes nothing and logs it. A forged review can therefore only
restate what the real owner's template already says.

Reads go through the mutator's ``AdmissionStore``; a cache answer that does not match (a missing
object or another uid, e.g. an informer lagging behind a re-created ReplicaSet) is re-read from the
API server before the review is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from lifecycle.admission.pod import OWNER_KINDS, Owner, needs_parent, released, supported_owner
from lifecycle.core.bodies import KubeBody
from lifecycle.core.kubebodies import PodBody, PodSpec, PodTemplateSpec
from lifecycle.core.meta import metadata_of, uid_of

if TYPE_CHECKING:
    from lifecycle.admission.webhook import AdmissionStore

__all__ = ["Confirmed", "Unconfirmed", "confirm_owner"]


class Unconfirmed(Exception):
    """The pod's owner is not in the cluster as the review states it; the message says why."""


@dataclass(frozen=True, slots=True)
class Confirmed:
    """The pod as its confirmed owner's template defines it, and the parent whose keys apply."""

    pod: PodBody
    parent: KubeBody | None


async def _read(store: AdmissionStore, namespace: str, owner: Owner, what: str) -> KubeBody:
    """The owner object; Unconfirmed when it is absent or has another uid (after a fresh read)."""
    kind = OWNER_KINDS[owner.kind]
    found = await store.get(kind, namespace, owner.name)
    if found is None or uid_of(found) != owner.uid:
        found = await store.get(kind, namespace, owner.name, fresh=True)
    if found is None:
        raise Unconfirmed(f"{what} {owner.kind} {namespace}/{owner.name} does not exist")
    uid = uid_of(found)
    if uid != owner.uid:
        raise Unconfirmed(
            f"{what} {owner.kind} {namespace}/{owner.name} has uid {uid}, not {owner.uid}"
        )
    return found


def _template_pod(owner_body: KubeBody, owner: Owner) -> PodBody:
    # spec.template of a ReplicaSet, Deployment, Rollout, StatefulSet or DaemonSet
    template: PodTemplateSpec = (owner_body.get("spec") or {}).get("template") or {}
    meta = template.get("metadata") or {}
    spec: PodSpec = template.get("spec") or {}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "labels": dict(meta.get("labels") or {}),
            "annotations": dict(meta.get("annotations") or {}),
            "ownerReferences": [owner.reference()],
        },
        "spec": spec.copy(),
    }


async def confirm_owner(store: AdmissionStore, pod: PodBody, namespace: str) -> Confirmed | None:
    """The trusted view of ``pod``; None when it has no supported owner or was released.

    Raises Unconfirmed when the owner (or the ReplicaSet's Deployment/Rollout, when its keys are
    needed) is missing or carries another uid.
    """
    owner = supported_owner(metadata_of(pod))
    if owner is None or released(pod):
        return None
    body = await _read(store, namespace, owner, "owner")
    trusted = _template_pod(body, owner)
    if not needs_parent(trusted):
        return Confirmed(trusted, None)
    if owner.kind != "ReplicaSet":
        return Confirmed(trusted, body)
    rs_owner = supported_owner(metadata_of(body))
    if rs_owner is None or rs_owner.kind not in ("Deployment", "Rollout"):
        return Confirmed(trusted, None)  # a bare ReplicaSet is not followed (KLT)
    return Confirmed(trusted, await _read(store, namespace, rs_owner, "parent"))
