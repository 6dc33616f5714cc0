"""Debian's Prometheus scrapes a Telemetry registry; every dashboard query returns data.

The operator-level version of this test (a real flow in the sandbox) comes with the operator;
this one proves the dashboards and rules against the metrics Telemetry produces when every
method has been called once (tests.observability.test_telemetry.exercise).
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry

from lifecycle.observability.telemetry import Telemetry
from lifecycle.operator.server import create_app
from tests.observability.dashboards import dashboard_queries
from tests.observability.samples import app_flow
from tests.observability.test_telemetry import exercise
from tests.support.paths import REPO_ROOT

RULES = REPO_ROOT / "deploy" / "prometheus" / "rules"
# exercise()'s app version: its phase spans share the version's trace
EXPECTED_TRACE_IDS = {
    app_flow().app_version["status"]["phaseTraceIDs"]["AppDeploy"]["traceparent"].split("-")[1]
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def prometheus(tmp_path: Path) -> AsyncIterator[str]:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus is required (apt-get install prometheus)")
    registry = CollectorRegistry()
    exercise(Telemetry(registry))

    # the operator's own /metrics handler: it negotiates OpenMetrics (exemplars) with Prometheus
    runner = web.AppRunner(create_app(registry=registry))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    target = f"127.0.0.1:{runner.addresses[0][1]}"
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"rule_files: ['{RULES}/keptn-alerts.yml', '{RULES}/keptn-dora.yml']\n"
        "scrape_configs:\n"
        f"  - job_name: lifecycle-operator\n    static_configs: [{{targets: ['{target}']}}]\n"
    )
    process = await asyncio.create_subprocess_exec(
        binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}", "--enable-feature=exemplar-storage",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        await process.wait()
        await runner.cleanup()


async def query(session: aiohttp.ClientSession, base: str, expr: str) -> list[Any]:
    async with session.get(f"{base}/api/v1/query", params={"query": expr}) as response:
        body = await response.json()
    assert body["status"] == "success", (expr, body)
    return list(body["data"]["result"])


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
