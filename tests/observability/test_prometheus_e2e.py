"""Debian's Prometheus scrapes a Telemetry registry; every dashboard query returns data.

The operator-level version of this test (a real flow in the sandbox) comes with the operator;
this one proves the dashboards and rules against the metrics Telemetry produces when every
method has been called once (tests.observability.test_telemetry.exercise).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from lifecycle.observability.telemetry import Telemetry
from lifecycle.operator.server import create_app
from tests.observability.dashboards import dashboard_queries
from tests.observability.samples import app_flow
from tests.observability.scraping import query, start_prometheus
from tests.observability.test_telemetry import exercise
from tests.support.http import serve

# exercise()'s app version: its phase spans share the version's trace
EXPECTED_TRACE_IDS = {
    app_flow().app_version["status"]["phaseTraceIDs"]["AppDeploy"]["traceparent"].split("-")[1]
}


@pytest.fixture
async def prometheus(tmp_path: Path) -> AsyncIterator[str]:
    registry = CollectorRegistry()
    exercise(Telemetry(registry))

    # the operator's own /metrics handler: it negotiates OpenMetrics (exemplars) with Prometheus
    async with serve(create_app(registry=registry)) as url:
        process, base = await start_prometheus(tmp_path, url.removeprefix("http://"))
        try:
            yield base
        finally:
            process.terminate()
            await process.wait()


async def test_every_dashboard_query_returns_data(prometheus: str) -> None:
    async with aiohttp.ClientSession() as session:
        async with asyncio.timeout(30):
            # Prometheus 2.x applies targets after ~5 s; rate()/increase() need 3 samples.
            while True:
                try:
                    if await query(
                        session,
                        prometheus,
                        "count_over_time(keptn_lifecycle_active_total[1m]) >= 3",
                    ):
                        break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.25)
        empty = []
        queries = dashboard_queries()
        for item in queries:
            if not await query(session, prometheus, item.expr):
                empty.append((item.dashboard, item.panel, item.expr))
        assert empty == []
        async with session.get(f"{prometheus}/api/v1/rules") as response:
            groups = (await response.json())["data"]["groups"]
        unhealthy = [
            r["name"] for g in groups for r in g["rules"] if r["health"] not in ("ok", "unknown")
        ]
        assert unhealthy == []
        assert sum(len(g["rules"]) for g in groups) == 18
        # Telemetry's own output drives the alerts: exercise() had an errored phase and a
        # dropped CloudEvent, and the operator target is up.
        async with asyncio.timeout(10):
            while True:
                alerts = await query(session, prometheus, 'ALERTS{alertstate="firing"}')
                firing = {alert["metric"]["alertname"] for alert in alerts}
                if {"KeptnPhaseErrored", "KeptnCloudEventsDropping"} <= firing:
                    break
                await asyncio.sleep(0.25)
        assert "KeptnOperatorDown" not in firing
        # The phase histogram's exemplars reach Prometheus with the phase span's trace id.
        params = {
            "query": "keptn_phase_duration_seconds_bucket",
            "start": str(time.time() - 600),
            "end": str(time.time() + 60),
        }
        async with session.get(f"{prometheus}/api/v1/query_exemplars", params=params) as response:
            body = await response.json()
        assert body["status"] == "success", body
        trace_ids = {e["labels"]["trace_id"] for s in body["data"] for e in s["exemplars"]}
        assert trace_ids >= EXPECTED_TRACE_IDS, (trace_ids, body)
