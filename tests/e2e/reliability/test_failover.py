"""Leader failover: two `klt operator` replicas campaign for the Lease; the leader is SIGKILLed
mid-flow and the follower takes over once the Lease expires (3 s here through the operator's
--lease-duration/--renew-deadline/--retry-period flags; 15 s is KLT's and client-go's default),
then finishes the flow with every task run once and every transition Event once.

Replica A starts first and leads; replica B starts second, so the webhook configuration points at
B (each replica registers its own URL in the sandbox) and survives A's death. A dead leader
cannot release the Lease, which is the point: B must wait the lease out, not a moment less
(no split brain) and not much more. A second test pauses the leader with SIGSTOP instead: once
B leads, the old leader is resumed with its stale cache and queued work; it must find B on the
Lease, stop its controllers and exit 1, and nothing may run twice. Each variant runs once per
module (fixtures `killed` and `paused`); the tests below check one property each.
"""

from __future__ import annotations

import asyncio
import collections
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lifecycle.core import model
from lifecycle.kube import KubeClient
from lifecycle.kube.errors import NotFound
from sandbox.server import Sandbox
from tests.e2e.reliability.conftest import KEPTN_NAMESPACE, NAMESPACE, opt_in, start_sandbox
from tests.e2e.reliability.operator_process import OperatorProcess
from tests.e2e.reliability.scenario import Observed, Scenario, retrying
from tracing.setup import read_span_lines

LEASE_NAME = "6b866dd9.keptn.sh"
LEASE_DURATION = 3.0
RENEW_DEADLINE = 2.0
RETRY_PERIOD = 0.5
TASK_SLEEP = 1.5


async def holder(client: KubeClient) -> str:
    """The Lease's holder; "" while no replica has created the Lease yet."""

    async def call() -> dict[str, Any]:
        try:
            return await client.get(model.LEASE, LEASE_NAME, KEPTN_NAMESPACE)
        except NotFound:
            return {}

    lease = await retrying(call)
    return str((lease.get("spec") or {}).get("holderIdentity") or "")


async def wait_holder(client: KubeClient, identity: str, within: float) -> float:
    start = time.monotonic()
    async with asyncio.timeout(within):
        while True:
            if await holder(client) == identity:
                return time.monotonic() - start
            await asyncio.sleep(0.05)


def check_work_once(scenario: Scenario, seen: Observed) -> None:
    """Every version succeeded; each task ran one Job, one pod and wrote its line once; no flow
    Event was written twice."""
    for obj in seen.app_versions + seen.workload_versions:
        status = obj.get("status") or {}
        assert status.get("status") == "Succeeded", (obj["metadata"]["name"], status)
    assert len(seen.tasks) == scenario.expected_tasks
    names = {t["metadata"]["name"] for t in seen.tasks}
    assert dict(seen.jobs_per_task) == dict.fromkeys(names, 1), seen.jobs_per_task
    assert sorted(seen.pods_per_job.values()) == [1] * len(names), seen.pods_per_job
    lines = {scenario.line_of(t) for t in seen.tasks}
    assert dict(seen.lines) == dict.fromkeys(lines, 1), seen.lines
    twice = {k: n for k, n in seen.flow_events.items() if n > 1}
    assert not twice, twice


def check_once(scenario: Scenario, seen: Observed) -> None:
    """`check_work_once`, every transition Event written, each with count 1."""
    check_work_once(scenario, seen)
    assert seen.transition_events() == seen.expected_flow_events()
    assert all(n == 1 for n in seen.event_counts.values()), seen.event_counts


@dataclass
class Failover:
    phase_at_loss: str
    takeover_seconds: float
    flow_seconds: float
    seen: Observed
    spans: list[dict[str, Any]]
    old_leader_exit: int | None
    """Exit code of the paused leader after it was resumed (None when it was killed)."""


