"""Scheduling-gate controller: release a pod's `keptn-prechecks-gate` once its workload may deploy.

Role: for a pod carrying the gate, find the KeptnWorkloadVersions whose
spec.resourceReference.uid is the pod's owner uid (same namespace) and whose spec.version is the
pod's version (a StatefulSet or DaemonSet keeps its uid across versions, so the owner alone would
let a finished old version release a new version's pods); when any of them passes
`machine.gate_open` (its pre-deployment phases passed, whatever happened later: a WorkloadDeploy
timeout or failed post checks), remove the gate and add the
`keptn.sh/scheduling-gate-removed` annotation in one merge-patch. A pod re-created after its
WorkloadVersion completed is released on its first reconcile.

Wake-ups (no polling): the pod's own events while gated; a WorkloadVersion change wakes the gated
pods of its owner through the pod "owner" index. Pods of a failed pre-deployment stay gated
(DESIGN: KLT #3920 releases them). Must not: touch pods without our gate, or other gates.
"""

from __future__ import annotations

import contextlib

from lifecycle.admission.pod import pod_version
from lifecycle.core import model
from lifecycle.core.bodies import KeptnWorkloadVersionBody
from lifecycle.core.kubebodies import PodBody
from lifecycle.core.machine import gate_open
from lifecycle.core.meta import namespace_of, owner_uids
from lifecycle.core.naming import GATE_NAME, GATE_REMOVED_KEY, gated
from lifecycle.flow.context import OperatorContext
from lifecycle.kube.controller import Controller, ObjectKey, Result, key_of
from lifecycle.kube.errors import NotFound

__all__ = ["setup"]


def setup(ctx: OperatorContext) -> Controller[ObjectKey]:
    """The gate controller, wired to the pod and WorkloadVersion informers (not started)."""
    pods = ctx.cache(model.POD)
    versions = ctx.cache(model.KEPTN_WORKLOAD_VERSION)

    async def reconcile(key: ObjectKey) -> Result | None:
        pod = pods.get(key.namespace, key.name)
        if pod is None or not gated(pod):
            return None
        version = pod_version(pod)
        release = any(
            gate_open(wv)
            for uid in owner_uids(pod)
            for wv in versions.by_index("resourceReference", uid)
            if namespace_of(wv) == key.namespace
            and (version is None or wv.get("spec", {}).get("version") == version)
        )
        if not release:
            return None  # the WorkloadVersion's next change wakes this pod
        remaining = [
            g
            for g in (pod.get("spec") or {}).get("schedulingGates") or ()
            if g.get("name") != GATE_NAME
        ]
        patch = {
            "metadata": {"annotations": {GATE_REMOVED_KEY: "true"}},
            "spec": {"schedulingGates": remaining or None},
        }
        with contextlib.suppress(NotFound):
            await ctx.client.patch(model.POD, key.name, patch, key.namespace)
        return None

    def own(event: str, pod: PodBody, old: PodBody | None) -> list[ObjectKey]:
        return [key_of(pod)] if event != "DELETED" and gated(pod) else []

    def by_version(
        event: str, wv: KeptnWorkloadVersionBody, old: KeptnWorkloadVersionBody | None
    ) -> list[ObjectKey]:
        if event == "DELETED" or not gate_open(wv):
            return []
        uid = wv.get("spec", {}).get("resourceReference", {}).get("uid", "")
        return [
            key_of(pod)
            for pod in pods.by_index("owner", uid)
            if namespace_of(pod) == namespace_of(wv) and gated(pod)
        ]

    controller: Controller[ObjectKey] = Controller(
        "schedulinggates", reconcile, ctx.settings.workers
    )
    ctx.watch(controller, model.POD, own)
    ctx.watch(controller, model.KEPTN_WORKLOAD_VERSION, by_version)
    return controller
