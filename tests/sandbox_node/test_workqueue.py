"""The node's work queue: dedupe, one run per key at a time, delays, retries with backoff."""

from __future__ import annotations

import asyncio

from sandbox.node.workqueue import WorkQueue


async def test_one_key_never_runs_twice_at_once_and_changes_during_a_run_rerun_it() -> None:
    running: set[str] = set()
    runs: list[str] = []
    overlap = False
    gate = asyncio.Event()

    async def reconcile(key: str) -> float | None:
        nonlocal overlap
        overlap = overlap or key in running
        running.add(key)
        runs.append(key)
        await gate.wait()
        running.discard(key)
        return None

    q: WorkQueue[str] = WorkQueue("t", reconcile)
    q.add("a")
    await asyncio.sleep(0)
    for _ in range(5):  # five changes while "a" runs collapse into one more run
        q.add("a")
    q.add("b")
    await asyncio.sleep(0.01)
    gate.set()
    await asyncio.sleep(0.05)
    await q.close()
    assert not overlap
    assert runs.count("a") == 2 and runs.count("b") == 1


async def test_requeue_after_and_earliest_delay_wins() -> None:
    loop = asyncio.get_running_loop()
    seen: list[float] = []
    start = loop.time()

    async def reconcile(key: str) -> float | None:
        seen.append(loop.time() - start)
        return 0.05 if len(seen) == 1 else None

    q: WorkQueue[str] = WorkQueue("t", reconcile)
    q.add("k", delay=5.0)
    q.add("k", delay=0.02)  # earlier: replaces the 5 s timer
    await asyncio.sleep(0.15)
    await q.close()
    assert len(seen) == 2
    assert 0.015 <= seen[0] < 0.1
    assert seen[1] - seen[0] >= 0.045


async def test_errors_retry_with_backoff_until_success() -> None:
    attempts = 0

    async def reconcile(key: str) -> float | None:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise RuntimeError("API hiccup")
        return None

    q: WorkQueue[str] = WorkQueue("t", reconcile)
    q.add("k")
    await asyncio.sleep(0.3)
    await q.close()
    assert attempts == 3


async def test_close_cancels_timers_and_runs() -> None:
    started = asyncio.Event()

    async def reconcile(key: str) -> float | None:
        started.set()
        await asyncio.sleep(10)
        return None

    q: WorkQueue[str] = WorkQueue("t", reconcile)
    q.add("slow")
    q.add("later", delay=10)
    await started.wait()
    await asyncio.wait_for(q.close(), 1)
    q.add("ignored")  # a closed queue accepts nothing
    await asyncio.sleep(0.01)
