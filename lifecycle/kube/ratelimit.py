"""A token bucket per object: writes per object per second stay bounded whatever its spec says.

``ObjectWriteLimiter.wait(key)`` returns at once while the object's bucket has a token (``burst``
writes back to back, as a flow's transitions need) and otherwise sleeps until the next token
(``rate`` per second). The client calls it before every update and patch, so no controller, spec
or retry loop can make one object write faster than ``rate`` per second for long.

A bucket is held as one number, the time at which it is full again (GCRA: ``burst`` tokens then
``rate`` per second, the same admissions as counting tokens); a full bucket is the same as
none, so buckets full again are forgotten (swept every ``SWEEP_EVERY`` writes: an object
done with writing, e.g. a completed version, costs nothing ``burst / rate`` seconds later), and
the least recently written beyond ``MAX_KEYS`` too.
"""

from __future__ import annotations

import asyncio
import time
from typing import Final

__all__ = ["ObjectWriteLimiter"]

MAX_KEYS: Final = 10_000
SWEEP_EVERY: Final = 1_000


class ObjectWriteLimiter:
    """Per-key token buckets (``rate`` tokens per second, at most ``burst`` saved)."""

    def __init__(self, rate: float = 10.0, burst: int = 20) -> None:
        self.rate = rate
        self.burst = burst
        self._full_at: dict[str, float] = {}
        """Per key, when its bucket holds ``burst`` tokens again (oldest write first)."""
        self._added = 0

    def __len__(self) -> int:
        return len(self._full_at)

    async def wait(self, key: str) -> None:
        """Take a token for ``key``, sleeping until the bucket has one."""
        now = time.monotonic()
        full_at = max(self._full_at.pop(key, now), now) + 1.0 / self.rate
        self._full_at[key] = full_at  # the newest last
        self._added += 1
        if self._added >= SWEEP_EVERY:
            self._sweep(now)
        while len(self._full_at) > MAX_KEYS:
            del self._full_at[next(iter(self._full_at))]
        tokens = self.burst - (full_at - now) * self.rate  # left after this one
        if tokens < 0:
            await asyncio.sleep(-tokens / self.rate)

    def _sweep(self, now: float) -> None:
        self._added = 0
        for key in [k for k, full_at in self._full_at.items() if full_at <= now]:
            del self._full_at[key]
