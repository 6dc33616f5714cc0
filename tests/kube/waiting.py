"""Polling helper for the lifecycle.kube tests (state that changes in the background)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def eventually(pred: Callable[[], object], within: float = 5.0, step: float = 0.005) -> None:
    """Poll ``pred`` until it is truthy, failing the test after ``within`` seconds."""
    for _ in range(int(within / step) + 1):
        if pred():
            return
        await asyncio.sleep(step)
    raise AssertionError(f"condition not met within {within}s: {pred}")
