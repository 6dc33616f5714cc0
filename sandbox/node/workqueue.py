"""A keyed work queue: dedupes keys, never runs one key twice at once, delays and backs off.

Like controller-runtime's queue, reconcile gets only a key and returns when to look again
(seconds, or None). An exception retries the key with a per-key exponential backoff. Delays
are timers (``loop.call_later``), never polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

__all__ = ["WorkQueue"]

log = logging.getLogger(__name__)

K = TypeVar("K")


class WorkQueue(Generic[K]):
    """Runs ``reconcile(key)`` for added keys, one at a time per key, many keys at once."""

    def __init__(self, name: str, reconcile: Callable[[K], Awaitable[float | None]]) -> None:
        self._name = name
        self._reconcile = reconcile
        self._running: set[K] = set()
        self._dirty: set[K] = set()
        self._timers: dict[K, asyncio.TimerHandle] = {}
        self._failures: dict[K, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    def add(self, key: K, delay: float = 0.0) -> None:
        """Queue a key now, or after ``delay`` seconds (the earliest request wins)."""
        if self._closed:
            return
        if delay > 0:
            loop = asyncio.get_running_loop()
            when = loop.time() + delay
            timer = self._timers.get(key)
            if timer is not None and timer.when() <= when:
                return
            if timer is not None:
                timer.cancel()
            self._timers[key] = loop.call_at(when, self._fire, key)
            return
        if key in self._running:
            self._dirty.add(key)
            return
        self._running.add(key)
        task = asyncio.create_task(self._work(key), name=f"{self._name}-{key}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _fire(self, key: K) -> None:
        self._timers.pop(key, None)
        self.add(key)

    async def _work(self, key: K) -> None:
        try:
            while True:
                self._dirty.discard(key)
                try:
                    again = await self._reconcile(key)
                except Exception as exc:  # not cancellation: a BaseException
                    n = self._failures.get(key, 0) + 1
                    self._failures[key] = n
                    log.debug("%s %s failed (%d): %r", self._name, key, n, exc)
                    again = min(0.02 * 2**n, 5.0)
                else:
                    self._failures.pop(key, None)
                if again is not None:
                    self.add(key, max(again, 0.001))
                if key not in self._dirty:
                    return
        finally:
            self._running.discard(key)

    async def close(self) -> None:
        """Cancel timers and running reconciles."""
        self._closed = True
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
