"""KeptnAppCreationRequest controller: auto-create the KeptnApp of annotated workloads.

Role (KLT §8.3, without its fixed 30 s wait): a request for an app a user created (no
`app.kubernetes.io/managed-by: keptn` label) is deleted at once. Otherwise the KeptnApp is
created (or its workload list and version updated) from the app's KeptnWorkloads in the cache,
then the request is deleted: a single-service app at once; a multi-service app once the
discovery quiet period (lifecycle.core.windows.DISCOVERY_QUIET) has passed with no new
KeptnWorkload of the app, so workloads created together give exactly one KeptnApp generation
and one AppVersion. keptnAppCreationRequestTimeoutSeconds after the request's creation bounds
the window (KLT always waits that long): workloads still arriving then update the app later,
through a new request. Each KeptnWorkload arrival wakes the request; the only timers are the
quiet period's end and that bound.

Version: the single workload's version (also for a multi-service app with one workload, as
KLT), else the first 10 hex chars of sha256 of the sorted `name-version` pairs
(naming.multi_workload_app_version). An app with no KeptnWorkload yet waits for it (KLT creates
a single-service app with no workloads here).
Must not: change apps it did not create.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Any

from lifecycle.core import model
from lifecycle.core.actions import Creation, creation_event
from lifecycle.core.bodies import KeptnAppSpec, KeptnWorkloadBody, WorkloadRef
from lifecycle.core.meta import name_of, namespace_of
from lifecycle.core.naming import (
    APP_TYPE_ANNOTATION,
    APP_TYPE_SINGLE_SERVICE,
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    multi_workload_app_version,
)
from lifecycle.core.windows import DISCOVERY_QUIET, created, window_end
from lifecycle.flow.context import OperatorContext
from lifecycle.flow.objects import emit
from lifecycle.kube.controller import Controller, ObjectKey, Result
from lifecycle.kube.errors import AlreadyExists, NotFound

__all__ = ["COMPONENT", "desired_app_spec", "setup"]

COMPONENT = "keptnapp-controller"

Body = dict[str, Any]


def desired_app_spec(app: str, workloads: list[KeptnWorkloadBody]) -> KeptnAppSpec:
    """The KeptnApp spec for these KeptnWorkloads (names without the `<app>-` prefix, sorted)."""
    ordered = sorted(workloads, key=name_of)
    refs: list[WorkloadRef] = []
    for wl in ordered:
        full = name_of(wl)
        short = full[len(app) + 1 :] if full.startswith(app + "-") else full
        refs.append({"name": short, "version": str(wl.get("spec", {}).get("version", ""))})
    if len(refs) == 1:  # KLT: one workload, single- or multi-service, gives its version
        version = refs[0]["version"]
    else:
        version = multi_workload_app_version(
            (name_of(w), str(w.get("spec", {}).get("version", ""))) for w in ordered
        )
    return {"version": version, "revision": 1, "workloads": refs}


def setup(ctx: OperatorContext) -> Controller[ObjectKey]:
    """The KeptnAppCreationRequest controller (not started)."""
    requests = ctx.informer(model.KEPTN_APP_CREATION_REQUEST).store
    apps = ctx.informer(model.KEPTN_APP).store
    workloads = ctx.cache(model.KEPTN_WORKLOAD)

    async def delete_request(key: ObjectKey) -> None:
        with contextlib.suppress(NotFound):
            await ctx.client.delete(model.KEPTN_APP_CREATION_REQUEST, key.name, key.namespace)

    async def reconcile(key: ObjectKey) -> Result | None:
        request = requests.get(key.namespace, key.name)
        if request is None:
            return None
        meta = request.get("metadata") or {}
        app_name = str((request.get("spec") or {}).get("appName") or key.name)
        app = apps.get(key.namespace, app_name)
        if (
            app is not None
            and (app["metadata"].get("labels") or {}).get(MANAGED_BY_LABEL) != MANAGED_BY_VALUE
        ):
            await delete_request(key)
            return None
        annotations = dict(meta.get("annotations") or {})
        single = annotations.get(APP_TYPE_ANNOTATION) == APP_TYPE_SINGLE_SERVICE
        found = [
            wl for wl in workloads.by_index("app", app_name) if namespace_of(wl) == key.namespace
        ]
        now = ctx.now()
        deadline = created(request, now) + timedelta(
            seconds=ctx.holder.app_creation_request_timeout_seconds
        )
        if found and not single:
            quiet_end = window_end([request, *found], DISCOVERY_QUIET, now)
            if now < min(quiet_end, deadline):
                return Result(requeue_at=min(quiet_end, deadline))
        if found:
            await upsert_app(key, app_name, app, annotations, desired_app_spec(app_name, found))
            await delete_request(key)
            return None
        if now >= deadline:
            await delete_request(key)
            return None
        return Result(requeue_at=deadline)

    async def upsert_app(
        key: ObjectKey, app_name: str, app: Body | None, annotations: Body, spec: KeptnAppSpec
    ) -> None:
        if app is None:
            body: Body = {
                "apiVersion": model.KEPTN_APP.api_version,
                "kind": model.KEPTN_APP.kind,
                "metadata": {
                    "name": app_name,
                    "namespace": key.namespace,
                    "labels": {MANAGED_BY_LABEL: MANAGED_BY_VALUE},
                    "annotations": annotations,
                },
                "spec": spec,
            }
            try:
                app = await ctx.client.create(model.KEPTN_APP, body, key.namespace)
            except AlreadyExists:
                app = await ctx.client.get(model.KEPTN_APP, app_name, key.namespace)
            emit(ctx, COMPONENT, app, creation_event(Creation.APP, app_name))
            return
        have = app.get("spec") or {}
        if have.get("version") != spec["version"] or have.get("workloads") != spec["workloads"]:
            patch = {"spec": {"version": spec["version"], "workloads": spec["workloads"]}}
            await ctx.client.patch(model.KEPTN_APP, app_name, patch, key.namespace)

    def by_workload(event: str, wl: Body, old: Body | None) -> list[ObjectKey]:
        if event == "DELETED":
            return []
        namespace = str((wl.get("metadata") or {}).get("namespace", ""))
        app = str((wl.get("spec") or {}).get("app", ""))
        return [ObjectKey(namespace, app)] if requests.get(namespace, app) is not None else []

    def own(event: str, obj: Body, old: Body | None) -> list[ObjectKey]:
        meta = obj.get("metadata") or {}
        return (
            []
            if event == "DELETED"
            else [ObjectKey(str(meta.get("namespace", "")), str(meta.get("name", "")))]
        )

    controller: Controller[ObjectKey] = Controller(
        "keptnappcreationrequest", reconcile, ctx.settings.workers
    )
    controller.watch(ctx.informer(model.KEPTN_APP_CREATION_REQUEST), own)
    controller.watch(ctx.informer(model.KEPTN_WORKLOAD), by_workload)
    return controller
