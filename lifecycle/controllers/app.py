"""KeptnApp controller: one KeptnAppVersion per (version, generation); older revisions deprecated.

Role (KLT §2.6): for a KeptnApp, make sure the AppVersion `<app>-<version>-<hash(generation)>`
exists (its body: lifecycle.core.versions; the same-name KeptnAppContext's spec copied once, at
creation); emit `CreateAppVersion` (keyed Event), or KLT's `CreateAppVersionFailed` when the API
server refuses it; set status.currentVersion; then deprecate the unfinished AppVersions of the
same version string and older generations (`machine.deprecate`, carried out by the FlowExecutor).

KLT users apply a KeptnApp and its KeptnAppContext together: an app with no context yet gets its
AppVersion only after the context settle window (0.3 s after this process first saw the app,
kept in memory: lifecycle.core.windows; a context arriving wakes the app at once), and then a
Normal `AppContextNotFound` Event says it runs without app-level checks. A context created or
changed later reaches the phases not started yet (lifecycle.flow.contextintake). A generation > 1
(revision bump) first retries the app's Failed WorkloadVersions (lifecycle.flow.retry).

Invariants: names are deterministic, so a replay after a crash meets AlreadyExists and emits no
second Event. Completed AppVersions keep their outcome. Must not: deprecate other versions.
"""

from __future__ import annotations

from datetime import datetime

from lifecycle.core import model
from lifecycle.core.actions import (
    Creation,
    creation_event,
    creation_failed_event,
    deprecate_failed_event,
    no_context_event,
)
from lifecycle.core.machine import deprecate
from lifecycle.core.meta import metadata_of, name_of, uid_of
from lifecycle.core.naming import app_version_name
from lifecycle.core.versions import CONTEXT_FIELDS, copied, current_version_status, version_body
from lifecycle.core.windows import CONTEXT_SETTLE, window_end
from lifecycle.flow.context import OperatorContext
from lifecycle.flow.contextintake import take_in_context
from lifecycle.flow.executor import FlowExecutor
from lifecycle.flow.objects import emit, is_completed
from lifecycle.flow.retry import retry_failed_workloads
from lifecycle.kube.controller import Controller, ObjectKey, Result, owner_keys, self_key
from lifecycle.kube.errors import AlreadyExists, BadRequest, Invalid

__all__ = ["COMPONENT", "setup"]

COMPONENT = "keptnapp-controller"


def setup(ctx: OperatorContext) -> Controller[ObjectKey]:
    """The KeptnApp controller (not started)."""
    apps = ctx.cache(model.KEPTN_APP)
    contexts = ctx.cache(model.KEPTN_APP_CONTEXT)
    versions = ctx.cache(model.KEPTN_APP_VERSION)
    executor = FlowExecutor(ctx, kind=model.KEPTN_APP_VERSION, component=COMPONENT, track=False)
    first_seen: dict[str, datetime] = {}  # app uid -> first reconcile without a context

    async def reconcile(key: ObjectKey) -> Result | None:
        app = apps.get(key.namespace, key.name)
        if app is None:
            return None
        spec = app.get("spec", {})
        version = str(spec.get("version", ""))
        generation = int(metadata_of(app).get("generation") or 1)
        name = app_version_name(key.name, version, generation)
        current = versions.get(key.namespace, name)
        uid = uid_of(app)
        if current is None:
            found = contexts.get(key.namespace, key.name)
            if found is None:  # its KeptnAppContext may be on its way
                now = ctx.now()
                first = first_seen.setdefault(uid, now)
                settled = min(first + CONTEXT_SETTLE, window_end([app], CONTEXT_SETTLE, now))
                if now < settled:
                    return Result(requeue_at=settled)
            context = (found or {}).get("spec") or {}
            if generation > 1:
                await retry_failed_workloads(ctx, COMPONENT, app)
            body = version_body(
                model.KEPTN_APP_VERSION,
                app,
                name,
                {
                    **copied(context, CONTEXT_FIELDS),
                    "version": version,
                    "revision": spec.get("revision", 1),
                    "workloads": list(spec.get("workloads") or []),
                    "appName": key.name,
                },
            )
            try:
                created = await ctx.client.create(model.KEPTN_APP_VERSION, body, key.namespace)
            except AlreadyExists:  # our cache lags a create of an earlier reconcile
                created = await ctx.client.get(model.KEPTN_APP_VERSION, name, key.namespace)
            except (Invalid, BadRequest) as exc:  # permanent: say so (KLT's reason), once
                emit(ctx, COMPONENT, body, creation_failed_event(Creation.APP_VERSION, name, exc))
                return None
            current = model.KEPTN_APP_VERSION.view(created)
        first_seen.pop(uid, None)
        late = contexts.get(key.namespace, key.name)
        if not (current.get("status") or {}).get("startTime"):
            # keyed: re-emitted after a crash between create and Event, written once
            emit(ctx, COMPONENT, current, creation_event(Creation.APP_VERSION, name))
            if late is None:
                emit(ctx, COMPONENT, current, no_context_event(key.name))
        if late is not None:  # created or changed after the AppVersion: its phases to come
            await take_in_context(ctx, COMPONENT, current, late.get("spec") or {})
        patch = current_version_status(model.KEPTN_APP, app, version, ctx.now())
        if patch is not None:
            await ctx.client.patch_status(model.KEPTN_APP, key.name, patch, key.namespace)
        for older in range(generation - 1, 0, -1):
            old = versions.get(key.namespace, app_version_name(key.name, version, older))
            if old is not None and not is_completed(old):
                decision = deprecate(old, ctx.now())
                if decision.status or decision.actions:
                    try:
                        await executor.execute(old, decision)
                    except Exception:  # KLT's Event on the app, then retried with backoff
                        emit(ctx, COMPONENT, app, deprecate_failed_event(name_of(old)))
                        raise
        return None

    controller: Controller[ObjectKey] = Controller("keptnapp", reconcile, ctx.settings.workers)
    controller.watch(ctx.informer(model.KEPTN_APP), self_key)
    controller.watch(ctx.informer(model.KEPTN_APP_VERSION), owner_keys("KeptnApp"))
    controller.watch(ctx.informer(model.KEPTN_APP_CONTEXT), self_key)  # same name as its app
    return controller
