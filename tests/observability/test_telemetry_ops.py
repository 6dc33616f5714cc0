"""lifecycle.observability.telemetry_ops: webhook middleware, leader, certificate and provider series."""

from __future__ import annotations

from datetime import UTC, datetime

import aiohttp
from aiohttp import web
from prometheus_client import CollectorRegistry

from lifecycle.observability.telemetry import Telemetry
from lifecycle.observability.telemetry_ops import webhook_middleware
from lifecycle.operator.server import create_app
from tests.support.http import serve


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


async def test_webhook_middleware_counts_codes_and_times_posts() -> None:
    registry = CollectorRegistry()
    ops = Telemetry(registry, process_metrics=False).ops

    async def ok(_: web.Request) -> web.Response:
        return web.json_response({})

    async def bad(_: web.Request) -> web.Response:
        raise web.HTTPBadRequest(text="no review")

    async def boom(_: web.Request) -> web.Response:
        raise RuntimeError("bug")

    routes = [
        web.post("/ok", ok),
        web.post("/bad", bad),
        web.post("/boom", boom),
        web.get("/ok", ok),
    ]
    app = create_app(extra_routes=routes, middlewares=[webhook_middleware(ops)])
    async with serve(app) as base, aiohttp.ClientSession() as session:
        for path in ("/ok", "/ok", "/bad", "/boom"):
            async with session.post(base + path) as response:
                await response.read()
        async with session.get(base + "/ok") as response:  # not an admission call
            assert response.status == 200
    total = "keptn_webhook_requests_total"
    assert value(registry, total, webhook="/ok", code="200") == 2
    assert value(registry, total, webhook="/bad", code="400") == 1
    assert value(registry, total, webhook="/boom", code="500") == 1
    count = "keptn_webhook_request_duration_seconds_count"
    assert value(registry, count, webhook="/ok") == 2


def test_leader_certificate_and_provider_series() -> None:
    registry = CollectorRegistry()
    ops = Telemetry(registry, process_metrics=False).ops
    assert value(registry, "keptn_leader") == 0
    ops.set_leader(True)
    assert value(registry, "keptn_leader") == 1
    ops.set_certificate_expiry("webhook", datetime(2027, 1, 1, tzinfo=UTC))
    expiry = value(registry, "keptn_certificate_expiry_timestamp_seconds", certificate="webhook")
    assert expiry == datetime(2027, 1, 1, tzinfo=UTC).timestamp()
    ops.provider_ok("demo", "prom")
    failures = "keptn_provider_failures_total"
    assert value(registry, failures, namespace="demo", provider="prom") == 0
    ops.provider_failed("demo", "prom")
    assert value(registry, failures, namespace="demo", provider="prom") == 1
