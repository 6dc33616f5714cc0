"""KeptnMetric controller: fetch each metric on its own timer, expose it on /metrics and as JSON.

A thin shell around the pure ``core.metriccore`` (when to fetch, what a fetch writes); the fetch
itself is ``flow.providers.MetricFetcher``, which the KeptnEvaluation controller also runs for a
stale metric it needs. ``metric_routes(ctx)`` serves ``GET /api/v1/metrics/{namespace}/{name}``
(KLT's KEDA ``metrics-api`` shape: ``{"namespace", "metric", "value"}``) from the cache.

Wake-ups: the metric (then ``Result(requeue_at=lastUpdated + interval)``, no polling loop) and a
provider change for metrics whose provider never answered. A failing provider errors that one
metric, never the operator; ``keptn_metric_value`` is dropped when the metric is deleted.
"""

from __future__ import annotations

from aiohttp import web

from lifecycle.core import metriccore, model
from lifecycle.core.bodies import KeptnMetricsProviderBody
from lifecycle.core.meta import name_of, namespace_of
from lifecycle.flow.context import OperatorContext
from lifecycle.flow.providers import ClosingController, MetricFetcher, ProviderSessions
from lifecycle.kube import Controller, NotFound, ObjectKey, Result, self_key

__all__ = ["metric_routes", "setup"]


def setup(ctx: OperatorContext) -> Controller[ObjectKey]:
    """The KeptnMetric controller, woken by its metrics and by provider changes."""
    sessions = ProviderSessions(ctx.settings.max_provider_queries)
    fetcher = MetricFetcher(ctx, sessions)
    metrics = ctx.cache(model.KEPTN_METRIC)

    async def reconcile(key: ObjectKey) -> Result:
        metric = metrics.get(key.namespace, key.name)
        if metric is None:
            ctx.telemetry.remove_metric_value(key.namespace, key.name)
            return Result()
        try:
            decision = metriccore.decide(metric, ctx.now())
            return await fetcher.shell.run(metric, decision)
        except NotFound:
            return Result()  # deleted meanwhile

    controller = ClosingController(
        "keptnmetric", reconcile, ctx.settings.workers, sessions=sessions
    )
    controller.watch(ctx.informer(model.KEPTN_METRIC), self_key)

    def provider_changed(event: str, obj: KeptnMetricsProviderBody, old: object) -> list[ObjectKey]:
        # only metrics whose provider never answered need an early retry; others keep their timer
        return [
            ObjectKey(namespace_of(m), name_of(m))
            for m in metrics.by_index("provider", name_of(obj))
            if (m.get("status") or {}).get("errMsg")
        ]

    ctx.watch(controller, model.KEPTN_METRICS_PROVIDER, provider_changed)
    return controller


def metric_routes(ctx: OperatorContext) -> list[web.RouteDef]:
    """``GET /api/v1/metrics/{namespace}/{name}`` served from the informer cache."""
    store = ctx.cache(model.KEPTN_METRIC)

    async def get_metric(request: web.Request) -> web.Response:
        ns, name = request.match_info["namespace"], request.match_info["name"]
        metric = store.get(ns, name)
        if metric is None:
            return web.json_response({"error": f"KeptnMetric {ns}/{name} not found"}, status=404)
        value = (metric.get("status") or {}).get("value") or ""
        return web.json_response({"namespace": ns, "metric": name, "value": value})

    return [web.get("/api/v1/metrics/{namespace}/{name}", get_metric)]
