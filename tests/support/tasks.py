"""The leaked-task check: a test that starts background tasks must stop them before it ends.

Use the fixture ``no_leaked_tasks`` (registered in tests/conftest.py): it records the event
loop's tasks when the test starts and fails the test if tasks it started are still pending
after a short grace period (a controller, informer or queue that ``stop()`` did not end).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest_asyncio

__all__ = ["leaked_tasks", "no_leaked_tasks"]


async def leaked_tasks(before: set[asyncio.Task[object]], grace: float = 0.5) -> list[str]:
    """Names of tasks not in ``before`` still pending after ``grace`` seconds."""
    loop = asyncio.get_running_loop()
    end = loop.time() + grace
    while True:
        current = asyncio.current_task()
        pending = [t for t in asyncio.all_tasks() if t not in before and t is not current]
        if not pending or loop.time() >= end:
            return sorted(t.get_name() for t in pending)
        await asyncio.sleep(0.01)


@pytest_asyncio.fixture
async def no_leaked_tasks() -> AsyncIterator[None]:
    """Fail the test when it leaves asyncio tasks running (see the module docstring)."""
    before = set(asyncio.all_tasks())
    yield
    leaked = await leaked_tasks(before)
    assert not leaked, f"tasks still running after the test: {leaked}"
