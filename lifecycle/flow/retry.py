"""A KeptnApp revision bump retries the failed WorkloadVersions of that app version.

Role: KLT's documented way to retry a failed deployment is to bump `KeptnApp.spec.revision`.
A new AppVersion alone cannot retry a failed *workload* check: the WorkloadVersion
`<app>-<workload>-<version>` keeps its Failed state, so the new AppVersion would fail at
AppDeploy at once and the pods would stay gated. So, just before the KeptnApp controller
creates the AppVersion of a new generation (> 1), each WorkloadVersion the app lists that
ended Failed is deleted (after a Normal `RetryWorkloadVersion` Event on the app naming it);
the KeptnWorkload controller, woken by the deletion, creates it again under the same
deterministic name with a new uid, so its tasks and evaluations (named from the parent's uid)
are new objects that really run again, and its pods are released when its pre-deployment
checks pass. The failed run's tasks and evaluations are garbage-collected with it; its Events
and spans stay.

Restart safety: this runs only while the new generation's AppVersion does not exist yet, and
only on Failed WorkloadVersions; a replay after a crash finds the re-created WorkloadVersion
Pending (not retried again) or the AppVersion already there (nothing done).
Must not: touch WorkloadVersions that succeeded, are running, or belong to other apps.
"""

from __future__ import annotations

import contextlib

from lifecycle.core import model
from lifecycle.core.actions import EmitEvent, EventType
from lifecycle.core.bodies import KeptnAppBody, KeptnWorkloadVersionBody
from lifecycle.core.meta import metadata_of, name_of, namespace_of, uid_of
from lifecycle.core.naming import workload_name, workload_version_name
from lifecycle.core.phases import Phase, State
from lifecycle.flow.context import OperatorContext
from lifecycle.flow.objects import emit
from lifecycle.kube.errors import Conflict, NotFound

__all__ = ["RETRY_REASON", "retry_failed_workloads"]

RETRY_REASON = "RetryWorkloadVersion"


def failed_workload_versions(
    ctx: OperatorContext, app: KeptnAppBody
) -> list[KeptnWorkloadVersionBody]:
    """The app's listed WorkloadVersions (same namespace) whose status is Failed."""
    spec = app.get("spec", {})
    namespace, name = namespace_of(app), name_of(app)
    store = ctx.cache(model.KEPTN_WORKLOAD_VERSION)
    found = []
    for ref in spec.get("workloads") or ():
        wv_name = workload_version_name(
            workload_name(name, str(ref.get("name", ""))), str(ref.get("version", ""))
        )
        wv = store.get(namespace, wv_name)
        if wv is not None and State.parse(wv.get("status", {}).get("status")) is State.FAILED:
            found.append(wv)
    return found


async def retry_failed_workloads(
    ctx: OperatorContext, component: str, app: KeptnAppBody
) -> list[str]:
    """Delete the app's Failed WorkloadVersions so they run again; their names."""
    meta = metadata_of(app)
    namespace = meta.get("namespace", "")
    revision = app.get("spec", {}).get("revision", 1)
    names = []
    for wv in failed_workload_versions(ctx, app):
        name = name_of(wv)
        event = EmitEvent(
            RETRY_REASON,
            EventType.NORMAL,
            Phase.CREATE_WORKLOAD_VERSION,
            f"retrying failed KeptnWorkloadVersion {name} for revision {revision}",
            f"{RETRY_REASON}/{name}/{meta.get('generation', 1)}",
        )
        emit(ctx, component, app, event)
        with contextlib.suppress(NotFound, Conflict):  # gone, or already re-created
            await ctx.client.delete(model.KEPTN_WORKLOAD_VERSION, name, namespace, uid=uid_of(wv))
        names.append(name)
    return names
