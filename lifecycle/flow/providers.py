"""What the controllers that query metric providers share: sessions, provider configs, fetches.

Role: ``ProviderSessions`` (one lazily opened aiohttp session and provider pool per controller),
``ClosingController`` (closes it on stop), ``spec_changes`` (the wake-up of controllers whose
reconcile is an attempt), ``provider_config`` (a KeptnMetricsProvider and its Secret, read with
one GET per use: Secrets are not cached by the operator) and ``MetricFetcher``: fetch one
KeptnMetric now and write its status, the code the KeptnMetric controller runs on its timer and
the KeptnEvaluation controller runs for a stale metric it needs.

Must not: decide what a fetch writes (lifecycle.core.metriccore does); log Secret contents.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final, cast

import aiohttp

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
from lifecycle.core import metriccore, model
from lifecycle.core.bodies import KeptnMetricBody, KeptnMetricsProviderBody, KeptnMetricStatus
from lifecycle.core.childcore import Step
from lifecycle.core.meta import metadata_of, name_of, namespace_of
from lifecycle.core.secrets import decode_secret
from lifecycle.flow.children import ChildShell
from lifecycle.flow.context import OperatorContext
from lifecycle.kube import Controller, KubeError, NotFound, ObjectKey

__all__ = [
    "ClosingController",
    "MetricFetcher",
    "ProviderSessions",
    "provider_config",
    "spec_changes",
]

log = logging.getLogger(__name__)

METRIC_COMPONENT: Final = "keptnmetric-controller"


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


def spec_changes(
    event_type: str, obj: Mapping[str, object], old: Mapping[str, object] | None
) -> list[ObjectKey]:
    """Mapper: wake an object on create, delete and spec changes, not on its own status writes.

    Controllers whose reconcile is an attempt (an evaluation round, an analysis run) must not be
    re-run by the status patch that recorded the previous attempt; their timers drive them.
    """
    generation = metadata_of(obj).get("generation")
    if (
        event_type == "MODIFIED"
        and old is not None
        and metadata_of(old).get("generation") == generation
    ):
        return []
    return [ObjectKey(namespace_of(obj), name_of(obj))]


async def provider_config(
    ctx: OperatorContext, provider: KeptnMetricsProviderBody
) -> ProviderConfig:
    """A KeptnMetricsProvider as ProviderConfig, its Secret read (ConfigError if unreadable)."""
    meta = metadata_of(provider)
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
        secret = decode_secret(model.SECRET.view(body))
    return ProviderConfig(
        type=str(spec.get("type") or "prometheus"),
        target_server=str(spec.get("targetServer") or ""),
        secret=secret,
        secret_key=str(ref["key"]) if ref.get("key") else None,
        insecure_skip_tls_verify=bool(spec.get("insecureSkipTlsVerify", False)),
    )


async def _fetch(
    ctx: OperatorContext, sessions: ProviderSessions, metric: KeptnMetricBody, now: datetime
) -> tuple[MetricValue | None, str]:
    """One query of the metric's provider: (the value, "") or (None, the scrubbed error)."""
    spec = metric.get("spec") or {}
    ns = namespace_of(metric)
    try:
        spec_range = parse_metric_range(spec.get("range"))
        provider_name = str((spec.get("provider") or {}).get("name") or "")
        provider_body = ctx.find_here_or_keptn(model.KEPTN_METRICS_PROVIDER, ns, provider_name)
        if provider_body is None:
            raise ConfigError(f"KeptnMetricsProvider {provider_name} not found")
        config = await provider_config(ctx, provider_body)
        provider = sessions.pool().get(config)
        return await evaluate_metric(provider, str(spec.get("query") or ""), spec_range, now), ""
    except (ProviderError, KubeError) as err:
        return None, scrub(str(err))
    except Exception as err:  # never silent: whatever escaped the provider becomes errMsg
        log.exception("KeptnMetric %s/%s: unexpected error", ns, name_of(metric))
        return None, scrub(f"internal error ({err.__class__.__name__}): {err}")


class MetricFetcher:
    """Fetches KeptnMetrics and carries out what lifecycle.core.metriccore decides about them."""

    def __init__(self, ctx: OperatorContext, sessions: ProviderSessions) -> None:
        self.ctx = ctx
        self.sessions = sessions
        # a fetch always wins: the write is not conditional on the cached resourceVersion
        self.shell = ChildShell(
            ctx,
            model.KEPTN_METRIC,
            METRIC_COMPONENT,
            conditional=False,
            steps={Step.FETCH: self._fetch_step},
        )

    async def _fetch_step(self, metric: KeptnMetricBody) -> None:
        await self.refresh(metric)

    async def refresh(self, metric: KeptnMetricBody) -> KeptnMetricStatus:
        """Fetch ``metric`` now, write its status, return the new status (errMsg set on failure)."""
        now = self.ctx.now()
        result, error = await _fetch(self.ctx, self.sessions, metric, now)
        if error:
            log.info("KeptnMetric %s/%s: %s", namespace_of(metric), name_of(metric), error)
        decision = metriccore.fetched(metric, result, error, now)
        await self.shell.run(metric, decision)
        merged = {**(metric.get("status") or {}), **(decision.fields or {})}
        return cast(KeptnMetricStatus, merged)  # the fields metriccore.status_fields writes
