"""The per-object write limiter: burst then rate, and buckets full again are forgotten."""

from __future__ import annotations

import pytest

from lifecycle.kube import ratelimit
from lifecycle.kube.ratelimit import ObjectWriteLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(ratelimit.time, "monotonic", clock.monotonic)
    monkeypatch.setattr(ratelimit.asyncio, "sleep", clock.sleep)
    return clock


async def test_burst_writes_pass_then_one_per_interval(clock: Clock) -> None:
    limiter = ObjectWriteLimiter(rate=10.0, burst=3)
    for _ in range(3):
        await limiter.wait("a")
    assert clock.slept == []
    await limiter.wait("a")
    await limiter.wait("a")
    assert clock.slept == [0.1, 0.1]  # the 4th and 5th wait for the next tokens
    await limiter.wait("b")  # another object has its own bucket
    assert clock.slept == [0.1, 0.1]
    clock.now += 0.25  # 2.5 tokens back: two writes pass, the third waits half an interval
    await limiter.wait("a")
    await limiter.wait("a")
    await limiter.wait("a")
    assert clock.slept == [0.1, 0.1, 0.05]


async def test_buckets_full_again_are_forgotten(
    clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ratelimit, "SWEEP_EVERY", 3)
    limiter = ObjectWriteLimiter(rate=10.0, burst=20)
    await limiter.wait("done")
    await limiter.wait("done")
    assert len(limiter) == 1
    clock.now += 0.2  # the two tokens are back: "done" is a full bucket
    await limiter.wait("busy")  # the third write sweeps
    assert len(limiter) == 1
