"""The operator's OTLP/HTTP export of whole flows, received and decoded over real HTTP.

An in-process `Operator` runs with `otel_url` pointing at the aiohttp receiver (the production
exporter path: OTLP/HTTP protobuf behind the batch processor). Three releases of one app:
1.0 (every phase, tasks and evaluations, spanLinks, commitTime metadata), 2.0 (an upgrade: its
root must link to 1.0's root and carry previousVersion), and 3.0 whose first workload's
pre-deployment task fails (error status and reason on the task, the workload phase, the root).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lifecycle.kube import KubeClient
from lifecycle.operator.root import Operator
from sandbox.server import Sandbox
from tests.e2e.flow.conftest import NAMESPACE, operator_settings
from tests.e2e.observability.conftest import OTLPReceiver, ReceivedSpan
from tests.e2e.observability.shop import Shop, trace_problems


async def wait_finished(shop: Shop, version: str, within: float = 40.0) -> None:
    try:
        async with asyncio.timeout(within):
            while True:
                if await shop.finished(version):
                    return
                await asyncio.sleep(0.05)
    except TimeoutError:
        av = await shop.app_version(version)
        pytest.fail(f"{version} not finished: {(av or {}).get('status')}")


async def wait_root(otlp: OTLPReceiver, name: str, within: float = 10.0) -> ReceivedSpan:
    async with asyncio.timeout(within):
        while True:
            roots = [s for s in otlp.spans if s.name == name and not s.parent_id]
            if roots:
                return roots[0]
            await asyncio.sleep(0.05)


@pytest.mark.timeout(120)
async def test_three_releases_export_complete_linked_traces(
    sandbox: Sandbox, otlp: OTLPReceiver, tmp_path: Path
) -> None:
    operator = Operator(operator_settings(sandbox, tmp_path, otel_url=otlp.url))
    client = KubeClient.for_url(sandbox.url, token=sandbox.token)
    shop = Shop(client=client, namespace=NAMESPACE, workloads=("cart", "front", "pay"))
    try:
        await operator.start()
        async with asyncio.timeout(15):
            await operator.wait_ready()
            await operator.wait_leading()
        await shop.define()
        commit = datetime.now(UTC) - timedelta(minutes=5)
        await shop.release("1.0", commit_time=commit)
        await wait_finished(shop, "1.0")
        await shop.release("2.0", commit_time=commit + timedelta(minutes=1))
        await wait_finished(shop, "2.0")
        await shop.release("3.0", commit_time=commit + timedelta(minutes=2), failing="cart")
        await wait_finished(shop, "3.0")
        await asyncio.to_thread(operator.tracing.force_flush)
        avs = {v: await shop.app_version(v) for v in ("1.0", "2.0", "3.0")}
        names = {v: str(av["metadata"]["name"]) for v, av in avs.items() if av}
        roots = {v: await wait_root(otlp, names[v]) for v in names}
        await asyncio.sleep(0.6)  # one more batch interval: late children of the last flow
        await asyncio.to_thread(operator.tracing.force_flush)
        problems: dict[str, list[str]] = {}
        for version, previous in (("1.0", None), ("2.0", "1.0"), ("3.0", "2.0")):
            spans = otlp.trace_of(names[version])
            before = roots[previous] if previous else None
            problems[version] = await trace_problems(shop, version, spans, previous_root=before)
    finally:
        await operator.stop()
        await client.close()

    print({v: len(otlp.trace_of(names[v])) for v in names}, "spans per trace")
    # every flow span is in one of the three traces (webhook spans have their own)
    traces = {roots[v].trace_id for v in roots}
    strays = [s.name for s in otlp.spans if s.trace_id not in traces and s.scope != "keptn/webhook"]
    assert strays == []
    assert avs["3.0"] is not None and avs["3.0"]["status"]["status"] == "Failed"
    assert problems == {"1.0": [], "2.0": [], "3.0": []}
    assert otlp.duplicates() == {}  # no crash, so every span was delivered exactly once
