"""KeptnMetric controller: fetch each metric on its own timer, expose it on /metrics and as JSON.

Role: ``setup(ctx)`` returns the controller; ``metric_routes(ctx)`` the aiohttp routes of
``GET /api/v1/metrics/{namespace}/{name}`` (KLT's KEDA ``metrics-api`` shape:
``{"namespace", "metric", "value"}``). ``ProviderSessions`` (one lazily opened aiohttp session and
provider pool) and ``refresh_metric()`` are shared with the evaluation and Analysis controllers,
so a stale metric an evaluation needs is fetched by exactly the code this controller uses.

Timing (reference keptn.md §10.2): a metric is fetched when ``lastUpdated + fetchIntervalSeconds``
has passed, then ``Result(requeue_at=lastUpdated + interval)``; no polling loop. ``spec.range``
(interval, step, aggregation) goes to ``evaluator.providers.evaluate_metric``; with
``storedResults > 0`` each fetch is also appended to ``status.intervalResults`` (FIFO, capped)
-- and, unlike KLT, ``status.value`` is set then too, so evaluations and the JSON API see it.
The provider's Secret is read with one GET per fetch (Secrets are not cached by the operator).

Invariants: a failing provider or a missing provider/Secret errors that one metric
(``status.errMsg``, ``lastUpdated`` = now, the last good value kept) and never the operator;
Secret contents are never logged; ``keptn_metric_value{namespace,name}`` follows every
successful fetch and is dropped when the metric is deleted. Must not hold module-level state.
"""

from __future__ import annotations

import base64
import logging
import math
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Final

import aiohttp
from aiohttp import web

from evaluator.analysis import ProviderPool
from evaluator.providers import (
    ConfigError,
    MetricValue,
    ProviderConfig,
    ProviderError,
    evaluate_metric,
    parse_metric_range,
)
from evaluator.providers.limits import DEFAULT_LIMIT
from evaluator.redact import scrub
from lifecycle.core import model
from lifecycle.core.conditions import with_conditions
from lifecycle.core.naming import format_time, parse_time
from lifecycle.core.secrets import decode_secret
from lifecycle.flow.blocked import METRIC_COMPONENT, report
from lifecycle.flow.context import OperatorContext
from lifecycle.kube import Controller, KubeError, NotFound, ObjectKey, Result, self_key

__all__ = [
    "ClosingController",
    "ProviderSessions",
    "format_value",
    "interval_of",
    "is_fresh",
    "metric_routes",
    "provider_config",
    "refresh_metric",
    "setup",
    "spec_changes",
    "status_fields",
]

log = logging.getLogger(__name__)

Body = dict[str, Any]
_RAW_LIMIT: Final = 1 << 20  # KLT caps rawValue at 1 MiB
_DEFAULT_INTERVAL: Final = 10


class ProviderSessions:
    """One aiohttp session and provider pool, opened on first use inside the loop."""

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self._limit = limit  # concurrent queries per provider (--max-provider-queries)
        self._session: aiohttp.ClientSession | None = None
        self._pool: ProviderPool | None = None

    def pool(self) -> ProviderPool:
        """The shared pool (opens the session on first call)."""
        if self._pool is None or self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
            self._pool = ProviderPool(self._session, limit=self._limit)
        return self._pool

    async def close(self) -> None:
        """Close the session (idempotent)."""
        session, self._session, self._pool = self._session, None, None
        if session is not None:
            await session.close()


