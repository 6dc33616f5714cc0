"""What the operator's caches keep of each kind: pods, their owners, completed versions.

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
WorkloadVersions repeat the same status words, condition texts, names and timestamps; and
holds empty containers and equal condition items once (`transforms.Shared`, one per operator).
A completed KeptnAppVersion/KeptnWorkloadVersion (final status.status) is cached without what
no reader of a completed version reads (`DONE_DROPPED`, `done_slim`): the flow executor
decides nothing on it (`flow.executor`: it only sweeps its spans), so nothing merges its
conditions (`core.conditions.with_conditions`) or reads its per-item statuses (the machine, the
AppVersion pacing); its readers read metadata, spec, the status words and times
(`machine.gate_open`, the app gate, `previous_version`, the workload controller, the retry,
telemetry's deployment interval) and the span carriers kept: the root (the next version's root
span links to it), the AppVersion's AppDeploy (a WorkloadVersion passing the app gate parents
its span to it) and every carrier whose span is not marked exported yet (the sweep exports
it, after a restart too: `observability.spanmarks`). A version that is not completed again
(its next watch event) is cached whole again.
Must not: drop a field one of those readers uses; add the reader here when one appears.
"""

from __future__ import annotations

from collections.abc import Mapping

from lifecycle.core import model
from lifecycle.core.machine import ROOT_KEY
from lifecycle.core.model import ResourceKind
from lifecycle.core.phases import Phase, State
from lifecycle.kube.transforms import (
    Body,
    Shared,
    Transform,
    interned,
    slim,
    strip_managed_fields,
)
from lifecycle.observability.spanmarks import EXPORTED

__all__ = ["CACHE_TRANSFORMS", "DONE_DROPPED", "cache_transform", "done_slim"]

_POD_SPEC = (("containers", ("name", "image", "env")), "schedulingGates")
_ROLLOUT = slim(spec=("replicas", ("template", ("metadata", ("spec", _POD_SPEC)))), top=("status",))

DONE_DROPPED = frozenset(
    {
        "conditions",
        "workloadStatus",
        "preDeploymentTaskStatus",
        "preDeploymentEvaluationTaskStatus",
        "postDeploymentTaskStatus",
        "postDeploymentEvaluationTaskStatus",
        "promotionTaskStatus",
    }
)
"""status fields a completed version is cached without (see the module doc)."""


def done_slim(*kept_carriers: str) -> Transform:
    """Managed fields stripped; a completed version's status without `DONE_DROPPED` and
    without the span carriers marked exported, but for ``kept_carriers``."""
    kept = frozenset(kept_carriers)

    def transform(obj: Body) -> Body:
        obj = strip_managed_fields(obj)
        status = obj.get("status")
        if not isinstance(status, Mapping) or not State.parse(status.get("status")).is_completed:
            return obj
        slimmed = {k: v for k, v in status.items() if k not in DONE_DROPPED}
        carriers = status.get("phaseTraceIDs")
        if isinstance(carriers, Mapping):
            slimmed["phaseTraceIDs"] = {
                phase: carrier
                for phase, carrier in carriers.items()
                if phase in kept or not (isinstance(carrier, Mapping) and carrier.get(EXPORTED))
            }
        return {**obj, "status": slimmed}

    return transform


CACHE_TRANSFORMS: Mapping[ResourceKind, Transform] = {
    model.POD: slim(spec=_POD_SPEC),
    model.REPLICA_SET: _ROLLOUT,
    model.STATEFUL_SET: _ROLLOUT,
    model.DAEMON_SET: _ROLLOUT,
    model.KEPTN_WORKLOAD_VERSION: done_slim(ROOT_KEY),
    model.KEPTN_APP_VERSION: done_slim(ROOT_KEY, str(Phase.APP_DEPLOY)),
}
"""Transform per kind; kinds not named keep everything but managedFields."""


def cache_transform(kind: ResourceKind, shared: Shared | None = None) -> Transform:
    """The transform of ``kind``'s informer; ``shared``: the operator's table of shared parts."""
    return interned(CACHE_TRANSFORMS.get(kind, strip_managed_fields), shared)
