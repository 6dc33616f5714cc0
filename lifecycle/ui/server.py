"""The `klt ui` web server: a read-only release view over the caller's cluster, on loopback.

Role: serve the page (static files from `lifecycle/ui/static`, nothing from the internet), a JSON
API the page reads, and one Server-Sent Events stream that says what changed. Informers (the
operator's own `lifecycle.kube`) watch app versions, workload versions, tasks, evaluations and
analyses; every change is pushed to the open pages, which re-read what they show. The page
never polls.

Data comes through the modules `klt status` and `klt trace` use: `trace.workload_versions_of`
and `timeline.from_status` for the timeline, `status.last_error` for reasons, and
`lifecycle.ui.views` for the rest.

Invariants: only GET requests; binds where it is told (loopback by default); a missing object
is a 404 with a JSON message; a cluster error is a 502 naming it, never a traceback.
Must not: write to the cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web

from lifecycle.commands import timeline, trace
from lifecycle.commands.status import trace_id as trace_id_of
from lifecycle.core import model
from lifecycle.core.bodies import AnalysisBody, AnalysisDefinitionBody, KeptnTaskBody
from lifecycle.core.meta import metadata_of, name_of, namespace_of, owner_uids, uid_of
from lifecycle.kube import Informers, KubeClient, KubeError, NotFound
from lifecycle.kube.cache import BodyT, cache_of
from lifecycle.ui import views

__all__ = ["ReleaseView", "create_app"]

log = logging.getLogger("klt.ui")
STATIC = Path(__file__).parent / "static"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
WATCHED = (
    model.KEPTN_APP_VERSION,
    model.KEPTN_WORKLOAD_VERSION,
    model.KEPTN_TASK,
    model.KEPTN_EVALUATION,
    model.ANALYSIS,
)
PAGES = (
    "/",
    "/apps/{namespace}/{app}",
    "/appversions/{namespace}/{name}",
    "/quality/apps/{namespace}/{app}",
    "/quality/definitions/{namespace}/{name}",
)
_QUEUE_SIZE = 256
_HEARTBEAT_S = 15.0


class ReleaseView:
    """The watches and the open pages' streams of one `klt ui` process."""

    def __init__(
        self, client: KubeClient, namespace: str | None = None, trace_url: str = ""
    ) -> None:
        self.client = client
        self.namespace = namespace
        self.trace_url = trace_url
        self.informers = Informers(client, namespace=namespace)
        for kind in WATCHED:
            self.informers.get(kind).add_handler(self._changed)
        self._streams: set[asyncio.Queue[str]] = set()

    def cached(self, kind: model.ResourceKind[BodyT], namespace: str | None = None) -> list[BodyT]:
        """Every cached object of `kind` (in `namespace`, or all)."""
        return cache_of(self.informers.get(kind).store, kind).list(namespace)

    def _changed(self, event: str, obj: Mapping[str, object], old: object) -> None:
        meta = metadata_of(obj)
        message = json.dumps(
            {
                "type": event,
                "kind": obj.get("kind", ""),
                "namespace": meta.get("namespace", ""),
                "name": meta.get("name", ""),
            }
        )
        for queue in list(self._streams):
            if queue.full():  # a stalled page gets one "reload everything" instead
                with contextlib.suppress(asyncio.QueueEmpty):
                    while True:
                        queue.get_nowait()
                message = json.dumps({"type": "RELOAD"})
            queue.put_nowait(message)

    @contextlib.asynccontextmanager
    async def stream(self) -> AsyncIterator[asyncio.Queue[str]]:
        """A queue of change messages for one open page."""
        queue: asyncio.Queue[str] = asyncio.Queue(_QUEUE_SIZE)
        self._streams.add(queue)
        try:
            yield queue
        finally:
            self._streams.discard(queue)

    async def start(self) -> None:
        """Start the watches and wait (up to 30 s) until each has listed once."""
        self.informers.start()
        async with asyncio.timeout(30):
            await self.informers.wait_synced()

    async def stop(self) -> None:
        await self.informers.stop()


def _json(data: object, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda d: json.dumps(d, default=str))


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method not in ("GET", "HEAD"):
        return _json({"error": "this view is read-only"}, 405)
    try:
        return await handler(request)
    except NotFound as exc:
        return _json({"error": str(exc)}, 404)
    except KubeError as exc:
        return _json({"error": f"cluster: {exc}"}, 502)


def _view(request: web.Request) -> ReleaseView:
    view: ReleaseView = request.app["view"]
    return view


async def _page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


async def _applications(request: web.Request) -> web.Response:
    view = _view(request)
    now = datetime.now(UTC)
    definitions = Counter(_definition_of(a) for a in view.cached(model.ANALYSIS))
    return _json(
        {
            "applications": views.applications(view.cached(model.KEPTN_APP_VERSION), now),
            "definitions": [
                {"namespace": ns, "name": name, "analyses": count}
                for (ns, name), count in sorted(definitions.items())
            ],
        }
    )


