"""Argo Rollouts: a Rollout-owned workload is judged by the Rollout's health, as KLT does.

Role: pods of an Argo Rollout are owned by a ReplicaSet that the Rollout owns; the webhook
points the KeptnWorkload at that ReplicaSet (KLT §8.3). KLT's WorkloadDeploy then checks the
*Rollout*: deployed when `status.phase == Healthy` and `status.replicas ==
status.updatedReplicas` (a ReplicaSet of a canary can be fully available long before the
Rollout is). `rollout_health` reduces that to the machine's `Rollout(desired, available)`;
`rollout_wakeups` maps a Rollout's change to the open WorkloadVersions of its ReplicaSets.

The Rollout informer is optional: `rollouts_served` probes once at start whether the API
server serves argoproj.io/v1alpha1 rollouts to us (Argo installed, RBAC granted); without it
Rollout-owned ReplicaSets are judged by their own replica counts, as before. A CRD installed
after the operator started is seen after its next restart.
Must not: write Rollouts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from lifecycle.core import model
from lifecycle.core.bodies import KubeBody
from lifecycle.core.machine_steps import Rollout
from lifecycle.core.meta import namespace_of, owner_references_of, uid_of
from lifecycle.flow.context import OperatorContext
from lifecycle.flow.wakeups import open_versions
from lifecycle.kube.client import KubeClient
from lifecycle.kube.controller import ObjectKey
from lifecycle.kube.errors import KubeError

__all__ = ["argo_rollout_of", "rollout_health", "rollout_wakeups", "rollouts_served"]

log = logging.getLogger(__name__)


async def rollouts_served(client: KubeClient, namespace: str | None) -> bool:
    """True when Argo Rollouts can be listed (and so watched) with our credentials."""
    try:
        await client.list(model.ARGO_ROLLOUT, namespace, limit=100)
    except KubeError as exc:
        log.info("Argo Rollouts not watched (%s): Rollout-owned ReplicaSets judged alone", exc)
        return False
    return True


def argo_rollout_of(ctx: OperatorContext, replica_set: KubeBody) -> KubeBody | None:
    """The Argo Rollout controlling this ReplicaSet, when Rollouts are watched and it is cached."""
    if model.ARGO_ROLLOUT not in ctx.informers:
        return None
    rollouts = ctx.cache(model.ARGO_ROLLOUT)
    for ref in owner_references_of(replica_set):
        if ref.get("kind") == "Rollout" and ref.get("controller"):
            rollout = rollouts.get(namespace_of(replica_set), ref.get("name", ""))
            if rollout is not None and uid_of(rollout) == ref.get("uid"):
                return rollout
    return None


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def rollout_health(rollout: KubeBody) -> Rollout:
    """KLT's check as two numbers: ready only when Healthy and every replica is updated."""
    spec, status = rollout.get("spec") or {}, rollout.get("status") or {}
    desired = spec.get("replicas")
    desired = desired if isinstance(desired, int) else 1
    replicas, updated = _int(status.get("replicas")), _int(status.get("updatedReplicas"))
    if status.get("phase") == "Healthy" and replicas == updated:
        return Rollout(desired, desired)
    return Rollout(desired, min(_int(status.get("availableReplicas")), max(desired - 1, 0)))


def rollout_wakeups(
    ctx: OperatorContext,
) -> Callable[[str, Mapping[str, object], object], list[ObjectKey]]:
    """Mapper: a Rollout's change wakes the open WorkloadVersions of its ReplicaSets."""
    replica_sets = ctx.informer(model.REPLICA_SET).store
    versions = ctx.cache(model.KEPTN_WORKLOAD_VERSION)

    def mapper(event: str, rollout: Mapping[str, object], old: object) -> list[ObjectKey]:
        keys: list[ObjectKey] = []
        for rs in replica_sets.by_index("owner", uid_of(rollout)):
            keys += open_versions(versions, "resourceReference", uid_of(rs), namespace_of(rollout))
        return keys

    return mapper
