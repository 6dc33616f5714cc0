"""KeptnAppVersion controller: a thin reconcile around `machine.decide` for app versions.

Role: read the AppVersion, its KeptnTasks/KeptnEvaluations (owner index), the WorkloadVersions
of its app (app index, same namespace) and which definitions are missing, all from the caches;
decide; hand the Decision to the shared FlowExecutor (flow/executor.py), paced by
flow/pacing.py (WorkloadVersion states written into the items at most every few seconds, no
warning for a WorkloadVersion the cache does not hold yet).

Wake-ups (no polling): the AppVersion itself; its tasks and evaluations (owner); every
WorkloadVersion of its app appearing, going or changing state (AppDeploy waits on them); a
task/evaluation definition appearing (a phase may be waiting for it). A timer only for the
machine's own deadlines and the pacing's.
Must not: write anything but through the executor, or decide on a completed object.
"""

from __future__ import annotations

from lifecycle.core import model
from lifecycle.core.bodies import KeptnAppVersionBody, KeptnWorkloadVersionBody
from lifecycle.core.machine import AppVersionSnapshot
from lifecycle.core.meta import name_of, namespace_of
from lifecycle.flow.context import OperatorContext
from lifecycle.flow.executor import FlowExecutor
from lifecycle.flow.objects import children_of, missing_definitions
from lifecycle.flow.pacing import AppVersionPacing
from lifecycle.flow.wakeups import open_versions, watch_version_and_children
from lifecycle.kube.controller import Controller, ObjectKey, Result

__all__ = ["COMPONENT", "setup"]

COMPONENT = "keptnappversion-controller"


def _state(wv: KeptnWorkloadVersionBody) -> object:
    return wv.get("status", {}).get("status")


def setup(ctx: OperatorContext) -> Controller[ObjectKey]:
    """The KeptnAppVersion controller, wired to its informers (not started)."""
    executor = FlowExecutor(
        ctx, kind=model.KEPTN_APP_VERSION, component=COMPONENT, pacing=AppVersionPacing()
    )
    versions = ctx.cache(model.KEPTN_APP_VERSION)
    workload_versions = ctx.cache(model.KEPTN_WORKLOAD_VERSION)

    def snapshot_of(obj: KeptnAppVersionBody) -> AppVersionSnapshot:
        app = obj.get("spec", {}).get("appName", "")
        return AppVersionSnapshot(
            obj=obj,
            tasks=children_of(ctx, obj, model.KEPTN_TASK),
            evaluations=children_of(ctx, obj, model.KEPTN_EVALUATION),
            workload_versions={
                name_of(wv): wv
                for wv in workload_versions.by_index("app", app)
                if namespace_of(wv) == namespace_of(obj)
            },
            missing_definitions=missing_definitions(ctx, obj),
        )

    async def reconcile(key: ObjectKey) -> Result | None:
        return await executor.reconcile(key, snapshot_of)

    def by_app(
        event: str, wv: KeptnWorkloadVersionBody, old: KeptnWorkloadVersionBody | None
    ) -> list[ObjectKey]:
        if event == "MODIFIED" and old is not None and _state(old) == _state(wv):
            return []  # AppDeploy reads a WorkloadVersion's existence and state, nothing else
        app = wv.get("spec", {}).get("app", "")
        return open_versions(versions, "app", app, namespace_of(wv))

    controller: Controller[ObjectKey] = Controller(
        "keptnappversion", reconcile, ctx.settings.workers
    )
    watch_version_and_children(controller, ctx, model.KEPTN_APP_VERSION)
    ctx.watch(controller, model.KEPTN_WORKLOAD_VERSION, by_app)
    return controller
