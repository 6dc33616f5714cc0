"""A hand-moved clock for queue, timer and cache-lag tests (no sleeping to let time pass)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ["FakeClock"]

_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


class FakeClock:
    """Time that moves only by ``advance``: call it for an aware datetime (``now=`` of the
    WorkQueue, ``clock=`` of the OperatorContext), or use ``seconds`` for float clocks."""

    def __init__(self, start: datetime = _EPOCH) -> None:
        self._start = start
        self._now = start

    def __call__(self) -> datetime:
        return self._now

    def seconds(self) -> float:
        """Seconds since the clock's start (for ``time.monotonic``-like clocks)."""
        return (self._now - self._start).total_seconds()

    def advance(self, seconds: float) -> datetime:
        """Move the clock forward and return the new time."""
        self._now += timedelta(seconds=seconds)
        return self._now
