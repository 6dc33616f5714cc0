"""Operator-health metrics the alerts of deploy/prometheus/rules need: webhooks, leader, certificate, providers.

Role: one :class:`OpsMetrics` per :class:`lifecycle.observability.telemetry.Telemetry` (``telemetry.ops``), on
the same registry. Small hooks feed it: an aiohttp middleware on the webhook listener
(:func:`webhook_middleware`), leader election, certificate issuance and KeptnMetric fetches.
docs/metrics.md documents each series; docs/runbooks.md says what their alerts mean.
Must not do I/O (the certificate is given as an expiry time).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["WEBHOOK_BUCKETS", "OpsMetrics", "webhook_middleware"]

WEBHOOK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
"""Admission calls must answer within the webhook timeout (10 s at most, KLT uses the default)."""


class OpsMetrics:
    """Webhook traffic, leadership, certificate expiry and provider failures."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.webhook_requests = Counter(
            "keptn_webhook_requests", "Admission requests by webhook path and HTTP code.",
            ["webhook", "code"], registry=registry,
        )  # fmt: skip
        self.webhook_duration = Histogram(
            "keptn_webhook_request_duration_seconds", "Admission request duration.",
            ["webhook"], buckets=WEBHOOK_BUCKETS, registry=registry,
        )  # fmt: skip
        self.leader = Gauge(
            "keptn_leader", "1 while this replica holds the leader Lease.", registry=registry
        )
        self.certificate_expiry = Gauge(
            "keptn_certificate_expiry_timestamp_seconds",
            "Unix time the webhook serving certificate expires.",
            ["certificate"],
            registry=registry,
        )
        self.provider_failures = Counter(
            "keptn_provider_failures", "Failed KeptnMetric fetches by provider.",
            ["namespace", "provider"], registry=registry,
        )  # fmt: skip

    def webhook_request(self, webhook: str, code: int, seconds: float) -> None:
        """One admission request answered with HTTP ``code`` after ``seconds``."""
        self.webhook_requests.labels(webhook, str(code)).inc()
        self.webhook_duration.labels(webhook).observe(seconds)

    def set_leader(self, leading: bool) -> None:
        self.leader.set(1 if leading else 0)

    def set_certificate_expiry(self, name: str, not_after: datetime) -> None:
        """The serving certificate ``name`` (e.g. "webhook") is valid until ``not_after``."""
        self.certificate_expiry.labels(name).set(not_after.timestamp())

    def provider_failed(self, namespace: str, provider: str) -> None:
        """A fetch through the KeptnMetricsProvider ``namespace/provider`` failed."""
        self.provider_failures.labels(namespace, provider).inc()

    def provider_ok(self, namespace: str, provider: str) -> None:
        """A fetch succeeded: the failure series exists at 0 so increase() sees the first one."""
        self.provider_failures.labels(namespace, provider)


def webhook_middleware(
    ops: OpsMetrics, clock: Callable[[], float] = time.perf_counter
) -> Middleware:
    """An aiohttp middleware counting and timing every POST (the admission calls)."""

    @web.middleware
    async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method != "POST":
            return await handler(request)
        started = clock()
        code = 500
        try:
            response = await handler(request)
            code = response.status
            return response
        except web.HTTPException as exc:
            code = exc.status
            raise
        finally:
            ops.webhook_request(request.path, code, clock() - started)

    return observe
