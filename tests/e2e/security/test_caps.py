"""Finding 6 (caps): concurrent Jobs and concurrent queries per provider are bounded."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from evaluator.providers.base import MetricValue, StepValues
from tests.support.clock import FakeClock


class _Jobs:
    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def list(self, namespace: str | None = None) -> list[dict[str, Any]]:
        return self.items


def _job(task_uid: str, done: bool) -> dict[str, Any]:
    owner = {"kind": "KeptnTask", "uid": task_uid, "controller": True}
    conditions = [{"type": "Complete", "status": "True"}] if done else []
    return {"metadata": {"ownerReferences": [owner]}, "status": {"conditions": conditions}}


def test_job_slots_cap_running_jobs() -> None:
    from lifecycle.flow.jobslots import JobSlots

    jobs = _Jobs()
    clock = FakeClock()
    slots = JobSlots(2, jobs, lambda j: not j["status"]["conditions"], clock=clock.seconds)
    task = [{"metadata": {"uid": f"t{i}"}} for i in range(4)]
    assert slots.acquire(task[0]) and slots.acquire(task[1])
    assert not slots.acquire(task[2])  # two Jobs created, not even in the cache yet
    assert slots.acquire(task[0])  # the same task asking again keeps its slot
    jobs.items = [_job("t0", done=True), _job("t1", done=False)]
    assert slots.acquire(task[2])  # t0's Job finished
    assert not slots.acquire(task[3])
    jobs.items = [_job("t1", done=False), _job("t9", done=False)]  # e.g. from before a restart
    clock.advance(100.0)  # t2's create never showed up in the cache: forgotten after the cache lag
    assert not slots.acquire(task[3])
    jobs.items = [_job("t9", done=False)]
    assert slots.acquire(task[3])


class _Slow:
    """A provider that counts the calls in flight."""

    def __init__(self) -> None:
        self.active = 0
        self.peak = 0

    async def _call(self) -> MetricValue:
        self.active += 1
        self.peak = max(self.peak, self.active)
        await asyncio.sleep(0.01)
        self.active -= 1
        return MetricValue(1.0, b"")

    async def query(self, query: str, *, at: datetime) -> MetricValue:
        return await self._call()

    async def range_value(self, query: str, *, start: datetime, end: datetime) -> MetricValue:
        return await self._call()

    async def query_range(
        self, query: str, *, start: datetime, end: datetime, step: timedelta
    ) -> StepValues:
        await self._call()
        return StepValues((1.0,), b"")

    async def analysis_value(
        self, query: str, *, start: datetime, end: datetime, args: Mapping[str, str]
    ) -> MetricValue:
        return await self._call()


async def test_queries_per_provider_are_capped() -> None:
    from evaluator.providers.limits import limited

    backend, other = _Slow(), _Slow()
    a = limited(backend, "http://prom-a", 3)
    b = limited(backend, "http://prom-a", 3)  # another pool, same targetServer: same slots
    c = limited(other, "http://prom-b", 3)
    now = datetime.now(UTC)
    await asyncio.gather(
        *(p.query("up", at=now) for p in (a, b) for _ in range(20)),
        *(c.query("up", at=now) for _ in range(5)),
    )
    assert backend.peak == 3
    assert other.peak == 3
