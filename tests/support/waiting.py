"""Waiting for state that changes in the background: the one polling helper of the test suite.

``eventually`` polls a plain predicate (a cache, a counter, a list a receiver fills);
``eventually_async`` an awaitable check (an API read); ``wait_for_object`` reads an object
through the API (not the operator's cache) until it matches. Each fails the test with what it
last saw, never waits silently.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from lifecycle.core.model import ResourceKind
from lifecycle.kube.client import Body, KubeClient
from lifecycle.kube.errors import NotFound

__all__ = ["eventually", "eventually_async", "wait_for_object"]


async def eventually(pred: Callable[[], object], within: float = 5.0, step: float = 0.01) -> None:
    """Poll ``pred`` until it is truthy, failing the test after ``within`` seconds."""
    loop = asyncio.get_running_loop()
    end = loop.time() + within
    while not pred():
        if loop.time() > end:
            raise AssertionError(f"condition not met within {within}s: {pred}")
        await asyncio.sleep(step)


async def eventually_async(
    check: Callable[[], Awaitable[object]], within: float = 5.0, step: float = 0.01
) -> None:
    """Await ``check()`` until it is truthy, failing the test after ``within`` seconds."""
    loop = asyncio.get_running_loop()
    end = loop.time() + within
    while not await check():
        if loop.time() > end:
            raise AssertionError(f"condition not met within {within}s: {check}")
        await asyncio.sleep(step)


async def wait_for_object(
    client: KubeClient,
    kind: ResourceKind,
    name: str,
    namespace: str,
    predicate: Callable[[Body | None], bool],
    *,
    within: float = 20.0,
) -> Any:
    """Read the object (None while absent) until ``predicate`` holds; fail with the last seen."""
    last: Body | None = None
    try:
        async with asyncio.timeout(within):
            while True:
                try:
                    last = await client.get(kind, name, namespace)
                except NotFound:
                    last = None
                if predicate(last):
                    return last
                await asyncio.sleep(0.02)
    except TimeoutError:
        pytest.fail(f"{kind.plural} {namespace}/{name} never matched within {within}s: {last}")