async def fail_over(
    sandbox: Sandbox, client: KubeClient, scenario: Scenario, tmp_path: Path, *, pause: bool
) -> Failover:
    """A leads, B follows; A is SIGKILLed (or SIGSTOPped, then resumed after B took over)."""
    scenario.task_sleep = TASK_SLEEP
    replicas = {
        name: OperatorProcess(
            kubeconfig=sandbox.kubeconfig_path,
            work_dir=tmp_path / name,
            keptn_namespace=KEPTN_NAMESPACE,
            identity=name,
            trace_file=tmp_path / f"{name}-spans.jsonl",
            lease=(LEASE_DURATION, RENEW_DEADLINE, RETRY_PERIOD),
        )
        for name in ("operator-a", "operator-b")
    }
    a, b = replicas["operator-a"], replicas["operator-b"]
    exit_code = None
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
        await scenario.wait_phase("WorkloadPreDeployTasks")  # mid-flow: pre-deployment tasks run
        assert await holder(client) == a.identity
        lost_at = time.monotonic()
        if pause:
            a.pause()
        else:
            await a.kill()
        phase = await scenario.phase()
        # B must not take a Lease that is still valid by its own observation
        await asyncio.sleep(LEASE_DURATION - 2 * RETRY_PERIOD)
        assert await holder(client) == a.identity, "the Lease was taken before it expired"
        await wait_holder(client, b.identity, within=2 * LEASE_DURATION)
        takeover = time.monotonic() - lost_at
        if pause:
            a.resume()  # it wakes up believing it leads; it must step down, not act
            assert a.proc is not None
            async with asyncio.timeout(3 * RETRY_PERIOD + 5):
                exit_code = await a.proc.wait()
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
    spans = [{**s, "replica": r} for r in replicas for s in _read(tmp_path / f"{r}-spans.jsonl")]
    return Failover(phase, takeover, took, seen, spans, exit_code)


async def run_failover(work: Path, *, pause: bool) -> tuple[Scenario, Failover]:
    """`fail_over` on a sandbox of its own (the module fixtures run it once per variant)."""
    sandbox = await start_sandbox(work)
    client = KubeClient.for_url(sandbox.url, token=sandbox.token)
    try:
        await opt_in(client, NAMESPACE)
        scenario = Scenario(client=client, namespace=NAMESPACE, out_file=work / "runs.txt")
        return scenario, await fail_over(sandbox, client, scenario, work, pause=pause)
    finally:
        await client.close()
        await sandbox.stop()


@pytest.fixture(scope="module")
def killed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Scenario, Failover]:
    scenario, result = asyncio.run(run_failover(tmp_path_factory.mktemp("killed"), pause=False))
    print(
        f"\nfailover after SIGKILL at {result.phase_at_loss}: B leads "
        f"{result.takeover_seconds:.2f} s later; flow {result.flow_seconds:.2f} s in all"
    )
    return scenario, result


@pytest.fixture(scope="module")
def paused(tmp_path_factory: pytest.TempPathFactory) -> tuple[Scenario, Failover]:
    scenario, result = asyncio.run(run_failover(tmp_path_factory.mktemp("paused"), pause=True))
    print(
        f"\nfailover after SIGSTOP at {result.phase_at_loss}: B leads "
        f"{result.takeover_seconds:.2f} s later; old leader exit {result.old_leader_exit}; "
        f"flow {result.flow_seconds:.2f} s in all; spans exported twice: "
        f"{len(spans_twice(result))}"
    )
    return scenario, result


def spans_twice(result: Failover) -> list[tuple[str, str]]:
    """(span name, replica) of every span whose id both replicas (or one twice) exported."""
    ids = collections.Counter(s["spanId"] for s in result.spans)
    return sorted((s["name"], s["replica"]) for s in result.spans if ids[s["spanId"]] > 1)


def check_takeover(result: Failover) -> None:
    assert result.takeover_seconds >= LEASE_DURATION - RETRY_PERIOD
    assert result.takeover_seconds <= LEASE_DURATION + 2 * RETRY_PERIOD + 1


def test_the_follower_takes_over_once_the_killed_leaders_lease_expires(
    killed: tuple[Scenario, Failover],
) -> None:
    check_takeover(killed[1])


def test_the_flow_completes_once_after_the_leader_is_killed(
    killed: tuple[Scenario, Failover],
) -> None:
    check_once(killed[0], killed[1].seen)


def test_no_span_is_exported_twice_across_a_killed_leader_and_its_successor(
    killed: tuple[Scenario, Failover],
) -> None:
    assert not spans_twice(killed[1])


def test_a_paused_leader_steps_down_when_it_wakes_up(paused: tuple[Scenario, Failover]) -> None:
    """SIGSTOP the leader: B takes over; SIGCONT: A finds B on the Lease and exits 1 (as after
    any lost Lease); nothing ran twice although A woke up with a stale cache and queued work."""
    check_takeover(paused[1])
    assert paused[1].old_leader_exit == 1
    check_once(paused[0], paused[1].seen)


def test_a_paused_leader_exports_no_span_twice(paused: tuple[Scenario, Failover]) -> None:
    assert not spans_twice(paused[1])


def _read(path: Path) -> list[dict[str, Any]]:
    return read_span_lines(path) if path.exists() else []
