"""Deletion: finalizers, ownerReference garbage collection (background, foreground, orphan), namespaces."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from tests.sandbox.conftest import GROUP, MERGE, PLURAL, VERSION, widget
from tests.support.waiting import eventually_async


async def _exists(call: Callable[[], Awaitable[object]]) -> bool:
    try:
        await call()
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return True


async def _owner_and_children(core: client.CoreV1Api, n: int = 2) -> str:
    owner = await core.create_namespaced_config_map("default", {"metadata": {"name": "owner"}})
    ref = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": "owner",
        "uid": owner.metadata.uid,
        "blockOwnerDeletion": True,
    }
    for i in range(n):
        await core.create_namespaced_config_map(
            "default", {"metadata": {"name": f"child{i}", "ownerReferences": [ref]}}
        )
    return str(owner.metadata.uid)


async def test_finalizer_holds_deletion_until_removed(kube: client.ApiClient) -> None:
    co = client.CustomObjectsApi(kube)
    body = widget("w")
    body["metadata"]["finalizers"] = ["sandbox.klt.dev/hold"]  # type: ignore[index]
    await co.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, body)
    await co.delete_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "w")
    held = await co.get_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "w")
    assert held["metadata"]["deletionTimestamp"]
    with pytest.raises(ApiException) as err:
        await co.patch_namespaced_custom_object(
            GROUP,
            VERSION,
            "default",
            PLURAL,
            "w",
            {"metadata": {"finalizers": ["sandbox.klt.dev/hold", "new"]}},
            _content_type=MERGE,
        )
    assert err.value.status == 422
    await co.patch_namespaced_custom_object(
        GROUP,
        VERSION,
        "default",
        PLURAL,
        "w",
        {"metadata": {"finalizers": None}},
        _content_type=MERGE,
    )
    assert not await _exists(
        lambda: co.get_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "w")
    )


async def test_background_propagation_deletes_dependents(kube: client.ApiClient) -> None:
    core = client.CoreV1Api(kube)
    await _owner_and_children(core)
    await core.delete_namespaced_config_map("owner", "default", propagation_policy="Background")
    assert not await _exists(lambda: core.read_namespaced_config_map("owner", "default"))

    async def children_gone() -> bool:
        return not (await core.list_namespaced_config_map("default")).items

    await eventually_async(children_gone, 2.0)


async def test_dependent_with_another_live_owner_survives(kube: client.ApiClient) -> None:
    core = client.CoreV1Api(kube)
    uid = await _owner_and_children(core, 1)
    other = await core.create_namespaced_config_map("default", {"metadata": {"name": "other"}})
    refs = [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": uid},
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "other", "uid": other.metadata.uid},
    ]
    await core.patch_namespaced_config_map(
        "child0", "default", {"metadata": {"ownerReferences": refs}}, _content_type=MERGE
    )
    await core.delete_namespaced_config_map("owner", "default")

    async def unlinked() -> bool:
        child = await core.read_namespaced_config_map("child0", "default")
        return [r.name for r in child.metadata.owner_references] == ["other"]

    await eventually_async(unlinked, 2.0)


async def test_foreground_propagation_deletes_dependents_first(kube: client.ApiClient) -> None:
    core = client.CoreV1Api(kube)
    await _owner_and_children(core)
    await core.patch_namespaced_config_map(
        "child0", "default", {"metadata": {"finalizers": ["hold"]}}
    )
    await core.delete_namespaced_config_map("owner", "default", propagation_policy="Foreground")
    await asyncio.sleep(0.05)
    owner = await core.read_namespaced_config_map("owner", "default")
    assert "foregroundDeletion" in owner.metadata.finalizers
    assert not await _exists(lambda: core.read_namespaced_config_map("child1", "default"))
    await core.patch_namespaced_config_map(
        "child0", "default", {"metadata": {"finalizers": None}}, _content_type=MERGE
    )

    async def all_gone() -> bool:
        return not (await core.list_namespaced_config_map("default")).items

    await eventually_async(all_gone, 2.0)


async def test_orphan_propagation_keeps_dependents_unowned(kube: client.ApiClient) -> None:
    core = client.CoreV1Api(kube)
    await _owner_and_children(core)
    await core.delete_namespaced_config_map("owner", "default", propagation_policy="Orphan")

    async def orphaned() -> bool:
        items = (await core.list_namespaced_config_map("default")).items
        return sorted(i.metadata.name for i in items) == ["child0", "child1"] and all(
            not i.metadata.owner_references for i in items
        )

    await eventually_async(orphaned, 2.0)


async def test_jobs_default_to_orphan_like_batch_v1(kube: client.ApiClient) -> None:
    batch, core = client.BatchV1Api(kube), client.CoreV1Api(kube)
    job = await batch.create_namespaced_job(
        "default",
        {
            "metadata": {"name": "j"},
            "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x:1"}]}}},
        },
    )
    ref = {"apiVersion": "batch/v1", "kind": "Job", "name": "j", "uid": job.metadata.uid}
    await core.create_namespaced_pod(
        "default",
        {
            "metadata": {"name": "j-pod", "ownerReferences": [ref]},
            "spec": {"containers": [{"name": "c", "image": "x:1"}]},
        },
    )
    await batch.delete_namespaced_job("j", "default")

    async def orphaned() -> bool:
        pod = await core.read_namespaced_pod("j-pod", "default")
        return not pod.metadata.owner_references

    await eventually_async(orphaned, 2.0)


async def test_namespace_deletion_empties_it(kube: client.ApiClient) -> None:
    core = client.CoreV1Api(kube)
    await core.create_namespace({"metadata": {"name": "gone"}})
    await core.create_namespaced_config_map("gone", {"metadata": {"name": "a"}})
    await core.delete_namespace("gone")
    with pytest.raises(ApiException) as err:
        await core.create_namespaced_config_map("gone", {"metadata": {"name": "b"}})
    assert err.value.status in (403, 404)

    async def ns_gone() -> bool:
        return not await _exists(lambda: core.read_namespace("gone"))

    await eventually_async(ns_gone, 2.0)


async def test_deleting_a_crd_stops_serving_it(kube: client.ApiClient) -> None:
    ext, co = client.ApiextensionsV1Api(kube), client.CustomObjectsApi(kube)
    await co.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, widget("w"))
    await ext.delete_custom_resource_definition(f"{PLURAL}.{GROUP}")
    with pytest.raises(ApiException) as err:
        await co.list_namespaced_custom_object(GROUP, VERSION, "default", PLURAL)
    assert err.value.status == 404


async def test_delete_collection_with_selector(kube: client.ApiClient) -> None:
    core = client.CoreV1Api(kube)
    for name, app in (("a", "x"), ("b", "x"), ("c", "y")):
        await core.create_namespaced_config_map(
            "default", {"metadata": {"name": name, "labels": {"app": app}}}
        )
    await core.delete_collection_namespaced_config_map("default", label_selector="app=x")
    left = await core.list_namespaced_config_map("default")
    assert [c.metadata.name for c in left.items] == ["c"]
