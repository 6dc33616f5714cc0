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

from lifecycle.core import model
from lifecycle.core.actions import Creation, creation_event
from lifecycle.core.bodies import KeptnAppBody, KeptnAppSpec, KeptnWorkloadBody, WorkloadRef
from lifecycle.core.meta import annotations_of, labels_of, name_of, namespace_of
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
from lifecycle.kube.controller import Controller, ObjectKey, Result, self_key
from lifecycle.kube.errors import AlreadyExists, NotFound

__all__ = ["COMPONENT", "desired_app_spec", "setup"]

COMPONENT = "keptnapp-controller"


def desired_app_spec(app: str, workloads: list[KeptnWorkloadBody]) -> KeptnAppSpec:
    """The KeptnApp spec for these KeptnWorkloads (names without the `<app>-` prefix, sorted)."""
    pairs = sorted((name_of(wl), str(wl.get("spec", {}).get("version", ""))) for wl in workloads)
    refs: list[WorkloadRef] = [
        {"name": full.removeprefix(app + "-"), "version": version} for full, version in pairs
    ]
    # KLT: one workload, single- or multi-service, gives its version
    version = refs[0]["version"] if len(refs) == 1 else multi_workload_app_version(pairs)
    return {"version": version, "revision": 1, "workloads": refs}


def setup(ctx: OperatorContext) -> Controller[ObjectKey]:
    """The KeptnAppCreationRequest controller (not started)."""
    requests = ctx.cache(model.KEPTN_APP_CREATION_REQUEST)
    apps = ctx.cache(model.KEPTN_APP)
    workloads = ctx.cache(model.KEPTN_WORKLOAD)

    async def delete_request(key: ObjectKey) -> None:
        with contextlib.suppress(NotFound):
            await ctx.client.delete(model.KEPTN_APP_CREATION_REQUEST, key.name, key.namespace)

    async def reconcile(key: ObjectKey) -> Result | None:
        request = requests.get(key.namespace, key.name)
        if request is None:
            return None
        app_name = request.get("spec", {}).get("appName") or key.name
        app = apps.get(key.namespace, app_name)
        if app is not None and labels_of(app).get(MANAGED_BY_LABEL) != MANAGED_BY_VALUE:
            await delete_request(key)
            return None
        annotations = dict(annotations_of(request))
        single = annotations.get(APP_TYPE_ANNOTATION) == APP_TYPE_SINGLE_SERVICE
        found = [
            wl for wl in workloads.by_index("app", app_name) if namespace_of(wl) == key.namespace
        ]
        now = ctx.now()
        deadline = created(request, now) + timedelta(
            seconds=ctx.holder.app_creation_request_timeout_seconds
        )
        if found and not single:
            settled = min(window_end([request, *found], DISCOVERY_QUIET, now), deadline)
            if now < settled:
                return Result(requeue_at=settled)
        elif not found and now < deadline:
            return Result(requeue_at=deadline)
        if found:
            await upsert_app(key, app_name, app, annotations, desired_app_spec(app_name, found))
        await delete_request(key)
        return None

    async def upsert_app(
        key: ObjectKey,
        app_name: str,
        app: KeptnAppBody | None,
        annotations: dict[str, str],
        spec: KeptnAppSpec,
    ) -> None:
        if app is not None:
            have = app.get("spec", {})
            if have.get("version") != spec["version"] or have.get("workloads") != spec["workloads"]:
                patch = {"spec": {"version": spec["version"], "workloads": spec["workloads"]}}
                await ctx.client.patch(model.KEPTN_APP, app_name, patch, key.namespace)
            return
        body = {
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
            created_app = await ctx.client.create(model.KEPTN_APP, body, key.namespace)
        except AlreadyExists:
            created_app = await ctx.client.get(model.KEPTN_APP, app_name, key.namespace)
        emit(ctx, COMPONENT, created_app, creation_event(Creation.APP, app_name))

    def by_workload(
        event: str, wl: KeptnWorkloadBody, old: KeptnWorkloadBody | None
    ) -> list[ObjectKey]:
        key = ObjectKey(namespace_of(wl), str(wl.get("spec", {}).get("app", "")))
        return [key] if event != "DELETED" and requests.get(*key) is not None else []

    controller: Controller[ObjectKey] = Controller(
        "keptnappcreationrequest", reconcile, ctx.settings.workers
    )
    controller.watch(ctx.informer(model.KEPTN_APP_CREATION_REQUEST), self_key)
    ctx.watch(controller, model.KEPTN_WORKLOAD, by_workload)
    return controller
