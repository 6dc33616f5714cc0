"""Discovery, OpenAPI, auth, CRDs created through the API, Tables and pod logs over HTTP."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from kubernetes_asyncio import client

from sandbox.server import Sandbox
from tests.sandbox.conftest import GROUP, PLURAL, VERSION, widget

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


async def _get(
    sb: Sandbox, path: str, auth: bool = True, accept: str = "application/json"
) -> tuple[int, Any]:
    headers = {"Accept": accept}
    if auth:
        headers["Authorization"] = f"Bearer {sb.token}"
    async with aiohttp.ClientSession() as s, s.get(sb.url + path, headers=headers) as resp:
        body = await resp.text()
        try:
            import json

            return resp.status, json.loads(body)
        except ValueError:
            return resp.status, body


async def test_auth_is_required_except_for_version(sandbox: Sandbox) -> None:
    status, body = await _get(sandbox, "/api/v1/namespaces", auth=False)
    assert status == 401 and body["reason"] == "Unauthorized"
    status, body = await _get(sandbox, "/version", auth=False)
    assert status == 200 and body["gitVersion"].startswith("v1.30.")


async def test_discovery_documents(sandbox: Sandbox) -> None:
    for path in ("/api", "/api/"):
        status, body = await _get(sandbox, path)
        assert status == 200 and body["versions"] == ["v1"]
    for path in ("/apis", "/apis/"):
        status, body = await _get(sandbox, path)
        names = {g["name"] for g in body["groups"]}
        assert {"apps", "batch", "coordination.k8s.io", "events.k8s.io", GROUP} <= names
    status, body = await _get(sandbox, "/api/v1")
    names = {r["name"] for r in body["resources"]}
    assert {"pods", "pods/status", "pods/log", "events", "namespaces"} <= names
    status, body = await _get(sandbox, f"/apis/{GROUP}/{VERSION}")
    widgets = next(r for r in body["resources"] if r["name"] == PLURAL)
    assert widgets["kind"] == "Widget" and widgets["shortNames"] == ["wd"] and widgets["namespaced"]
    assert any(r["name"] == f"{PLURAL}/status" for r in body["resources"])
    status, _ = await _get(sandbox, "/apis/nope.dev/v1")
    assert status == 404


async def test_openapi_v3_declares_field_validation_and_schemas(sandbox: Sandbox) -> None:
    status, root = await _get(sandbox, "/openapi/v3")
    url = root["paths"][f"apis/{GROUP}/{VERSION}"]["serverRelativeURL"]
    status, doc = await _get(sandbox, url)
    assert status == 200
    patch = doc["paths"][f"/apis/{GROUP}/{VERSION}/namespaces/{{namespace}}/{PLURAL}/{{name}}"][
        "patch"
    ]
    assert patch["x-kubernetes-group-version-kind"] == {
        "group": GROUP,
        "version": VERSION,
        "kind": "Widget",
    }
    assert any(p["name"] == "fieldValidation" for p in patch["parameters"])
    schema = doc["components"]["schemas"]["dev.klt.sandbox.v1.Widget"]
    assert schema["properties"]["spec"]["properties"]["retries"]["type"] == "integer"
    headers = {
        "Authorization": f"Bearer {sandbox.token}",
        "Accept": "application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
    }
    async with (
        aiohttp.ClientSession() as s,
        s.get(sandbox.url + "/openapi/v2", headers=headers) as resp,
    ):
        assert resp.status == 200
        assert (await resp.read()).startswith(b"\x0a\x032.0")


async def test_creating_a_crd_serves_it_at_once(kube: client.ApiClient, sandbox: Sandbox) -> None:
    crd = {
        "metadata": {"name": "gadgets.example.dev"},
        "spec": {
            "group": "example.dev",
            "names": {
                "kind": "Gadget",
                "plural": "gadgets",
                "singular": "gadget",
                "listKind": "GadgetList",
            },
            "scope": "Cluster",
            "versions": [
                {
                    "name": "v1alpha1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                }
            ],
        },
    }
    created = await client.ApiextensionsV1Api(kube).create_custom_resource_definition(crd)
    assert any(c.type == "Established" and c.status == "True" for c in created.status.conditions)
    co = client.CustomObjectsApi(kube)
    g = await co.create_cluster_custom_object(
        "example.dev",
        "v1alpha1",
        "gadgets",
        {"apiVersion": "example.dev/v1alpha1", "kind": "Gadget", "metadata": {"name": "g"}, "x": 1},
    )
    assert g["x"] == 1 and "namespace" not in g["metadata"]
    status, body = await _get(sandbox, "/apis/example.dev/v1alpha1")
    assert status == 200 and body["resources"][0]["name"] == "gadgets"


async def test_tables_for_lists_and_single_objects(
    kube: client.ApiClient, sandbox: Sandbox
) -> None:
    co = client.CustomObjectsApi(kube)
    await co.create_namespaced_custom_object(
        GROUP, VERSION, "default", PLURAL, widget("w1", retries=4)
    )
    await co.patch_namespaced_custom_object_status(
        GROUP,
        VERSION,
        "default",
        PLURAL,
        "w1",
        {
            "status": {
                "conditions": [
                    {"type": "Other", "status": "False"},
                    {"type": "Ready", "status": "True"},
                ]
            }
        },
        _content_type="application/merge-patch+json",
    )
    status, table = await _get(
        sandbox, f"/apis/{GROUP}/{VERSION}/namespaces/default/{PLURAL}", accept=TABLE
    )
    assert table["kind"] == "Table"
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name",
        "Mode",
        "Retries",
        "Ready",
        "Age",
    ]
    assert table["rows"][0]["cells"][:4] == ["w1", "fast", 4, "True"]
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
    await client.CoreV1Api(kube).create_namespaced_pod(
        "default",
        {
            "metadata": {"name": "p"},
            "spec": {
                "containers": [{"name": "c", "image": "x:1"}],
                "schedulingGates": [{"name": "g"}],
            },
        },
    )
    await client.CoreV1Api(kube).patch_namespaced_pod_status(
        "p",
        "default",
        {
            "status": {
                "conditions": [
                    {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}
                ]
            }
        },
    )
    status, table = await _get(sandbox, "/api/v1/namespaces/default/pods/p", accept=TABLE)
    assert status == 200
    assert [c["name"] for c in table["columnDefinitions"]][:5] == [
        "Name",
        "Ready",
        "Status",
        "Restarts",
        "Age",
    ]
    assert table["rows"][0]["cells"][:4] == ["p", "0/1", "SchedulingGated", 0]


async def test_pod_log_endpoint_for_the_node(sandbox: Sandbox, kube: client.ApiClient) -> None:
    core = client.CoreV1Api(kube)
    await core.create_namespaced_pod(
        "default",
        {
            "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "a", "image": "x:1"}, {"name": "b", "image": "x:1"}]},
        },
    )
    headers = {"Authorization": f"Bearer {sandbox.token}"}
    async with aiohttp.ClientSession(headers=headers) as s:
        async with s.put(
            f"{sandbox.url}/sandbox/pods/default/p/log?container=a", data="one\n"
        ) as resp:
            assert resp.status == 204
        async with s.post(
            f"{sandbox.url}/sandbox/pods/default/p/log?container=a", data="two\n"
        ) as resp:
            assert resp.status == 204
    assert await core.read_namespaced_pod_log("p", "default", container="a") == "one\ntwo\n"


async def test_events_k8s_io_is_a_view_of_core_events(
    kube: client.ApiClient, sandbox: Sandbox
) -> None:
    ev, core = client.EventsV1Api(kube), client.CoreV1Api(kube)
    await ev.create_namespaced_event(
        "default",
        {
            "metadata": {"name": "e1"},
            "eventTime": "2026-01-01T00:00:00.000000Z",
            "reason": "AppPreDeployTasksStarted",
            "action": "Started",
            "reportingController": "klt",
            "reportingInstance": "klt-0",
            "type": "Normal",
            "regarding": {"kind": "KeptnAppVersion", "name": "app", "namespace": "default"},
            "note": "started",
        },
    )
    listed = await ev.list_namespaced_event("default", field_selector="regarding.name=app")
    assert [e.reason for e in listed.items] == ["AppPreDeployTasksStarted"]
    as_core = await core.read_namespaced_event("e1", "default")
    assert as_core.involved_object.name == "app" and as_core.message == "started"
    assert as_core.reporting_component == "klt"
    await core.create_namespaced_event(
        "default",
        {
            "metadata": {"name": "e2"},
            # without eventTime the events.k8s.io view has eventTime null, which the Python
            # client refuses (as with a real server)
            "eventTime": "2026-01-01T00:00:00.000000Z",
            "reason": "Pulled",
            "message": "pulled",
            "involvedObject": {"kind": "Pod", "name": "p"},
        },
    )
    e2 = await ev.read_namespaced_event("e2", "default")
    assert e2.note == "pulled" and e2.regarding.name == "p"
    patched = await ev.patch_namespaced_event("e1", "default", {"note": "changed"})
    assert patched.note == "changed" and patched.regarding.kind == "KeptnAppVersion"
    assert (await core.read_namespaced_event("e1", "default")).message == "changed"
    status, body = await _get(
        sandbox, "/apis/events.k8s.io/v1/namespaces/default/events?watch=1&timeoutSeconds=1"
    )
    assert status == 200
    assert (
        '"regarding":{"kind":"Pod","name":"p"}' in body
        and '"apiVersion":"events.k8s.io/v1"' in body
    )


async def test_follow_log_streams_until_the_pod_ends(
    sandbox: Sandbox, kube: client.ApiClient
) -> None:
    core = client.CoreV1Api(kube)
    await core.create_namespaced_pod(
        "default",
        {"metadata": {"name": "job"}, "spec": {"containers": [{"name": "c", "image": "x:1"}]}},
    )
    sandbox.store.set_pod_log("default", "job", "start\n")
    headers = {"Authorization": f"Bearer {sandbox.token}"}

    async def produce() -> None:
        await asyncio.sleep(0.1)
        sandbox.store.append_pod_log("default", "job", "middle\n")
        await asyncio.sleep(0.1)
        sandbox.store.append_pod_log("default", "job", "end\n")
        await core.patch_namespaced_pod_status("job", "default", {"status": {"phase": "Succeeded"}})

    task = asyncio.create_task(produce())
    url = f"{sandbox.url}/api/v1/namespaces/default/pods/job/log?follow=true"
    async with (
        aiohttp.ClientSession(headers=headers) as s,
        s.get(url, timeout=aiohttp.ClientTimeout(total=5)) as resp,
    ):
        text = await resp.text()
    await task
    assert text == "start\nmiddle\nend\n"
    assert not sandbox.store.log_waiters
