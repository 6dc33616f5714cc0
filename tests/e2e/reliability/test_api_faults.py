"""The flow under a flaky API server: injected 5xx/409/429/timeouts, dropped watches, forced 410s.

The operator runs in-process against the sandbox while a background task rotates the sandbox's
fault settings (`/sandbox/faults` semantics, set on `Sandbox.faults` directly) every period:
an error rate on every verb with a changing error kind, the Keptn resources' and Jobs' watch
streams cut every third period, and one period in six where every watch that names a
resourceVersion gets 410 Gone (so the informers must re-list). The node agent and this test's own client suffer the same faults
(the test retries its reads). The multi-workload app must still complete with every task run
once, every flow transition's Event written once and every span exported once.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from lifecycle.operator.root import Operator
from sandbox.faults import FaultSettings
from sandbox.server import Sandbox
from tests.e2e.reliability.conftest import operator_settings
from tests.e2e.reliability.scenario import Scenario
from tests.e2e.reliability.test_failover import check_work_once

ERROR_RATE = 0.1
PERIOD = 0.6
CUT_EVERY = 3
"""Cut the streams every this many periods (more often, and the informers' backoff for
streams that end at once without an event grows to seconds: correct, but slow)."""
TASK_SLEEP = 1.5  # as in test_sigkill.py, so the durations compare
# (error kind, forced 410 on every watch) per period, in turn
SCHEDULE = (
    ("500", False),
    ("409", False),
    ("timeout", False),
    ("503", False),
    ("429", False),
    ("500", True),
)

WRITES = ("create", "update", "patch", "delete")


def cut_streams(sandbox: Sandbox) -> int:
    """Close the open watch streams of the Keptn resources and Jobs (what the flow waits on).

    The drop timer and the forced 410 only apply to watches opened under the current settings,
    and the informers' streams are long-lived, so the test cuts them itself. The node agent's
    pod and workload streams are left alone: its informer loses the kubelet's own pod updates
    on a 410 re-list (test_gaps.py), which would hang Jobs and hide what this test is about.
    """
    return sum(
        sandbox.store.close_watchers(key)
        for key in list(sandbox.store.buckets)
        if key.endswith(".keptn.sh") or key == "jobs.batch"
    )


@dataclass
class FaultRotation:
    sandbox: Sandbox
    periods: int = 0
    dropped: int = 0

    async def run(self) -> None:
        for seed in itertools.count(1):
            kind, gone = SCHEDULE[(seed - 1) % len(SCHEDULE)]
            # a real API server answers 409 only to writes (the sandbox would inject it anywhere)
            verbs = WRITES if kind == "409" else ("*",)
            self.sandbox.faults.replace(
                FaultSettings(
                    error_rate=dict.fromkeys(verbs, ERROR_RATE),
                    error_kind=kind,
                    timeout_seconds=1.0,
                    watch_gone=gone,
                    seed=seed,
                )
            )
            if gone or seed % CUT_EVERY == 1:
                self.dropped += cut_streams(self.sandbox)
            self.periods += 1
            await asyncio.sleep(PERIOD)

    def off(self) -> None:
        self.sandbox.faults.replace(FaultSettings())


@contextlib.asynccontextmanager
async def faults(sandbox: Sandbox) -> AsyncIterator[FaultRotation]:
    rotation = FaultRotation(sandbox)
    task = asyncio.create_task(rotation.run())
    try:
        yield rotation
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        rotation.off()


@pytest.mark.timeout(120)
async def test_flow_completes_once_under_api_faults(
    sandbox: Sandbox, scenario: Scenario, tmp_path: Path
) -> None:
    scenario.task_sleep = TASK_SLEEP
    spans = InMemorySpanExporter()
    operator = Operator(operator_settings(sandbox, tmp_path), span_exporter=spans)
    await scenario.apply_app()
    try:
        await operator.start()
        async with asyncio.timeout(30):
            await operator.wait_ready()
            await operator.wait_leading()
        started = time.monotonic()
        await scenario.deploy()
        # Admission is left out: a failed KeptnWorkload create in the webhook is not retried
        # by anything (see test_gaps.py); everything after it runs under faults.
        await scenario.wait_admitted()
        async with faults(sandbox) as rotation:
            await scenario.wait_done(within=60)
            took = time.monotonic() - started
            injected = sandbox.faults.injected
        informers = operator.informers.values()
        lists = sum(i.lists for i in informers) - len(informers)  # beyond the first list
        watches = sum(i.watches for i in informers)
        await scenario.wait_lines()
        seen = await scenario.observe()
    finally:
        await operator.stop()
    print(
        f"\nflow under faults: {took:.2f} s, {injected} injected errors over "
        f"{rotation.periods} fault periods, {rotation.dropped} streams cut; informers re-listed {lists} times, "
        f"opened {watches} watches"
    )
    check_work_once(scenario, seen)
    counted = {k: n for k, n in seen.event_counts.items() if n > 1}
    assert not counted, counted
    expected = seen.expected_flow_events()
    got = seen.transition_events()
    assert got <= expected, sorted(got - expected)
    # The EventRecorder drops an Event whose create meets a transient error (no retry): the
    # flow is right, its record is not. test_gaps.py pins that down; here it is only counted.
    print(f"transition Events lost to injected errors: {len(expected - got)}/{len(expected)}")
    ids = [s.context.span_id for s in spans.get_finished_spans() if s.context is not None]
    assert len(ids) == len(set(ids)), "a span was exported twice"
    assert injected > 20  # the faults really hit the flow
    assert lists > 10  # the forced 410s made the informers re-list
    assert watches > 2 * len(informers)  # the cut streams were resumed
