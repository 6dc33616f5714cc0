"""WorkQueue and Controller on a real event loop with short times (no API server)."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from datetime import UTC, datetime, timedelta

import pytest

from lifecycle.kube.controller import Controller, Result, TerminalError
from lifecycle.kube.errors import Conflict, Transient
from lifecycle.kube.queue import QueueShutDown, WorkQueue
from tests.support.clock import FakeClock
from tests.support.waiting import eventually


async def test_dedupe_key_added_twice_is_taken_once() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.add("a")
    q.add("b")
    q.add("a")
    assert len(q) == 2
    assert await q.get() == "a"
    assert await q.get() == "b"
    assert len(q) == 0


async def test_key_added_while_processing_is_rerun_once_after_done() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.add("a")
    key = await q.get()
    q.add("a")
    q.add("a")
    assert len(q) == 0, "must not be handed to a second worker while processing"
    q.done(key)
    assert len(q) == 1
    assert await q.get() == "a"
    q.done("a")
    assert len(q) == 0


async def test_delayed_add_keeps_earliest_deadline() -> None:
    q: WorkQueue[str] = WorkQueue()
    start = time.monotonic()
    q.add("a", after=0.5)
    q.add("a", after=0.05)
    q.add("a", after=0.3)
    assert q.delayed == 1
    assert await asyncio.wait_for(q.get(), 1) == "a"
    elapsed = time.monotonic() - start
    assert 0.04 <= elapsed < 0.25


async def test_add_at_datetime() -> None:
    q: WorkQueue[str] = WorkQueue()
    start = time.monotonic()
    q.add("a", at=datetime.now(UTC) + timedelta(milliseconds=80))
    assert await asyncio.wait_for(q.get(), 1) == "a"
    assert time.monotonic() - start >= 0.07
    q.add("b", at=datetime.now(UTC) - timedelta(seconds=5))  # past: at once
    assert len(q) == 1


async def test_add_at_reads_the_queue_clock() -> None:
    clock = FakeClock()
    q: WorkQueue[str] = WorkQueue(now=clock)
    q.add("due", at=clock() - timedelta(seconds=1))
    q.add("later", at=clock() + timedelta(hours=1))
    assert len(q) == 1 and q.delayed == 1  # "later" waits on a timer, "due" is ready
    clock.advance(7200)  # the clock passed "later": adding it again at that time is immediate
    q.add("later", at=clock() - timedelta(hours=1))
    assert len(q) == 2
    q.shutdown()


async def test_backoff_grows_exponentially_and_resets_on_forget() -> None:
    q: WorkQueue[str] = WorkQueue(base_delay=0.01, max_delay=0.04)
    assert [q.backoff("a") for _ in range(4)] == [0.01, 0.02, 0.04, 0.04]
    assert q.failures("a") == 4
    q.forget("a")
    assert q.failures("a") == 0
    assert q.backoff("a") == 0.01


async def test_shutdown_wakes_waiters_and_refuses_keys() -> None:
    q: WorkQueue[str] = WorkQueue()
    waiter = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    q.shutdown()
    with pytest.raises(QueueShutDown):
        await waiter
    q.add("x")
    assert len(q) == 0


async def test_cancelled_waiter_passes_wakeup_on() -> None:
    q: WorkQueue[str] = WorkQueue()
    w1 = asyncio.create_task(q.get())
    w2 = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    q.add("a")
    w1.cancel()
    got = await asyncio.wait_for(w2, 1)
    assert got == "a"


async def test_controller_never_runs_one_key_twice_at_once() -> None:
    running: set[str] = set()
    overlaps = 0
    runs: dict[str, int] = {}

    async def reconcile(key: str) -> Result:
        nonlocal overlaps
        if key in running:
            overlaps += 1
        running.add(key)
        await asyncio.sleep(0.01)
        running.discard(key)
        runs[key] = runs.get(key, 0) + 1
        return Result()

    ctl: Controller[str] = Controller("t", reconcile, workers=8)
    ctl.start()
    for _ in range(5):
        for k in ("a", "b", "c"):
            ctl.enqueue(k)
        await asyncio.sleep(0.003)
    await asyncio.sleep(0.1)
    await ctl.stop()
    assert overlaps == 0
    assert set(runs) == {"a", "b", "c"}
    # 5 adds over ~15 ms of 10 ms reconciles: coalesced, so far fewer than 5 runs each.
    assert all(1 <= n <= 3 for n in runs.values()), runs


async def test_controller_workers_run_different_keys_in_parallel() -> None:
    async def reconcile(key: int) -> None:
        await asyncio.sleep(0.05)

    ctl: Controller[int] = Controller("t", reconcile, workers=10)
    ctl.start()
    start = time.monotonic()
    for i in range(10):
        ctl.enqueue(i)
    await eventually(lambda: ctl.reconciles >= 10 and not ctl.queue.processing, 1)
    assert time.monotonic() - start < 0.3
    await ctl.stop()


@pytest.mark.usefixtures("no_leaked_tasks")
async def test_controller_backs_off_on_errors_then_resets() -> None:
    calls: list[float] = []
    outcomes: list[BaseException | None] = [
        Transient("x"),
        Conflict("y"),
        RuntimeError("boom"),
        None,
    ]

    async def reconcile(key: str) -> Result:
        calls.append(time.monotonic())
        exc = outcomes.pop(0)
        if exc is not None:
            raise exc
        return Result()

    observed: list[tuple[str, str]] = []
    ctl: Controller[str] = Controller(
        "t",
        reconcile,
        workers=2,
        queue=WorkQueue(base_delay=0.02, max_delay=1.0),
        observer=lambda name, outcome, seconds: observed.append((name, outcome)),
    )
    ctl.start()
    ctl.enqueue("k")
    await eventually(lambda: len(calls) >= 4, 2)
    await asyncio.sleep(0.01)
    gaps = [b - a for a, b in itertools.pairwise(calls)]
    assert gaps[0] >= 0.018 and gaps[1] >= 0.038 and gaps[2] >= 0.078, gaps
    assert ctl.errors == 3
    assert observed == [("t", "error")] * 3 + [("t", "success")]
    assert ctl.queue.failures("k") == 0, "success resets the backoff"
    await ctl.stop()


async def test_controller_requeue_at_and_after() -> None:
    seen: list[float] = []

    async def reconcile(key: str) -> Result:
        seen.append(time.monotonic())
        if len(seen) == 1:
            return Result(requeue_at=datetime.now(UTC) + timedelta(milliseconds=60))
        if len(seen) == 2:
            return Result(requeue_after=0.03)
        return Result()

    ctl: Controller[str] = Controller("t", reconcile, workers=1)
    ctl.start()
    ctl.enqueue("k")
    await asyncio.sleep(0.25)
    await ctl.stop()
    assert len(seen) == 3
    assert seen[1] - seen[0] >= 0.05
    assert seen[2] - seen[1] >= 0.025


async def test_controller_stop_lets_running_reconcile_finish() -> None:
    finished = asyncio.Event()

    async def reconcile(key: str) -> None:
        await asyncio.sleep(0.05)
        finished.set()

    ctl: Controller[str] = Controller("t", reconcile, workers=1)
    ctl.start()
    ctl.enqueue("k")
    ctl.enqueue("other")
    await asyncio.sleep(0.01)
    await ctl.stop(grace=1)
    assert finished.is_set()
    assert ctl.reconciles == 1, "queued keys are dropped at shutdown"


@pytest.mark.usefixtures("no_leaked_tasks")
async def test_controller_terminal_error_stops_the_backoff_and_says_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[str] = []

    async def reconcile(key: str) -> Result:
        calls.append(key)
        if len(calls) == 1:
            raise TerminalError("spec.x: Invalid value: retrying cannot fix this")
        return Result()

    observed: list[tuple[str, str]] = []
    ctl: Controller[str] = Controller(
        "t",
        reconcile,
        workers=1,
        queue=WorkQueue(base_delay=0.01, max_delay=0.05),
        observer=lambda name, outcome, seconds: observed.append((name, outcome)),
    )
    with caplog.at_level(logging.ERROR, logger="lifecycle.kube.controller"):
        ctl.start()
        ctl.enqueue("k")
        await eventually(lambda: observed, 2)
        await asyncio.sleep(0.15)  # a backoff retry would have run by now (10-50 ms)
    assert calls == ["k"], "a terminal error is not retried"
    assert observed == [("t", "terminal")]
    assert ctl.errors == 1 and ctl.queue.failures("k") == 0
    assert "terminal error, not retried: spec.x: Invalid value" in caplog.text
    ctl.enqueue("k")  # an event for the key (the object changed) reconciles it again
    await eventually(lambda: observed == [("t", "terminal"), ("t", "success")], 2)
    await ctl.stop()
