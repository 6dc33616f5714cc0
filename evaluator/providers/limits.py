"""At most N queries in flight per metric provider (its ``targetServer``), process-wide.

``limited(provider, target, limit)`` wraps a provider so that every call first takes a slot of the
semaphore of ``target``; all pools of the process (KeptnMetric, KeptnEvaluation and Analysis
controllers) share the semaphores of their event loop, so one busy Analysis cannot open hundreds of
connections to one backend. ``limit`` comes from ``--max-provider-queries`` (default 10); the first
caller of a target fixes its size.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Final

from evaluator.providers.base import MetricValue, Provider, StepValues

__all__ = ["DEFAULT_LIMIT", "LimitedProvider", "limited"]

DEFAULT_LIMIT: Final = 10

_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Semaphore]] = (
    weakref.WeakKeyDictionary()
)


def _semaphore(target: str, limit: int) -> asyncio.Semaphore:
    per_target = _by_loop.setdefault(asyncio.get_running_loop(), {})
    return per_target.setdefault(target, asyncio.Semaphore(max(1, limit)))


class LimitedProvider:
    """A provider whose calls wait for a slot of their target's semaphore."""

    def __init__(self, inner: Provider, target: str, limit: int) -> None:
        self._inner = inner
        self._target = target
        self._limit = limit

    async def query(self, query: str, *, at: datetime) -> MetricValue:
        async with _semaphore(self._target, self._limit):
            return await self._inner.query(query, at=at)

    async def range_value(self, query: str, *, start: datetime, end: datetime) -> MetricValue:
        async with _semaphore(self._target, self._limit):
            return await self._inner.range_value(query, start=start, end=end)

    async def query_range(
        self, query: str, *, start: datetime, end: datetime, step: timedelta
    ) -> StepValues:
        async with _semaphore(self._target, self._limit):
            return await self._inner.query_range(query, start=start, end=end, step=step)

    async def analysis_value(
        self, query: str, *, start: datetime, end: datetime, args: Mapping[str, str]
    ) -> MetricValue:
        async with _semaphore(self._target, self._limit):
            return await self._inner.analysis_value(query, start=start, end=end, args=args)


def limited(provider: Provider, target: str, limit: int = DEFAULT_LIMIT) -> Provider:
    """``provider`` with at most ``limit`` concurrent calls per ``target``."""
    return LimitedProvider(provider, target, limit)
