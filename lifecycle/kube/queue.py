"""WorkQueue: the controller-runtime work queue for asyncio (dedupe, per-key serial, delays, backoff).

Invariants (client-go's ``workqueue`` semantics):
- a key is queued at most once: adding it again before a worker takes it is a no-op;
- a key is never held by two workers at once: a key added while it is being processed is
  marked dirty and handed out again once, after ``done(key)``;
- ``add(key, after=...)``/``add(key, at=...)`` keeps only the earliest pending deadline per key;
- ``cancel(key)`` drops the key's pending timer (a reconcile's result supersedes the deadline
  an earlier reconcile asked for: level-based, each result names every deadline still due);
- ``backoff(key)`` re-adds after ``base_delay * 2**failures`` (capped at ``max_delay``) and
  ``forget(key)`` resets the count after a success;
- after ``shutdown()`` no key is accepted, queued keys and timers are dropped (level-based
  reconciles pick them up after a restart) and ``get()`` raises ``QueueShutDown``, so
  workers finish their current key and leave.
It never runs the work itself (controller.py does) and never reads the wall clock except to
turn an ``at`` datetime into a delay.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Hashable
from datetime import UTC, datetime
from typing import Generic, TypeVar

__all__ = ["QueueShutDown", "WorkQueue"]

K = TypeVar("K", bound=Hashable)


class QueueShutDown(Exception):
    """Raised by ``get()`` once the queue is shut down and drained."""


class WorkQueue(Generic[K]):
    """A deduplicating, per-key-serial, delaying, rate-limited queue of hashable keys."""

    def __init__(
        self,
        *,
        base_delay: float = 0.005,
        max_delay: float = 300.0,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._base = base_delay
        self._max = max_delay
        self._now = now
        self._ready: deque[K] = deque()
        self._dirty: set[K] = set()
        self._processing: set[K] = set()
        self._timers: dict[K, tuple[float, asyncio.TimerHandle]] = {}
        self._failures: dict[K, int] = {}
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._shutdown = False
        self.fired = 0
        """Delayed adds whose timer fired so far (the scale benchmark's idle figure)."""

    def __len__(self) -> int:
        return len(self._ready)

    @property
    def processing(self) -> frozenset[K]:
        """Keys currently held by a worker."""
        return frozenset(self._processing)

    @property
    def delayed(self) -> int:
        """Keys waiting for a timer."""
        return len(self._timers)

    def deadlines(self) -> list[float]:
        """Loop times of the pending timers (what a delayed key waits for)."""
        return [deadline for deadline, _ in self._timers.values()]

    # -- adding ---------------------------------------------------------------------------

    def add(self, key: K, *, after: float | None = None, at: datetime | None = None) -> None:
        """Queue ``key`` now, ``after`` seconds from now, or at the datetime ``at``."""
        if self._shutdown:
            return
        delay = after
        if at is not None:
            at_delay = (at - self._now()).total_seconds()
            delay = at_delay if delay is None else min(delay, at_delay)
        if delay is not None and delay > 0:
            self._add_later(key, delay)
            return
        if key in self._dirty:
            return
        self._dirty.add(key)
        if key in self._processing:
            return  # re-queued by done()
        self._ready.append(key)
        self._wake()

    def _add_later(self, key: K, delay: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + delay
        current = self._timers.get(key)
        if current is not None:
            if current[0] <= deadline:
                return  # an earlier wake-up is already pending
            current[1].cancel()
        handle = loop.call_at(deadline, self._fire, key)
        self._timers[key] = (deadline, handle)

    def cancel(self, key: K) -> None:
        """Drop the pending timer of ``key``, if any (a queued or processing key stays)."""
        current = self._timers.pop(key, None)
        if current is not None:
            current[1].cancel()

    def _fire(self, key: K) -> None:
        self.fired += 1
        self._timers.pop(key, None)
        self.add(key)

    def _wake(self) -> None:
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                return

    # -- taking ---------------------------------------------------------------------------

    async def get(self) -> K:
        """Wait for a key and mark it as processing; call ``done(key)`` when finished."""
        while not self._ready:
            if self._shutdown:
                raise QueueShutDown
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(fut)
            try:
                await fut
            except asyncio.CancelledError:
                # Pass a wake-up we may have consumed on to the next waiter.
                if fut.done() and not fut.cancelled():
                    self._wake()
                raise
        key = self._ready.popleft()
        self._dirty.discard(key)
        self._processing.add(key)
        return key

    def done(self, key: K) -> None:
        """Release ``key``; if it was added while processing, queue it again."""
        self._processing.discard(key)
        if key in self._dirty and not self._shutdown:
            self._ready.append(key)
            self._wake()

    # -- rate limiting --------------------------------------------------------------------

    def backoff(self, key: K) -> float:
        """Re-add ``key`` after its next exponential delay; returns that delay in seconds."""
        n = self._failures.get(key, 0)
        self._failures[key] = n + 1
        delay = min(self._base * 2.0**n, self._max)
        self.add(key, after=delay)
        return delay

    def forget(self, key: K) -> None:
        """Reset the backoff of ``key`` (after a successful reconcile)."""
        self._failures.pop(key, None)

    def failures(self, key: K) -> int:
        """How many times in a row ``key`` failed."""
        return self._failures.get(key, 0)

    # -- shutdown -------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Accept no more keys, drop queued keys and timers; workers finish their current key."""
        self._shutdown = True
        self._ready.clear()
        self._dirty.clear()
        for _, handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        self._wake_all()

    def _wake_all(self) -> None:
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)
