"""KeptnWorkload controller: one KeptnWorkloadVersion per workload version (KLT §2.6).

Role: for a KeptnWorkload, make sure the WorkloadVersion `<workload>-<version>` exists (its body:
lifecycle.core.versions) and follows the workload's spec (new ReplicaSet, new task lists); emit
the seed's `CreateWorkload` on the KeptnWorkload (the webhook created it; keyed by its uid, so
once) and `CreateWorkloadInstance` once (keyed Event), or KLT's `CreateWorkloadVersionFailed`
when the API server refuses it; set status.currentVersion.

Invariants: the WorkloadVersion name is deterministic, so a replay meets AlreadyExists.
Must not: touch WorkloadVersions of other versions (WorkloadVersions are never deprecated).
"""

from __future__ import annotations

import contextlib

from lifecycle.core import model
from lifecycle.core.actions import Creation, creation_event, creation_failed_event
from lifecycle.core.naming import workload_version_name
from lifecycle.core.versions import WORKLOAD_FIELDS, copied, current_version_status, version_body
from lifecycle.flow.context import OperatorContext
from lifecycle.flow.objects import emit
from lifecycle.kube.client import Body
from lifecycle.kube.controller import Controller, ObjectKey, Result, owner_keys, self_key
from lifecycle.kube.errors import AlreadyExists, BadRequest, Invalid, NotFound

__all__ = ["COMPONENT", "setup"]

COMPONENT = "keptnworkload-controller"


def setup(ctx: OperatorContext) -> Controller[ObjectKey]:
    """The KeptnWorkload controller (not started)."""
    workloads = ctx.cache(model.KEPTN_WORKLOAD)
    versions = ctx.cache(model.KEPTN_WORKLOAD_VERSION)

    async def reconcile(key: ObjectKey) -> Result | None:
        wl = workloads.get(key.namespace, key.name)
        if wl is None:
            return None
        spec, status = wl.get("spec", {}), wl.get("status", {})
        version = str(spec.get("version", ""))
        name = workload_version_name(key.name, version)
        wanted = copied(spec, WORKLOAD_FIELDS)
        current = versions.get(key.namespace, name)
        if current is None:
            if not status.get("currentVersion"):  # its first version: the workload is new
                emit(ctx, COMPONENT, wl, creation_event(Creation.WORKLOAD, key.name))
            body = version_body(
                model.KEPTN_WORKLOAD_VERSION, wl, name, {**wanted, "workloadName": key.name}
            )
            try:
                created = await ctx.client.create(model.KEPTN_WORKLOAD_VERSION, body, key.namespace)
            except AlreadyExists:  # our cache lags a create of an earlier reconcile
                created = await ctx.client.get(model.KEPTN_WORKLOAD_VERSION, name, key.namespace)
            except (Invalid, BadRequest) as exc:  # permanent: say so (KLT's reason), once
                failed = creation_failed_event(Creation.WORKLOAD_INSTANCE, name, exc)
                emit(ctx, COMPONENT, body, failed)
                return None
            current = model.KEPTN_WORKLOAD_VERSION.view(created)
        if not (current.get("status") or {}).get("startTime"):
            # keyed: re-emitted after a crash between create and Event, written once
            emit(ctx, COMPONENT, current, creation_event(Creation.WORKLOAD_INSTANCE, name))
        have = copied(current.get("spec") or {}, WORKLOAD_FIELDS)
        if have != wanted:
            drift = {f: wanted.get(f) for f in WORKLOAD_FIELDS if have.get(f) != wanted.get(f)}
            with contextlib.suppress(NotFound):
                await ctx.client.patch(
                    model.KEPTN_WORKLOAD_VERSION, name, {"spec": drift}, key.namespace
                )
        patch = current_version_status(model.KEPTN_WORKLOAD, wl, version, ctx.now())
        if patch is not None:
            await ctx.client.patch_status(model.KEPTN_WORKLOAD, key.name, patch, key.namespace)
        return None

    wake_owner = owner_keys("KeptnWorkload")

    def by_version(event: str, wv: Body, old: Body | None) -> list[ObjectKey]:
        # its status is the flow's business: only a new, gone or re-specified version matters here
        if event == "MODIFIED" and old is not None and old.get("spec") == wv.get("spec"):
            return []
        return wake_owner(event, wv, old)

    controller: Controller[ObjectKey] = Controller("keptnworkload", reconcile, ctx.settings.workers)
    controller.watch(ctx.informer(model.KEPTN_WORKLOAD), self_key)
    controller.watch(ctx.informer(model.KEPTN_WORKLOAD_VERSION), by_version)
    return controller
