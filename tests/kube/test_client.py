"""KubeClient against the sandbox API server over real HTTP."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from lifecycle.core.model import CONFIG_MAP, KEPTN_APP, NAMESPACE
from lifecycle.kube.client import KubeClient
from lifecycle.kube.errors import AlreadyExists, Conflict, NotFound, Transient, Unauthorized
from sandbox import Sandbox


def cm(name: str, ns: str = "default", **data: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns, "labels": {"t": "x"}}, "data": data}


async def test_crud_round_trip_returns_plain_dicts(client: KubeClient) -> None:
    created = await client.create(CONFIG_MAP, cm("c1", a="1"))
    assert created["metadata"]["uid"] and created["metadata"]["resourceVersion"]
    assert created["kind"] == "ConfigMap" and created["data"] == {"a": "1"}

    got = await client.get(CONFIG_MAP, "c1", "default")
    assert got["metadata"]["uid"] == created["metadata"]["uid"]

    patched = await client.patch(CONFIG_MAP, "c1", {"data": {"b": "2"}}, "default")
    assert patched["data"] == {"a": "1", "b": "2"}

    patched["data"]["c"] = "3"
    replaced = await client.replace(CONFIG_MAP, patched)
    assert replaced["data"] == {"a": "1", "b": "2", "c": "3"}

    items, rv = await client.list(CONFIG_MAP, "default", label_selector="t=x")
    assert [i["metadata"]["name"] for i in items] == ["c1"]
    assert items[0]["kind"] == "ConfigMap" and items[0]["apiVersion"] == "v1"
    assert int(rv) >= int(replaced["metadata"]["resourceVersion"])

    await client.delete(CONFIG_MAP, "c1", "default")
    with pytest.raises(NotFound):
        await client.get(CONFIG_MAP, "c1", "default")


async def test_errors_are_ours(client: KubeClient) -> None:
    await client.create(CONFIG_MAP, cm("dup"))
    with pytest.raises(AlreadyExists):
        await client.create(CONFIG_MAP, cm("dup"))
    stale = await client.get(CONFIG_MAP, "dup", "default")
    await client.patch(CONFIG_MAP, "dup", {"data": {"x": "1"}}, "default")
    with pytest.raises(Conflict):
        await client.replace(CONFIG_MAP, stale)
    with pytest.raises(Conflict):
        await client.delete(
            CONFIG_MAP, "dup", "default", resource_version=stale["metadata"]["resourceVersion"]
        )
    with pytest.raises(NotFound):
        await client.patch(CONFIG_MAP, "missing", {"data": {}}, "default")


async def test_status_subresource_and_request_counts(client: KubeClient) -> None:
    client.reset_counts()
    app = {
        "metadata": {"name": "shop", "namespace": "default"},
        "spec": {"version": "1.0", "workloads": []},
    }
    created = await client.create(KEPTN_APP, app)
    assert created["apiVersion"] == "lifecycle.keptn.sh/v1" and created["kind"] == "KeptnApp"
    after = await client.patch_status(
        KEPTN_APP, "shop", {"status": {"currentVersion": "1.0"}}, "default"
    )
    assert after["status"]["currentVersion"] == "1.0"
    assert after["spec"]["version"] == "1.0"
    await client.get(KEPTN_APP, "shop", "default")
    await client.list(KEPTN_APP)
    assert client.request_counts == {"create": 1, "patch": 1, "get": 1, "list": 1}
    assert client.request_counts_by_resource["patch keptnapps/status"] == 1


async def test_list_follows_continue_pages(client: KubeClient) -> None:
    for i in range(7):
        await client.create(CONFIG_MAP, cm(f"page-{i}", "pages"))
    client.reset_counts()
    items, _ = await client.list(CONFIG_MAP, "pages", limit=3)
    assert sorted(i["metadata"]["name"] for i in items) == [f"page-{i}" for i in range(7)]
    assert client.request_counts["list"] >= 1


async def test_watch_streams_changes_from_a_resource_version(client: KubeClient) -> None:
    _, rv = await client.list(CONFIG_MAP, "w")
    seen: list[tuple[str, str]] = []

    async def consume() -> None:
        stream = client.watch(CONFIG_MAP, "w", resource_version=rv, timeout_seconds=10)
        async with contextlib.aclosing(stream) as events:
            async for etype, obj in events:
                if etype == "BOOKMARK":
                    continue
                seen.append((etype, obj["metadata"]["name"]))
                assert obj["kind"] == "ConfigMap"
                if etype == "DELETED":
                    return

    task = asyncio.create_task(consume())
    await client.create(CONFIG_MAP, cm("w1", "w"))
    await client.patch(CONFIG_MAP, "w1", {"data": {"k": "v"}}, "w")
    await client.delete(CONFIG_MAP, "w1", "w")
    await asyncio.wait_for(task, 5)
    assert seen == [("ADDED", "w1"), ("MODIFIED", "w1"), ("DELETED", "w1")]
    assert client.request_counts["watch"] == 1


async def test_watch_ends_at_the_server_timeout(client: KubeClient) -> None:
    _, rv = await client.list(CONFIG_MAP, "quiet")
    loop = asyncio.get_running_loop()
    start = loop.time()
    async with asyncio.timeout(5):
        async for _ in client.watch(CONFIG_MAP, "quiet", resource_version=rv, timeout_seconds=1):
            pass
    assert 0.5 <= loop.time() - start < 4


async def test_kubeconfig_over_tls_with_token(sandbox: Sandbox) -> None:
    kc = await KubeClient.from_kubeconfig(str(sandbox.kubeconfig_path))
    try:
        ns, _ = await kc.list(NAMESPACE)
        assert "default" in {n["metadata"]["name"] for n in ns}
    finally:
        await kc.close()
    anonymous = KubeClient.for_url(sandbox.url)
    try:
        with pytest.raises(Unauthorized):
            await anonymous.list(NAMESPACE)
    finally:
        await anonymous.close()


async def test_connection_errors_are_transient() -> None:
    kc = KubeClient.for_url("http://127.0.0.1:9")  # discard port: nothing listens
    try:
        with pytest.raises(Transient):
            await kc.get(CONFIG_MAP, "x", "default")
        with pytest.raises(Transient):
            async for _ in kc.watch(CONFIG_MAP, "default"):
                pass
    finally:
        await kc.close()
