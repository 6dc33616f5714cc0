"""Restart safety: `klt operator` SIGKILLed at 10 random moments of a multi-workload flow.

The operator runs as a subprocess against the in-process sandbox, with fixed ports (the webhook
URL it registered stays valid) and a stable Lease identity (like a container restarted with the
same $POD_NAME, so the new process re-takes its own Lease at once). The same app first runs once
without kills: that run is the reference for which transition Events and spans a flow produces
and how long it takes. After the kills every object must be Completed; every task must have
run once by all three counts (KeptnTasks, Jobs per task + pods per Job, and the runners' own
output lines); every `<Phase>Started/Succeeded` Event exists exactly once per object; no span
id is exported twice. Spans are exported after the status write, so a kill in between can lose
a span: the test allows that, counts it, and prints it.
"""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

import pytest

from lifecycle import model
from lifecycle.kube import KubeClient
from sandbox.server import Sandbox
from tests.reliability.conftest import KEPTN_NAMESPACE
from tests.reliability.operator_process import OperatorProcess
from tests.reliability.scenario import Observed, Scenario

KILLS = 10
SEED = 20261127
TASK_SLEEP = 1.5
WEBHOOK_SPAN = "annotate_pod"


def check_ran_once(scenario: Scenario, seen: Observed) -> None:
    """Every object Completed; every task ran exactly once by every count we have."""
    assert len(seen.app_versions) == 1
    assert len(seen.workload_versions) == len(scenario.workloads)
    for obj in seen.app_versions + seen.workload_versions:
        status = obj.get("status") or {}
        assert status.get("status") == "Succeeded", (obj["metadata"]["name"], status)
        assert status.get("currentPhase") == "Completed", (obj["metadata"]["name"], status)
    assert len(seen.tasks) == scenario.expected_tasks
    names = {t["metadata"]["name"] for t in seen.tasks}
    assert dict(seen.jobs_per_task) == dict.fromkeys(names, 1), seen.jobs_per_task
    assert sorted(seen.pods_per_job.values()) == [1] * len(names), seen.pods_per_job
    expected_lines = {scenario.line_of(t) for t in seen.tasks}
    assert len(expected_lines) == len(seen.tasks)  # one distinct line per task
    assert dict(seen.lines) == dict.fromkeys(expected_lines, 1), seen.lines


def check_events_once(reference: Observed, seen: Observed) -> None:
    """The same transition Events as the undisturbed run, each one object with count 1."""
    assert set(seen.flow_events) == set(reference.flow_events), (
        "missing:",
        sorted(set(reference.flow_events) - set(seen.flow_events)),
        "unexpected:",
        sorted(set(seen.flow_events) - set(reference.flow_events)),
    )
    twice = {k: n for k, n in seen.flow_events.items() if n > 1}
    assert not twice, twice
    counted = {k: n for k, n in seen.event_counts.items() if n > 1}
    assert not counted, counted


async def run_flow(
    sandbox: Sandbox, scenario: Scenario, tmp_path: Path, *, kills: int, seed: int
) -> tuple[Observed, float, list[str]]:
    """Deploy the scenario with one operator replica, SIGKILL it `kills` times, observe."""
    trace = tmp_path / "spans.jsonl"
    operator = OperatorProcess(
        kubeconfig=sandbox.kubeconfig_path,
        work_dir=tmp_path / "operator",
        keptn_namespace=KEPTN_NAMESPACE,
        identity="operator-0",
        trace_file=trace,
    )
    rng = random.Random(seed)
    phases: list[str] = []
    try:
        await operator.start()
        await operator.wait_ready()  # webhook registered: the pods will be gated
        await scenario.apply_app()
        started = time.monotonic()
        await scenario.deploy()
        await scenario.wait_admitted()
        for _ in range(kills):
            await asyncio.sleep(rng.uniform(0.0, 0.5))
            await operator.kill()
            phases.append(await scenario.phase())
            await operator.start()
            await operator.wait_ready()
        await scenario.wait_done(within=60)
        took = time.monotonic() - started
        await scenario.wait_lines()
        await operator.stop()  # SIGTERM: the last process drains its spans
        return await scenario.observe(trace), took, phases
    except BaseException:
        print(operator.log_tail())
        raise
    finally:
        await operator.stop()


def span_report(reference: Observed, seen: Observed) -> tuple[list[str], list[str]]:
    """(names of spans lost, names of spans exported more often) against the reference run."""
    want, got = reference.span_names(), seen.span_names()
    lost = sorted((want - got).elements())
    extra = sorted((got - want).elements())
    return lost, extra


async def opt_in(client: KubeClient, namespace: str) -> None:
    annotations = {"keptn.sh/lifecycle-toolkit": "enabled"}
    body = {"metadata": {"name": namespace, "annotations": annotations}}
    await client.create(model.NAMESPACE, body)


@pytest.mark.timeout(150)
async def test_sigkill_at_random_moments(
    sandbox: Sandbox, client: KubeClient, scenario: Scenario, tmp_path: Path
) -> None:
    await opt_in(client, "reference")
    # tasks long enough that the ten kills (each ~1 s of restart) land inside the flow
    scenario.task_sleep = TASK_SLEEP
    ref_scenario = Scenario(
        client=client,
        namespace="reference",
        out_file=tmp_path / "reference-runs.txt",
        task_sleep=TASK_SLEEP,
    )
    reference, ref_took, _ = await run_flow(
        sandbox, ref_scenario, tmp_path / "reference", kills=0, seed=SEED
    )
    check_ran_once(ref_scenario, reference)
    assert not reference.duplicate_span_ids()
    seen, took, phases = await run_flow(
        sandbox, scenario, tmp_path / "kills", kills=KILLS, seed=SEED
    )
    print(f"\nundisturbed flow: {ref_took:.2f} s; with {KILLS} SIGKILLs: {took:.2f} s")
    print("phases at the kills:", phases)
    check_ran_once(scenario, seen)
    check_events_once(reference, seen)
    assert not seen.duplicate_span_ids(), seen.duplicate_span_ids()
    lost, extra = span_report(reference, seen)
    flow_lost = [n for n in lost if n != WEBHOOK_SPAN]
    flow_total = sum(n for name, n in reference.span_names().items() if name != WEBHOOK_SPAN)
    print(
        f"spans: {len(reference.spans)} undisturbed, {len(seen.spans)} with kills; "
        f"flow spans lost {len(flow_lost)}/{flow_total}: {flow_lost}; "
        f"webhook spans lost {len(lost) - len(flow_lost)}"
    )
    assert not extra, extra
    # the kills hit the flow while it ran, at different places
    running = [p for p in phases if set(p.split("/")) != {"Completed"}]
    assert len(running) >= KILLS - 2, phases
    assert len(set(phases)) >= 4, phases
