"""The in-process transport the sandbox gives its node is exactly as strict as HTTP.

Each request runs through the same aiohttp app (router, authentication, RBAC, validation,
admission, watch code): an unknown token gets 401, a ServiceAccount without a Role 403, an
invalid object 422, and a watch streams the same frames.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from sandbox.inprocess import InProcessTransport
from sandbox.node.client import ApiClient, ApiError, Invalid, Resource
from sandbox.server import Sandbox
from tests.support.sandbox import sa_token

CONFIGMAPS = Resource("", "v1", "configmaps")
SERVICEACCOUNTS = Resource("", "v1", "serviceaccounts")


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    sb = await Sandbox.start(node=False)
    yield sb
    await sb.stop()


def _client(sb: Sandbox, token: str) -> ApiClient:
    assert sb._app is not None
    return ApiClient("", token, InProcessTransport(sb._app))


async def test_in_process_requests_are_authenticated_authorized_and_validated(
    sandbox: Sandbox,
) -> None:
    admin = _client(sandbox, sandbox.token)
    with pytest.raises(ApiError) as unknown:
        await _client(sandbox, "not-a-token").get(CONFIGMAPS, "default", "x")
    assert unknown.value.status == 401
    await admin.create(SERVICEACCOUNTS, "default", {"metadata": {"name": "bot"}})
    bot = _client(sandbox, sa_token(sandbox, "default", "bot"))
    with pytest.raises(ApiError) as denied:
        await bot.create(CONFIGMAPS, "default", {"metadata": {"name": "a"}})
    assert denied.value.status == 403
    assert 'cannot create resource "configmaps"' in denied.value.message
    with pytest.raises(Invalid) as invalid:
        await admin.create(CONFIGMAPS, "default", {"metadata": {"name": "a", "labels": {"k": "-"}}})
    assert "metadata.labels: Invalid value" in invalid.value.message


async def test_in_process_watch_streams_changes_until_the_caller_leaves(
    sandbox: Sandbox,
) -> None:
    admin = _client(sandbox, sandbox.token)
    _, rv = await admin.list(CONFIGMAPS, "default")
    seen: list[tuple[str, str]] = []

    async def watch() -> None:
        async with contextlib.aclosing(admin.watch(CONFIGMAPS, rv)) as events:
            async for event in events:
                seen.append((event.type, event.object["metadata"]["name"]))
                if len(seen) == 2:
                    return

    task = asyncio.create_task(watch())
    await admin.create(CONFIGMAPS, "default", {"metadata": {"name": "a"}})
    await admin.patch(CONFIGMAPS, "default", "a", {"data": {"k": "v"}})
    await asyncio.wait_for(task, 5)
    assert seen == [("ADDED", "a"), ("MODIFIED", "a")]
    assert not sandbox.store.bucket("configmaps").watchers  # the departed watch was dropped
