"""A token bucket per object: writes per object per second stay bounded whatever its spec says.

``ObjectWriteLimiter.wait(key)`` returns at once while the object's bucket has a token (``burst``
writes back to back, as a flow's transitions need) and otherwise sleeps until the next token
(``rate`` per second). The client calls it before every update and patch, so no controller, spec
or retry loop can make one object write faster than ``rate`` per second for long. Buckets of
objects not written for a while are forgotten (LRU, ``max_keys``).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Final

__all__ = ["DEFAULT_BURST", "DEFAULT_RATE", "ObjectWriteLimiter"]

DEFAULT_RATE: Final = 10.0
DEFAULT_BURST: Final = 20


class ObjectWriteLimiter:
    """Per-key token buckets (``rate`` tokens per second, at most ``burst`` saved)."""

    def __init__(
        self,
        rate: float = DEFAULT_RATE,
        burst: int = DEFAULT_BURST,
        *,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.delayed = 0
        """Writes that had to wait (for tests and /metrics)."""
        self._max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def reserve(self, key: str) -> float:
        """Take a token for ``key``; the seconds to wait before using it (0 when available)."""
        now = self._clock()
        tokens, stamp = self._buckets.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - stamp) * self.rate) - 1.0
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        return 0.0 if tokens >= 0 else -tokens / self.rate

    async def wait(self, key: str) -> None:
        """Sleep until ``key`` may write again."""
        delay = self.reserve(key)
        if delay > 0:
            self.delayed += 1
            await asyncio.sleep(delay)