class ClosingController(Controller[ObjectKey]):
    """A controller that also closes its provider session when it stops."""

    def __init__(self, *args: Any, sessions: ProviderSessions, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sessions = sessions

    async def stop(self, grace: float = 10.0) -> None:
        await super().stop(grace)
        await self.sessions.close()


def spec_changes(event_type: str, obj: Body, old: Body | None) -> list[ObjectKey]:
    """Mapper: wake an object on create, delete and spec changes, not on its own status writes.

    Controllers whose reconcile is an attempt (an evaluation round, an analysis run) must not be
    re-run by the status patch that recorded the previous attempt; their timers drive them.
    """
    meta = obj.get("metadata") or {}
    old_meta = (old or {}).get("metadata") or {}
    if (
        event_type == "MODIFIED"
        and old is not None
        and old_meta.get("generation") == meta.get("generation")
    ):
        return []
    return [ObjectKey(str(meta.get("namespace") or ""), str(meta.get("name") or ""))]


async def provider_config(ctx: OperatorContext, provider: Mapping[str, Any]) -> ProviderConfig:
    """A KeptnMetricsProvider as ProviderConfig, its Secret read (ConfigError if unreadable)."""
    meta = provider.get("metadata") or {}
    spec = provider.get("spec") or {}
    ref = spec.get("secretKeyRef") or {}
    secret: dict[str, str] | None = None
    if ref.get("name"):
        try:
            body = await ctx.client.get(model.SECRET, str(ref["name"]), meta.get("namespace"))
        except NotFound:
            raise ConfigError(
                f"Secret {ref['name']} of provider {meta.get('name')} not found"
            ) from None
        secret = decode_secret(body)
    return ProviderConfig(
        type=str(spec.get("type") or "prometheus"),
        target_server=str(spec.get("targetServer") or ""),
        secret=secret,
        secret_key=str(ref["key"]) if ref.get("key") else None,
        insecure_skip_tls_verify=bool(spec.get("insecureSkipTlsVerify", False)),
    )


def format_value(value: float) -> str:
    """A metric value as KLT prints it: 42.5, 500 (not 500.0), NaN never reaches here."""
    if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def interval_of(metric: Mapping[str, Any]) -> timedelta:
    """``spec.fetchIntervalSeconds`` (default 10 s, at least 1 s)."""
    seconds = (metric.get("spec") or {}).get("fetchIntervalSeconds") or _DEFAULT_INTERVAL
    return timedelta(seconds=max(1, int(seconds)))


def last_updated(metric: Mapping[str, Any]) -> datetime | None:
    """``status.lastUpdated`` or None."""
    text = (metric.get("status") or {}).get("lastUpdated")
    try:
        return parse_time(str(text)) if text else None
    except ValueError:
        return None


def is_fresh(metric: Mapping[str, Any], now: datetime) -> bool:
    """Whether the stored value is younger than the fetch interval."""
    updated = last_updated(metric)
    return updated is not None and updated + interval_of(metric) > now


async def _fetch(
    ctx: OperatorContext, sessions: ProviderSessions, metric: Mapping[str, Any], now: datetime
) -> tuple[Body, float | None]:
    """The status fields of one fetch, and the value (None on error)."""
    meta = metric.get("metadata") or {}
    spec = metric.get("spec") or {}
    ns = str(meta.get("namespace") or "")
    result: MetricValue | None = None
    error = ""
    try:
        spec_range = parse_metric_range(spec.get("range"))
        provider_name = str((spec.get("provider") or {}).get("name") or "")
        provider_body = ctx.find_here_or_keptn(model.KEPTN_METRICS_PROVIDER, ns, provider_name)
        if provider_body is None:
            raise ConfigError(f"KeptnMetricsProvider {provider_name} not found")
        config = await provider_config(ctx, provider_body)
        provider = sessions.pool().get(config)
        result = await evaluate_metric(provider, str(spec.get("query") or ""), spec_range, now)
    except (ProviderError, KubeError) as err:
        error = scrub(str(err))
    except Exception as err:  # never silent: whatever escaped the provider becomes errMsg
        log.exception("KeptnMetric %s/%s: unexpected error", ns, meta.get("name"))
        error = scrub(f"internal error ({err.__class__.__name__}): {err}")
    fields = status_fields(metric, result, error, now)
    return fields, (result.value if result is not None else None)


def status_fields(
    metric: Mapping[str, Any], result: MetricValue | None, error: str, now: datetime
) -> Body:
    """PURE: the status fields one fetch writes (a value, or ``errMsg`` and the last value kept).

    ``rawValue`` is capped at 1 MiB and base64-encoded (the CRD field is ``format: byte``); with
    ``range.storedResults > 0`` the fetch is appended to ``intervalResults`` (FIFO, capped).
    """
    spec = metric.get("spec") or {}
    stamp = format_time(now)
    fields: Body = {"lastUpdated": stamp}
    if result is not None and not error:
        fields.update(
            value=format_value(result.value),
            rawValue=base64.b64encode(result.raw[:_RAW_LIMIT]).decode(),
            errMsg="",
        )
    else:
        fields["errMsg"] = error
    stored = int(((spec.get("range") or {}).get("storedResults")) or 0)
    if stored > 0:
        entry: Body = {
            "value": fields.get("value", ""),
            "range": dict(spec.get("range") or {}),
            "lastUpdated": stamp,
        }
        if fields.get("errMsg"):
            entry["errMsg"] = fields["errMsg"]
        previous = list((metric.get("status") or {}).get("intervalResults") or [])
        fields["intervalResults"] = [*previous, entry][-stored:]
    return fields


async def refresh_metric(
    ctx: OperatorContext, sessions: ProviderSessions, metric: Mapping[str, Any]
) -> Body:
    """Fetch ``metric`` now, write its status, return the new status (errMsg set on failure)."""
    meta = metric.get("metadata") or {}
    ns, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
    fields, value = await _fetch(ctx, sessions, metric, ctx.now())
    provider = str(((metric.get("spec") or {}).get("provider") or {}).get("name") or "")
    if fields.get("errMsg"):
        log.info("KeptnMetric %s/%s: %s", ns, name, fields["errMsg"])
        report(ctx, METRIC_COMPONENT, dict(metric), "MetricFetchFailed", fields["errMsg"])
        ctx.telemetry.ops.provider_failed(ns, provider)
    else:
        ctx.telemetry.ops.provider_ok(ns, provider)
    fields = with_conditions(model.KEPTN_METRIC.kind, metric, fields, ctx.now())
    await ctx.client.patch_status(model.KEPTN_METRIC, name, {"status": fields}, ns)
    if value is not None:
        ctx.telemetry.set_metric_value(ns, name, value)
    return {**(metric.get("status") or {}), **fields}


def setup(ctx: OperatorContext) -> Controller[ObjectKey]:
    """The KeptnMetric controller, woken by its metrics and by provider changes."""
    sessions = ProviderSessions(ctx.settings.max_provider_queries)
    metrics = ctx.informer(model.KEPTN_METRIC)

    async def reconcile(key: ObjectKey) -> Result:
        metric = metrics.store.get(key.namespace, key.name)
        if metric is None:
            ctx.telemetry.remove_metric_value(key.namespace, key.name)
            return Result()
        now = ctx.now()
        updated = last_updated(metric)
        if updated is not None and updated + interval_of(metric) > now:
            return Result(requeue_at=updated + interval_of(metric))
        try:
            await refresh_metric(ctx, sessions, metric)
        except NotFound:
            return Result()  # deleted meanwhile
        return Result(requeue_at=now + interval_of(metric))

    controller = ClosingController(
        "keptnmetric", reconcile, ctx.settings.workers, sessions=sessions
    )
    controller.watch(metrics, self_key)

    def provider_changed(event_type: str, obj: Body, old: Body | None) -> list[ObjectKey]:
        # only metrics whose provider never answered need an early retry; others keep their timer
        name = str((obj.get("metadata") or {}).get("name") or "")
        return [
            ObjectKey(m["metadata"].get("namespace", ""), m["metadata"]["name"])
            for m in metrics.store.by_index("provider", name)
            if (m.get("status") or {}).get("errMsg")
        ]

    controller.watch(ctx.informer(model.KEPTN_METRICS_PROVIDER), provider_changed)
    return controller


def metric_routes(ctx: OperatorContext) -> list[web.RouteDef]:
    """``GET /api/v1/metrics/{namespace}/{name}`` served from the informer cache."""
    store = ctx.informer(model.KEPTN_METRIC).store

    async def get_metric(request: web.Request) -> web.Response:
        ns, name = request.match_info["namespace"], request.match_info["name"]
        metric = store.get(ns, name)
        if metric is None:
            return web.json_response({"error": f"KeptnMetric {ns}/{name} not found"}, status=404)
        value = str((metric.get("status") or {}).get("value") or "")
        return web.json_response({"namespace": ns, "metric": name, "value": value})

    return [web.get("/api/v1/metrics/{namespace}/{name}", get_metric)]
