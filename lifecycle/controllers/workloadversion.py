"""KeptnWorkloadVersion controller: a thin reconcile around `machine.decide` for workload versions.

Role: read the WorkloadVersion, its KeptnTasks/KeptnEvaluations (owner index), its app version
(the newest non-Deprecated KeptnAppVersion of its app that lists this workload and version) and
its rollout (the referenced ReplicaSet/StatefulSet/DaemonSet; for a ReplicaSet of an Argo
Rollout, the Rollout's health: lifecycle.flow.argo), all from the caches; decide; hand the
Decision to the FlowExecutor. Opening the scheduling gate needs no action here: the gate
controller is woken by the WorkloadVersion's own update and applies `machine.gate_open`.

Wake-ups (no polling): the WorkloadVersion; its tasks and evaluations (owner); the AppVersions of
its app while it waits at the app gate; its ReplicaSet/StatefulSet/DaemonSet (resourceReference
uid index) and that ReplicaSet's Argo Rollout; a task/evaluation definition appearing. A timer
only for the machine's deadlines (observability timeout, definition wait).
Must not: write anything but through the executor, or decide on a completed object.
"""

from __future__ import annotations

from collections.abc import Mapping

from lifecycle.core import model
from lifecycle.core.bodies import KeptnAppVersionBody, KeptnWorkloadVersionBody
from lifecycle.core.machine import Rollout, WorkloadVersionSnapshot
from lifecycle.core.meta import created_key, namespace_of, uid_of
from lifecycle.core.naming import workload_name
from lifecycle.core.phases import State
from lifecycle.flow.argo import argo_rollout_of, rollout_health, rollout_wakeups
from lifecycle.flow.context import OperatorContext
from lifecycle.flow.executor import FlowExecutor
from lifecycle.flow.objects import children_of, missing_definitions
from lifecycle.flow.wakeups import open_versions, watch_version_and_children
from lifecycle.kube.controller import Controller, ObjectKey, Result

__all__ = ["COMPONENT", "app_version_for", "rollout_for", "setup"]

COMPONENT = "keptnworkloadversion-controller"

_ROLLOUT_KINDS = {
    "ReplicaSet": model.REPLICA_SET,
    "StatefulSet": model.STATEFUL_SET,
    "DaemonSet": model.DAEMON_SET,
}


def _int(value: object) -> int:
    return value if isinstance(value, int) else 0


def app_version_for(
    ctx: OperatorContext, wv: KeptnWorkloadVersionBody
) -> KeptnAppVersionBody | None:
    """KLT's app gate lookup: newest non-Deprecated AppVersion of the app listing this workload version."""
    spec = wv.get("spec", {})
    app, version = str(spec.get("app", "")), str(spec.get("version", ""))
    wl_name = str(spec.get("workloadName", ""))
    found = [
        av
        for av in ctx.cache(model.KEPTN_APP_VERSION).by_index("app", app)
        if namespace_of(av) == namespace_of(wv)
        and State.parse(av.get("status", {}).get("status")) is not State.DEPRECATED
        and any(
            workload_name(app, str(ref.get("name", ""))) == wl_name
            and str(ref.get("version", "")) == version
            for ref in av.get("spec", {}).get("workloads") or ()
        )
    ]
    return max(found, key=created_key, default=None)


def rollout_for(ctx: OperatorContext, wv: KeptnWorkloadVersionBody) -> Rollout | None:
    """Desired vs available replicas of the referenced ReplicaSet/StatefulSet/DaemonSet; None if unseen."""
    ref = wv.get("spec", {}).get("resourceReference", {})
    kind = _ROLLOUT_KINDS.get(ref.get("kind", ""))
    if kind is None:
        return None
    obj = ctx.cache(kind).get(namespace_of(wv), ref.get("name", ""))
    if obj is None or (ref.get("uid") and uid_of(obj) != ref["uid"]):
        return None
    argo = argo_rollout_of(ctx, obj) if kind is model.REPLICA_SET else None
    if argo is not None:
        return rollout_health(argo)  # KLT: the Rollout's health, not its ReplicaSet's
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    if kind is model.DAEMON_SET:
        if "desiredNumberScheduled" not in status:
            return None  # the DaemonSet controller has not counted the nodes yet
        return Rollout(_int(status.get("desiredNumberScheduled")), _int(status.get("numberReady")))
    replicas = spec.get("replicas")
    return Rollout(
        replicas if isinstance(replicas, int) else 1, _int(status.get("availableReplicas"))
    )


def setup(ctx: OperatorContext) -> Controller[ObjectKey]:
    """The KeptnWorkloadVersion controller, wired to its informers (not started)."""
    executor = FlowExecutor(ctx, kind=model.KEPTN_WORKLOAD_VERSION, component=COMPONENT)
    versions = ctx.cache(model.KEPTN_WORKLOAD_VERSION)

    def snapshot_of(obj: KeptnWorkloadVersionBody) -> WorkloadVersionSnapshot:
        return WorkloadVersionSnapshot(
            obj=obj,
            tasks=children_of(ctx, obj, model.KEPTN_TASK),
            evaluations=children_of(ctx, obj, model.KEPTN_EVALUATION),
            missing_definitions=missing_definitions(ctx, obj),
            app_version=app_version_for(ctx, obj),
            rollout=rollout_for(ctx, obj),
        )

    async def reconcile(key: ObjectKey) -> Result | None:
        return await executor.reconcile(key, snapshot_of)

    def by_app(event: str, av: KeptnAppVersionBody, old: object) -> list[ObjectKey]:
        # only a version still at the app gate reads its AppVersion (machine._pass_app_gate)
        app = av.get("spec", {}).get("appName", "")
        return [
            key
            for key in open_versions(versions, "app", app, namespace_of(av))
            if not ((versions.get(*key) or {}).get("status") or {}).get("currentPhase")
        ]

    def by_resource(event: str, obj: Mapping[str, object], old: object) -> list[ObjectKey]:
        return open_versions(versions, "resourceReference", uid_of(obj), namespace_of(obj))

    controller: Controller[ObjectKey] = Controller(
        "keptnworkloadversion", reconcile, ctx.settings.workers
    )
    watch_version_and_children(controller, ctx, model.KEPTN_WORKLOAD_VERSION)
    ctx.watch(controller, model.KEPTN_APP_VERSION, by_app)
    for kind in _ROLLOUT_KINDS.values():
        controller.watch(ctx.informer(kind), by_resource)
    if model.ARGO_ROLLOUT in ctx.informers:
        controller.watch(ctx.informer(model.ARGO_ROLLOUT), rollout_wakeups(ctx))
    return controller
