"""Debian's Prometheus scrapes the real operator through a flow; every dashboard query has data.

The in-process operator serves /metrics; Prometheus (1 s scrape, the repo's alert and DORA rule
files loaded) scrapes it from before the first release. The releases cover what the panels
read: 1.0 succeeds, 2.0 (an upgrade with previousVersion) fails in a workload's pre-deployment
task, 3.0 succeeds (time to restore), all with commitTime metadata (lead time), app and workload
tasks, and evaluations on a KeptnMetric the metric controller really fetches from this same
Prometheus (`vector(312)`). Then every panel and variable query of every dashboard runs against
Prometheus and must return at least one series, and `promtool check metrics` must accept the
operator's /metrics as Prometheus scraped it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from lifecycle.kube import KubeClient
from lifecycle.operator.root import Operator
from sandbox.server import Sandbox
from tests.e2e.flow.conftest import NAMESPACE, operator_settings
from tests.e2e.observability.shop import Shop
from tests.observability.dashboards import dashboard_queries
from tests.observability.scraping import query, start_prometheus


@pytest.fixture
async def operator(sandbox: Sandbox, tmp_path: Path) -> AsyncIterator[Operator]:
    op = Operator(operator_settings(sandbox, tmp_path))
    try:
        await op.start()
        async with asyncio.timeout(15):
            await op.wait_ready()
            await op.wait_leading()
        yield op
    finally:
        await op.stop()


async def wait_query(http: aiohttp.ClientSession, base: str, expr: str, within: float) -> None:
    """Until `expr` returns a series (Prometheus may still be starting: connection refused)."""
    async with asyncio.timeout(within):
        while True:
            try:
                if await query(http, base, expr):
                    return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.25)


async def release(shop: Shop, version: str, commit: datetime, failing: str | None = None) -> None:
    await shop.release(version, commit_time=commit, failing=failing)
    async with asyncio.timeout(40):
        while True:
            if await shop.finished(version):
                return
            await asyncio.sleep(0.05)


@pytest.mark.timeout(90)
async def test_every_dashboard_query_has_data_after_a_real_flow(
    sandbox: Sandbox, operator: Operator, tmp_path: Path
) -> None:
    target = f"127.0.0.1:{operator.ports['metrics']}"
    prometheus, base = await start_prometheus(tmp_path, target)
    client = KubeClient.for_url(sandbox.url, token=sandbox.token)
    shop = Shop(
        client=client,
        namespace=NAMESPACE,
        metric_server=base,
        metric_query="vector(312)",
        static_value=None,
    )
    try:
        async with aiohttp.ClientSession() as http:
            await wait_query(http, base, "vector(1)", within=20)  # Prometheus serves queries
            await shop.define()
            commit = datetime.now(UTC) - timedelta(hours=1)
            await release(shop, "1.0", commit)
            await release(shop, "2.0", commit + timedelta(minutes=10), failing="cart")
            await release(shop, "3.0", commit + timedelta(minutes=20))
            av = await shop.app_version("3.0")
            assert av is not None and av["status"]["status"] == "Succeeded", av
            assert av["spec"].get("previousVersion") == "2.0"
            # three scrapes after the last flow: increase()/rate() need two samples
            await wait_query(
                http,
                base,
                'count_over_time(keptn_app_count_total{keptn_deployment_app_version="3.0"}[1m])'
                " >= 3",
                within=30,
            )
            empty = [
                (item.dashboard, item.panel, item.expr)
                for item in dashboard_queries()
                if not await query(http, base, item.expr)
            ]
            # the real flow's phase spans, as exemplars of the phase histogram (OpenMetrics)
            params = {"query": "keptn_phase_duration_seconds_bucket", "start": "0",
                      "end": str(datetime.now(UTC).timestamp() + 60)}  # fmt: skip
            async with http.get(f"{base}/api/v1/query_exemplars", params=params) as r:
                found = (await r.json())["data"]
            exemplar_traces = {e["labels"]["trace_id"] for s in found for e in s["exemplars"]}
            federate = f"{base}/federate"
            async with http.get(federate, params={"match[]": '{job="lifecycle-operator"}'}) as r:
                scraped = await r.text()
            async with http.get(f"http://{target}/metrics") as r:
                exposition = await r.read()
    finally:
        prometheus.terminate()
        await prometheus.wait()
        await client.close()
    assert empty == []
    phase_traces = {
        carrier["traceparent"].split("-")[1]
        for carrier in av["status"]["phaseTraceIDs"].values()
        if carrier.get("traceparent")
    }
    assert phase_traces and phase_traces <= exemplar_traces, (phase_traces, exemplar_traces)
    assert "keptn_dora_time_to_restore_seconds_count" in scraped
    check = await asyncio.create_subprocess_exec(
        "promtool", "check", "metrics",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await check.communicate(exposition)
    assert check.returncode == 0, out.decode()
