"""Fault injection: per-verb error rates, latency, dropped watches and forced 410s."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from kubernetes_asyncio import client, watch
from kubernetes_asyncio.client.exceptions import ApiException

from sandbox.faults import FaultSettings
from sandbox.server import Sandbox


async def _set_faults(sb: Sandbox, body: dict[str, object]) -> tuple[int, dict[str, object]]:
    headers = {"Authorization": f"Bearer {sb.token}"}
    async with (
        aiohttp.ClientSession() as s,
        s.put(f"{sb.url}/sandbox/faults", json=body, headers=headers) as resp,
    ):
        return resp.status, await resp.json()


async def test_error_rate_per_verb(sandbox: Sandbox, kube: client.ApiClient) -> None:
    core = client.CoreV1Api(kube)
    status, shown = await _set_faults(sandbox, {"error_rate": {"create": 1.0}, "error_kind": "503"})
    assert status == 200 and shown["error_rate"] == {"create": 1.0}
    with pytest.raises(ApiException) as err:
        await core.create_namespaced_config_map("default", {"metadata": {"name": "x"}})
    assert err.value.status == 503
    assert json.loads(err.value.body)["reason"] == "ServiceUnavailable"
    await core.list_namespaced_config_map("default")  # other verbs are untouched
    await _set_faults(sandbox, {"error_rate": {"*": 1.0}, "error_kind": "409"})
    await core.list_namespaced_config_map(
        "default"
    )  # a real API server never answers 409 to a read
    with pytest.raises(ApiException) as err:
        await core.create_namespaced_config_map("default", {"metadata": {"name": "x"}})
    assert err.value.status == 409
    await _set_faults(sandbox, {})
    await core.create_namespaced_config_map("default", {"metadata": {"name": "x"}})
    assert sandbox.faults.injected == 2


async def test_partial_rate_is_repeatable_with_a_seed(
    kube: client.ApiClient, sandbox: Sandbox
) -> None:
    core = client.CoreV1Api(kube)

    async def failures() -> list[bool]:
        await _set_faults(sandbox, {"error_rate": {"get": 0.5}, "seed": 7})
        out = []
        for _ in range(40):
            try:
                await core.read_namespace("default")
                out.append(False)
            except ApiException:
                out.append(True)
        return out

    first, second = await failures(), await failures()
    assert first == second
    assert 5 < sum(first) < 35


async def test_bad_fault_settings_are_refused(sandbox: Sandbox) -> None:
    status, body = await _set_faults(sandbox, {"error_rate": {"frobnicate": 1.0}})
    assert status == 400 and "unknown verb" in str(body["message"])
    with pytest.raises(ValueError):
        FaultSettings.from_json({"nope": 1})


async def test_latency_and_timeouts(kube: client.ApiClient, sandbox: Sandbox) -> None:
    core = client.CoreV1Api(kube)
    await _set_faults(sandbox, {"latency_seconds": 0.2})
    loop = asyncio.get_running_loop()
    start = loop.time()
    await core.read_namespace("default")
    assert loop.time() - start >= 0.2
    await _set_faults(
        sandbox, {"error_rate": {"get": 1.0}, "error_kind": "timeout", "timeout_seconds": 0.1}
    )
    with pytest.raises(ApiException) as err:
        await core.read_namespace("default")
    assert err.value.status == 504


async def test_forced_410_and_dropped_watches(kube: client.ApiClient, sandbox: Sandbox) -> None:
    core = client.CoreV1Api(kube)
    cm = await core.create_namespaced_config_map("default", {"metadata": {"name": "x"}})
    await _set_faults(sandbox, {"watch_gone": True})
    with pytest.raises(ApiException) as err:
        async for _ in watch.Watch().stream(
            core.list_namespaced_config_map,
            "default",
            resource_version=cm.metadata.resource_version,
            timeout_seconds=5,
        ):
            pass
    assert err.value.status == 410
    await _set_faults(sandbox, {"watch_drop_seconds": 0.3})
    loop = asyncio.get_running_loop()
    start = loop.time()
    async for _ in watch.Watch().stream(
        core.list_namespaced_config_map,
        "default",
        resource_version=cm.metadata.resource_version,
        timeout_seconds=30,
    ):
        pass
    assert loop.time() - start < 2


def test_settings_from_constructor() -> None:
    settings = FaultSettings(error_rate={"patch": 0.5}, latency_seconds=0.01)
    settings.check()
    sb = Sandbox(node=False, faults=settings)
    assert sb.faults.active
    assert sb.faults.settings.error_rate == {"patch": 0.5}
