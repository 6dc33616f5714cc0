"""A token bucket per object: writes per object per second stay bounded whatever its spec says.

``ObjectWriteLimiter.wait(key)`` returns at once while the object's bucket has a token (``burst``
writes back to back, as a flow's transitions need) and otherwise sleeps until the next token
(``rate`` per second). The client calls it before every update and patch, so no controller, spec
or retry loop can make one object write faster than ``rate`` per second for long. Buckets of
objects not written for a while are forgotten (LRU, ``MAX_KEYS``).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from typing import Final

__all__ = ["ObjectWriteLimiter"]

MAX_KEYS: Final = 10_000


class ObjectWriteLimiter:
    """Per-key token buckets (``rate`` tokens per second, at most ``burst`` saved)."""

    def __init__(self, rate: float = 10.0, burst: int = 20) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    async def wait(self, key: str) -> None:
        """Take a token for ``key``, sleeping until the bucket has one."""
        now = time.monotonic()
        tokens, stamp = self._buckets.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - stamp) * self.rate) - 1.0
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > MAX_KEYS:
            self._buckets.popitem(last=False)
        if tokens < 0:
            await asyncio.sleep(-tokens / self.rate)
