"""Watch: resume from a resourceVersion, bookmarks, timeouts, selector transitions, 410 re-list."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
from kubernetes_asyncio import client, watch
from kubernetes_asyncio.client.exceptions import ApiException

from sandbox.server import Sandbox
from tests.sandbox.conftest import FIXTURES, GROUP, MERGE, PLURAL, VERSION, widget


async def _events(sb: Sandbox, path: str, limit: int, within: float = 3.0) -> list[dict[str, Any]]:
    """Read raw watch lines over plain HTTP until `limit` events or the stream ends."""
    out: list[dict[str, Any]] = []
    headers = {"Authorization": f"Bearer {sb.token}"}
    async with (
        aiohttp.ClientSession() as s,
        s.get(sb.url + path, headers=headers, timeout=aiohttp.ClientTimeout(total=within)) as resp,
    ):
        assert resp.status == 200
        async for line in resp.content:
            out.append(json.loads(line))
            if len(out) >= limit:
                break
    return out


async def test_watch_from_resource_version_sees_later_changes(kube: client.ApiClient) -> None:
    co = client.CustomObjectsApi(kube)
    await co.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, widget("w1"))
    listed = await co.list_namespaced_custom_object(GROUP, VERSION, "default", PLURAL)
    rv = listed["metadata"]["resourceVersion"]

    async def change() -> None:
        await asyncio.sleep(0.1)
        await co.patch_namespaced_custom_object(
            GROUP, VERSION, "default", PLURAL, "w1", {"spec": {"retries": 7}}, _content_type=MERGE
        )
        await co.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, widget("w2"))
        await co.delete_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "w1")

    task = asyncio.create_task(change())
    seen = []
    w = watch.Watch()
    async for ev in w.stream(
        co.list_namespaced_custom_object,
        GROUP,
        VERSION,
        "default",
        PLURAL,
        resource_version=rv,
        timeout_seconds=2,
    ):
        seen.append((ev["type"], ev["object"]["metadata"]["name"]))
        if len(seen) == 3:
            w.stop()
    await task
    assert seen == [("MODIFIED", "w1"), ("ADDED", "w2"), ("DELETED", "w1")]


async def test_watch_without_resource_version_replays_current_objects(
    sandbox: Sandbox, kube: client.ApiClient
) -> None:
    core = client.CoreV1Api(kube)
    await core.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
    events = await _events(
        sandbox, "/api/v1/namespaces/default/configmaps?watch=1&timeoutSeconds=1", 1
    )
    assert events[0]["type"] == "ADDED" and events[0]["object"]["metadata"]["name"] == "a"


async def test_resume_after_disconnect_misses_nothing(
    sandbox: Sandbox, kube: client.ApiClient
) -> None:
    core = client.CoreV1Api(kube)
    first = await core.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
    rv = first.metadata.resource_version
    for name in ("b", "c"):  # happen while nobody watches
        await core.create_namespaced_config_map("default", {"metadata": {"name": name}})
    events = await _events(
        sandbox,
        f"/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={rv}&timeoutSeconds=1",
        2,
    )
    assert [e["object"]["metadata"]["name"] for e in events] == ["b", "c"]


async def test_timeout_seconds_ends_the_stream(sandbox: Sandbox) -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    events = await _events(
        sandbox,
        f"/api/v1/namespaces/default/pods?watch=1&resourceVersion={sandbox.store.rv}&timeoutSeconds=1",
        10,
    )
    assert events == []
    assert 0.9 <= loop.time() - start < 2.5


async def test_bookmarks_carry_the_current_resource_version(
    sandbox: Sandbox, kube: client.ApiClient
) -> None:
    core = client.CoreV1Api(kube)
    await core.create_namespaced_secret("default", {"metadata": {"name": "s"}})
    rv = sandbox.store.rv
    events = await _events(
        sandbox,
        f"/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={rv}&allowWatchBookmarks=true&timeoutSeconds=2",
        1,
    )
    assert events[0]["type"] == "BOOKMARK"
    assert events[0]["object"]["kind"] == "ConfigMap"
    assert int(events[0]["object"]["metadata"]["resourceVersion"]) == rv


async def test_label_selector_transitions(sandbox: Sandbox, kube: client.ApiClient) -> None:
    core = client.CoreV1Api(kube)
    cm = await core.create_namespaced_config_map(
        "default", {"metadata": {"name": "a", "labels": {"app": "x"}}}
    )
    rv = cm.metadata.resource_version

    async def change() -> None:
        await asyncio.sleep(0.1)
        await core.patch_namespaced_config_map(
            "a", "default", {"metadata": {"labels": {"app": "y"}}}
        )
        await core.patch_namespaced_config_map("a", "default", {"data": {"k": "v"}})
        await core.patch_namespaced_config_map(
            "a", "default", {"metadata": {"labels": {"app": "x"}}}
        )

    task = asyncio.create_task(change())
    events = await _events(
        sandbox,
        f"/api/v1/namespaces/default/configmaps?watch=1&labelSelector=app%3Dx&resourceVersion={rv}&timeoutSeconds=2",
        2,
    )
    await task
    assert [e["type"] for e in events] == ["DELETED", "ADDED"]


async def test_expired_resource_version_gets_410_and_relist_recovers() -> None:
    async with Sandbox(crds_dir=FIXTURES, node=False, history=3) as sb:
        from kubernetes_asyncio import config

        api = await config.new_client_from_config(config_file=str(sb.kubeconfig_path))
        async with api:
            core = client.CoreV1Api(api)
            first = await core.create_namespaced_config_map("default", {"metadata": {"name": "c0"}})
            for i in range(1, 6):
                await core.create_namespaced_config_map("default", {"metadata": {"name": f"c{i}"}})
            w = watch.Watch()
            try:
                async for _ in w.stream(
                    core.list_namespaced_config_map,
                    "default",
                    resource_version=first.metadata.resource_version,
                    timeout_seconds=1,
                ):
                    raise AssertionError("no event expected before the 410")
            except ApiException as exc:
                assert exc.status == 410
            # re-list, then watch from the list's resourceVersion
            listed = await core.list_namespaced_config_map("default")
            assert len(listed.items) == 6
            events = await _events(
                sb,
                f"/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={listed.metadata.resource_version}&timeoutSeconds=1",
                1,
            )
            assert events == []


async def test_table_watch_for_kubectl(sandbox: Sandbox, kube: client.ApiClient) -> None:
    co = client.CustomObjectsApi(kube)
    await co.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, widget("w1"))
    headers = {
        "Authorization": f"Bearer {sandbox.token}",
        "Accept": "application/json;as=Table;v=v1;g=meta.k8s.io",
    }
    async with (
        aiohttp.ClientSession() as s,
        s.get(
            sandbox.url
            + f"/apis/{GROUP}/{VERSION}/namespaces/default/{PLURAL}?watch=1&timeoutSeconds=1",
            headers=headers,
        ) as resp,
    ):
        line = await resp.content.readline()
    ev = json.loads(line)
    assert ev["object"]["kind"] == "Table"
    assert [c["name"] for c in ev["object"]["columnDefinitions"]] == [
        "Name",
        "Mode",
        "Retries",
        "Ready",
        "Age",
    ]
    assert ev["object"]["rows"][0]["cells"][:3] == ["w1", "fast", 3]


async def test_send_initial_events_ends_with_a_marked_bookmark(
    sandbox: Sandbox, kube: client.ApiClient
) -> None:
    core = client.CoreV1Api(kube)
    await core.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
    path = (
        "/api/v1/namespaces/default/configmaps?watch=1&sendInitialEvents=true"
        "&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=1"
    )
    events = await _events(sandbox, path, 2)
    assert [e["type"] for e in events] == ["ADDED", "BOOKMARK"]
    assert events[1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


async def test_watch_of_a_departed_client_is_dropped(sandbox: Sandbox) -> None:
    headers = {"Authorization": f"Bearer {sandbox.token}"}
    path = f"/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={sandbox.store.rv}"
    async with aiohttp.ClientSession() as s:
        resp = await s.get(sandbox.url + path, headers=headers)
        assert resp.status == 200
        assert len(sandbox.store.bucket("configmaps").watchers) == 1
        resp.close()
    for _ in range(100):
        if not sandbox.store.bucket("configmaps").watchers:
            break
        await asyncio.sleep(0.01)
    assert not sandbox.store.bucket("configmaps").watchers