def _definition_of(analysis: AnalysisBody) -> tuple[str, str]:
    """(namespace, name) of an Analysis's AnalysisDefinition (ref namespace or its own)."""
    ref = analysis.get("spec", {}).get("analysisDefinition") or {}
    return ref.get("namespace") or namespace_of(analysis), ref.get("name", "")


async def _task_entry(view: ReleaseView, task: KeptnTaskBody) -> dict[str, str]:
    spec, status = task.get("spec", {}), task.get("status", {})
    namespace = namespace_of(task)
    job = status.get("jobName") or ""
    logs = ""
    if job:
        with contextlib.suppress(KubeError):
            pods, _ = await view.client.list(model.POD, namespace, label_selector=f"job-name={job}")
            if pods:
                newest = max(pods, key=lambda p: str(metadata_of(p).get("creationTimestamp")))
                logs = await view.client.pod_log(name_of(newest), namespace)
    return {
        "name": name_of(task),
        "definition": spec.get("taskDefinition", ""),
        "type": (spec.get("context") or {}).get("taskType", "") or spec.get("checkType", ""),
        "workload": (spec.get("context") or {}).get("workloadName", ""),
        "status": status.get("status", "Pending"),
        "message": status.get("message", ""),
        "job": job,
        "logs": logs,
    }


async def _app_version(request: web.Request) -> web.Response:
    view = _view(request)
    namespace, name = request.match_info["namespace"], request.match_info["name"]
    body = model.KEPTN_APP_VERSION.view(
        await view.client.get(model.KEPTN_APP_VERSION, name, namespace)
    )
    workloads = await trace.workload_versions_of(view.client, body)
    tl = timeline.from_status(body, workloads, now_ns=time.time_ns())
    uids = {uid_of(o) for o in (body, *workloads)}
    names = {name_of(o) for o in (body, *workloads)}
    events = await trace.events_about(view.client, namespace, names)
    ours = sorted(
        (
            {
                "time": e.get("lastTimestamp") or e.get("eventTime") or e.get("firstTimestamp"),
                "type": e.get("type", ""),
                "reason": e.get("reason", ""),
                "object": f"{(e.get('involvedObject') or {}).get('kind', '')}/"
                f"{(e.get('involvedObject') or {}).get('name', '')}",
                "message": e.get("message", ""),
                "count": e.get("count", 1),
            }
            for e in events
        ),
        key=lambda e: str(e["time"]),
    )
    tasks = [t for t in view.cached(model.KEPTN_TASK, namespace) if uids & set(owner_uids(t))]
    trace_id = trace_id_of(body.get("status", {}))
    return _json(
        {
            "appVersion": views.applications([body], datetime.now(UTC))[0]["versions"][0],
            "app": body.get("spec", {}).get("appName", ""),
            "timeline": views.timeline_json(tl),
            "events": ours,
            "tasks": [await _task_entry(view, t) for t in tasks],
            "traceId": trace_id,
            "traceUrl": view.trace_url.replace("{trace_id}", trace_id) if trace_id else "",
        }
    )


async def _app_quality(request: web.Request) -> web.Response:
    view = _view(request)
    namespace, app = request.match_info["namespace"], request.match_info["app"]
    heatmap = views.app_quality(
        app,
        view.cached(model.KEPTN_APP_VERSION, namespace),
        view.cached(model.KEPTN_EVALUATION, namespace),
    )
    return _json(heatmap.to_json())


async def _definition_quality(request: web.Request) -> web.Response:
    view = _view(request)
    namespace, name = request.match_info["namespace"], request.match_info["name"]
    definition: AnalysisDefinitionBody | None
    try:
        found = await view.client.get(model.ANALYSIS_DEFINITION, name, namespace)
        definition = model.ANALYSIS_DEFINITION.view(found)
    except NotFound:
        definition = None
    analyses = [a for a in view.cached(model.ANALYSIS) if _definition_of(a)[0] == namespace]
    return _json(views.definition_quality(definition, name, analyses).to_json())


async def _events(request: web.Request) -> web.StreamResponse:
    view = _view(request)
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await response.prepare(request)
    await response.write(b": connected\n\n")
    async with view.stream() as queue:
        while True:
            try:
                message = await asyncio.wait_for(queue.get(), _HEARTBEAT_S)
            except TimeoutError:
                await response.write(b": ping\n\n")
                continue
            await response.write(f"data: {message}\n\n".encode())


def create_app(view: ReleaseView) -> web.Application:
    """The aiohttp application of the release view (the caller starts and stops `view`)."""
    app = web.Application(middlewares=[_errors])
    app["view"] = view
    for path in PAGES:
        app.router.add_get(path, _page)
    app.router.add_get("/api/applications", _applications)
    app.router.add_get("/api/appversions/{namespace}/{name}", _app_version)
    app.router.add_get("/api/quality/apps/{namespace}/{app}", _app_quality)
    app.router.add_get("/api/quality/definitions/{namespace}/{name}", _definition_quality)
    app.router.add_get("/api/events", _events)
    app.router.add_static("/static/", STATIC)
    return app
