"""Leader failover: two `klt operator` replicas campaign for the Lease; the leader is SIGKILLed
mid-flow and the follower takes over once the Lease expires (15 s, KLT's and client-go's
default), then finishes the flow with every task run once and every transition Event once.

Replica A starts first and leads; replica B starts second, so the webhook configuration points at
B (each replica registers its own URL in the sandbox) and survives A's death. A dead leader
cannot release the Lease, which is the point: B must wait the lease out, not a moment less
(no split brain) and not much more.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from lifecycle import model
from lifecycle.kube import KubeClient
from sandbox.server import Sandbox
from tests.reliability.conftest import KEPTN_NAMESPACE
from tests.reliability.operator_process import OperatorProcess
from tests.reliability.scenario import Observed, Scenario, retrying
from tracing.setup import read_span_lines

LEASE_NAME = "6b866dd9.keptn.sh"
LEASE_DURATION = 15.0
RETRY_PERIOD = 2.0
TASK_SLEEP = 1.5


async def holder(client: KubeClient) -> str:
    async def call() -> dict[str, Any]:
        return await client.get(model.LEASE, LEASE_NAME, KEPTN_NAMESPACE)

    lease = await retrying(call)
    return str((lease.get("spec") or {}).get("holderIdentity") or "")


async def wait_holder(client: KubeClient, identity: str, within: float) -> float:
    start = time.monotonic()
    async with asyncio.timeout(within):
        while True:
            if await holder(client) == identity:
                return time.monotonic() - start
            await asyncio.sleep(0.05)


def check_once(scenario: Scenario, seen: Observed) -> None:
    for obj in seen.app_versions + seen.workload_versions:
        status = obj.get("status") or {}
        assert status.get("status") == "Succeeded", (obj["metadata"]["name"], status)
    assert len(seen.tasks) == scenario.expected_tasks
    names = {t["metadata"]["name"] for t in seen.tasks}
    assert dict(seen.jobs_per_task) == dict.fromkeys(names, 1), seen.jobs_per_task
    assert sorted(seen.pods_per_job.values()) == [1] * len(names), seen.pods_per_job
    lines = {scenario.line_of(t) for t in seen.tasks}
    assert dict(seen.lines) == dict.fromkeys(lines, 1), seen.lines
    assert seen.transition_events() == seen.expected_flow_events()
    twice = {k: n for k, n in seen.flow_events.items() if n > 1}
    assert not twice, twice
    assert all(n == 1 for n in seen.event_counts.values()), seen.event_counts


@pytest.mark.timeout(120)
async def test_follower_takes_over_after_the_lease_expires(
    sandbox: Sandbox, client: KubeClient, scenario: Scenario, tmp_path: Path
) -> None:
    scenario.task_sleep = TASK_SLEEP
    replicas = {
        name: OperatorProcess(
            kubeconfig=sandbox.kubeconfig_path,
            work_dir=tmp_path / name,
            keptn_namespace=KEPTN_NAMESPACE,
            identity=name,
            trace_file=tmp_path / f"{name}-spans.jsonl",
        )
        for name in ("operator-a", "operator-b")
    }
    a, b = replicas["operator-a"], replicas["operator-b"]
    try:
        await a.start()
        await a.wait_ready()
        await wait_holder(client, a.identity, within=10)
        await b.start()
        await b.wait_ready()  # B's webhook URL is the registered one from now on
        await scenario.apply_app()
        started = time.monotonic()
        await scenario.deploy()
        await scenario.wait_admitted()

        async with asyncio.timeout(30):  # mid-flow: the workloads' pre-deployment tasks run
            while True:
                if "WorkloadPreDeployTasks" in await scenario.phase():
                    break
                await asyncio.sleep(0.05)
        assert await holder(client) == a.identity
        killed_at = time.monotonic()
        await a.kill()
        phase_at_kill = await scenario.phase()
        # B must not take a Lease that is still valid by its own observation
        await asyncio.sleep(LEASE_DURATION - 2 * RETRY_PERIOD)
        assert await holder(client) == a.identity, "the Lease was taken before it expired"
        await wait_holder(client, b.identity, within=2 * LEASE_DURATION)
        takeover = time.monotonic() - killed_at
        await scenario.wait_done(within=60)
        took = time.monotonic() - started
        await scenario.wait_lines()
        await b.stop()
        seen = await scenario.observe()
    except BaseException:
        for r in replicas.values():
            print(f"--- {r.identity}\n{r.log_tail()}")
        raise
    finally:
        for r in replicas.values():
            await r.stop()
    print(
        f"\nfailover: killed at {phase_at_kill}; B leads {takeover:.2f} s after the kill; "
        f"flow {took:.2f} s in all"
    )
    assert LEASE_DURATION - RETRY_PERIOD <= takeover <= LEASE_DURATION + 2 * RETRY_PERIOD + 1
    check_once(scenario, seen)
    # both replicas' spans together: none exported twice
    spans = [s for r in ("operator-a", "operator-b") for s in _read(tmp_path / f"{r}-spans.jsonl")]
    ids = [s["spanId"] for s in spans]
    assert len(ids) == len(set(ids))


def _read(path: Path) -> list[dict[str, Any]]:
    return read_span_lines(path) if path.exists() else []
