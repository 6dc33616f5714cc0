"""What the operator's caches keep of the kinds it does not own (pods, their owners).

Role: `CACHE_TRANSFORMS` gives the informer of each kind a `lifecycle.kube.transforms` transform;
every other kind is cached whole minus managedFields. The pod cache is the largest (every pod of
the cluster, since the adoption controller must see pods the webhook never saw: no selector can
narrow it), so it keeps only what its readers use:
- gate.py: metadata (ownerReferences, annotations, namespace), spec.schedulingGates;
- adopt.py and the pod webhook's `plan_pod`/`pod_parent` on a cached pod: metadata (labels,
  annotations, ownerReferences, deletionTimestamp), spec.containers' name, image and env (the
  version fallback hashes them), spec.schedulingGates.
ReplicaSets, StatefulSets and DaemonSets are read by `pod_parent` (metadata only), by the
WorkloadVersion's deployment check (`workloadversion.rollout_for`: spec.replicas and status) and
by the pod webhook's owner confirmation (`admission.owner`: the pod template's metadata and
the fields the webhook reads of a pod, as above: the only view of a pod it trusts), so they
keep spec.replicas, status and of spec.template its metadata and spec.containers' name, image
and env and spec.schedulingGates (their selector and the rest of spec are dropped).
Every cache interns its short strings (`transforms.interned`): thousands of
WorkloadVersions repeat the same status words, condition texts, names and timestamps.
Must not: drop a field one of those readers uses; add the reader here when one appears.
"""

from __future__ import annotations

from collections.abc import Mapping

from lifecycle.core import model
from lifecycle.core.model import ResourceKind
from lifecycle.kube.transforms import Transform, interned, slim, strip_managed_fields

__all__ = ["CACHE_TRANSFORMS", "cache_transform"]

_POD_SPEC = (("containers", ("name", "image", "env")), "schedulingGates")
_ROLLOUT = slim(spec=("replicas", ("template", ("metadata", ("spec", _POD_SPEC)))), top=("status",))

CACHE_TRANSFORMS: Mapping[ResourceKind, Transform] = {
    model.POD: slim(spec=_POD_SPEC),
    model.REPLICA_SET: _ROLLOUT,
    model.STATEFUL_SET: _ROLLOUT,
    model.DAEMON_SET: _ROLLOUT,
}
"""Transform per kind; kinds not named keep everything but managedFields."""


def cache_transform(kind: ResourceKind) -> Transform:
    """The transform of ``kind``'s informer."""
    return interned(CACHE_TRANSFORMS.get(kind, strip_managed_fields))
