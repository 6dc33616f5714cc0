"""CRUD, status split, generation, conflicts, selectors and paging through kubernetes_asyncio."""

from __future__ import annotations

import json

import pytest
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from sandbox.server import Sandbox
from tests.sandbox.conftest import GROUP, MERGE, PLURAL, VERSION, widget


def pod(name: str, **labels: str) -> dict[str, object]:
    return {
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]},
    }


async def test_create_get_list_delete_pod(kube: client.ApiClient) -> None:
    core = client.CoreV1Api(kube)
    created = await core.create_namespaced_pod("default", pod("p1", app="a"))
    assert created.metadata.uid
    assert created.metadata.creation_timestamp is not None
    assert int(created.metadata.resource_version) > 0
    assert created.status.phase == "Pending"
    assert created.spec.restart_policy == "Always"
    got = await core.read_namespaced_pod("p1", "default")
    assert got.metadata.uid == created.metadata.uid
    listed = await core.list_namespaced_pod("default")
    assert [p.metadata.name for p in listed.items] == ["p1"]
    assert int(listed.metadata.resource_version) >= int(created.metadata.resource_version)
    await core.delete_namespaced_pod("p1", "default")
    with pytest.raises(ApiException) as err:
        await core.read_namespaced_pod("p1", "default")
    assert err.value.status == 404
    assert '"reason": "NotFound"' in err.value.body or '"reason":"NotFound"' in err.value.body


async def test_create_conflicts_and_generate_name(kube: client.ApiClient) -> None:
    core = client.CoreV1Api(kube)
    await core.create_namespaced_config_map(
        "default", {"metadata": {"name": "cm"}, "data": {"a": "1"}}
    )
    with pytest.raises(ApiException) as err:
        await core.create_namespaced_config_map("default", {"metadata": {"name": "cm"}})
    assert err.value.status == 409
    assert "already exists" in err.value.body
    gen = await core.create_namespaced_config_map("default", {"metadata": {"generateName": "cm-"}})
    assert gen.metadata.name.startswith("cm-") and len(gen.metadata.name) == 8


async def test_missing_namespace_is_404(kube: client.ApiClient) -> None:
    core = client.CoreV1Api(kube)
    with pytest.raises(ApiException) as err:
        await core.create_namespaced_config_map("nope", {"metadata": {"name": "cm"}})
    assert err.value.status == 404
    assert (
        'namespaces \\"nope\\" not found' in err.value.body
        or 'namespaces "nope" not found' in err.value.body
    )


async def test_update_with_stale_resource_version_conflicts(kube: client.ApiClient) -> None:
    core = client.CoreV1Api(kube)
    cm = await core.create_namespaced_config_map(
        "default", {"metadata": {"name": "cm"}, "data": {"a": "1"}}
    )
    cm.data = {"a": "2"}
    updated = await core.replace_namespaced_config_map("cm", "default", cm)
    assert updated.data == {"a": "2"}
    assert int(updated.metadata.resource_version) > int(cm.metadata.resource_version)
    cm.data = {"a": "3"}  # still carries the old resourceVersion
    with pytest.raises(ApiException) as err:
        await core.replace_namespaced_config_map("cm", "default", cm)
    assert err.value.status == 409
    assert "the object has been modified" in err.value.body


async def test_noop_update_writes_nothing(kube: client.ApiClient, sandbox: Sandbox) -> None:
    core = client.CoreV1Api(kube)
    cm = await core.create_namespaced_config_map(
        "default", {"metadata": {"name": "cm"}, "data": {"a": "1"}}
    )
    before = sandbox.store.rv
    same = await core.patch_namespaced_config_map("cm", "default", {"data": {"a": "1"}})
    assert same.metadata.resource_version == cm.metadata.resource_version
    assert sandbox.store.rv == before


async def test_status_and_spec_writes_are_kept_apart(kube: client.ApiClient) -> None:
    co = client.CustomObjectsApi(kube)
    w = await co.create_namespaced_custom_object(
        GROUP, VERSION, "default", PLURAL, widget("w1", status={"phase": "x"})
    )
    assert "status" not in w and w["metadata"]["generation"] == 1
    st = await co.patch_namespaced_custom_object_status(
        GROUP,
        VERSION,
        "default",
        PLURAL,
        "w1",
        {"status": {"phase": "Ready"}, "spec": {"mode": "slow"}},
        _content_type=MERGE,
    )
    assert st["status"] == {"phase": "Ready"}
    assert st["spec"]["mode"] == "fast"
    assert st["metadata"]["generation"] == 1
    with pytest.raises(ApiException) as err:  # a status write still checks the status
        await co.patch_namespaced_custom_object_status(
            GROUP, VERSION, "default", PLURAL, "w1", {"status": {"phase": 3}}, _content_type=MERGE
        )
    assert err.value.status == 422 and "status.phase in body must be of type string" in str(
        err.value.body
    )
    main = await co.patch_namespaced_custom_object(
        GROUP,
        VERSION,
        "default",
        PLURAL,
        "w1",
        {"spec": {"mode": "slow"}, "status": {"phase": "Gone"}},
        _content_type=MERGE,
    )
    assert main["spec"]["mode"] == "slow"
    assert main["status"] == {"phase": "Ready"}
    assert main["metadata"]["generation"] == 2
    labelled = await co.patch_namespaced_custom_object(
        GROUP,
        VERSION,
        "default",
        PLURAL,
        "w1",
        {"metadata": {"labels": {"x": "y"}}},
        _content_type=MERGE,
    )
    assert labelled["metadata"]["generation"] == 2


async def test_deployment_status_subresource(kube: client.ApiClient) -> None:
    apps = client.AppsV1Api(kube)
    body = {
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "w", "image": "nginx:1"}]},
            },
        },
    }
    await apps.create_namespaced_deployment("default", body)
    st = await apps.patch_namespaced_deployment_status(
        "web", "default", {"status": {"readyReplicas": 2, "replicas": 2}}
    )
    assert st.status.ready_replicas == 2
    assert st.metadata.generation == 1
    scaled = await apps.patch_namespaced_deployment("web", "default", {"spec": {"replicas": 3}})
    assert scaled.metadata.generation == 2 and scaled.status.ready_replicas == 2


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=a", ["p1", "p2"]),
        ("app==a,tier=web", ["p1"]),
        ("app!=a", ["p3", "p4"]),
        ("app in (a, b)", ["p1", "p2", "p3"]),
        ("app notin (a)", ["p3", "p4"]),
        ("tier", ["p1", "p3"]),
        ("!tier", ["p2", "p4"]),
        ("app in (b),tier", ["p3"]),
    ],
)
async def test_label_selectors(kube: client.ApiClient, selector: str, expected: list[str]) -> None:
    core = client.CoreV1Api(kube)
    await core.create_namespaced_pod("default", pod("p1", app="a", tier="web"))
    await core.create_namespaced_pod("default", pod("p2", app="a"))
    await core.create_namespaced_pod("default", pod("p3", app="b", tier="db"))
    await core.create_namespaced_pod("default", pod("p4"))
    listed = await core.list_namespaced_pod("default", label_selector=selector)
    assert sorted(p.metadata.name for p in listed.items) == expected


async def test_field_selectors(kube: client.ApiClient) -> None:
    core = client.CoreV1Api(kube)
    await core.create_namespace({"metadata": {"name": "other"}})
    await core.create_namespaced_pod("default", pod("p1"))
    await core.create_namespaced_pod("other", pod("p2"))
    await core.patch_namespaced_pod_status("p2", "other", {"status": {"phase": "Running"}})
    by_name = await core.list_pod_for_all_namespaces(field_selector="metadata.name=p2")
    assert [p.metadata.name for p in by_name.items] == ["p2"]
    by_ns = await core.list_pod_for_all_namespaces(field_selector="metadata.namespace!=default")
    assert [p.metadata.name for p in by_ns.items] == ["p2"]
    running = await core.list_pod_for_all_namespaces(field_selector="status.phase=Running")
    assert [p.metadata.name for p in running.items] == ["p2"]
    unscheduled = await core.list_pod_for_all_namespaces(field_selector="spec.nodeName=")
    assert len(unscheduled.items) == 2
    with pytest.raises(ApiException) as err:
        await core.list_pod_for_all_namespaces(field_selector="spec.bogus=1")
    assert err.value.status == 400


async def test_event_field_selectors(kube: client.ApiClient) -> None:
    core = client.CoreV1Api(kube)
    for i, name in enumerate(["a", "b"]):
        await core.create_namespaced_event(
            "default",
            {
                "metadata": {"name": f"ev{i}"},
                "involvedObject": {
                    "kind": "Pod",
                    "name": name,
                    "namespace": "default",
                    "uid": f"u{i}",
                },
                "reason": "Started",
                "message": "m",
            },
        )
    found = await core.list_namespaced_event(
        "default", field_selector="involvedObject.name=b,involvedObject.kind=Pod"
    )
    assert [e.metadata.name for e in found.items] == ["ev1"]


async def test_limit_and_continue(kube: client.ApiClient) -> None:
    core = client.CoreV1Api(kube)
    for i in range(5):
        await core.create_namespaced_config_map("default", {"metadata": {"name": f"cm{i}"}})
    first = await core.list_namespaced_config_map("default", limit=2)
    assert [c.metadata.name for c in first.items] == ["cm0", "cm1"]
    assert first.metadata.remaining_item_count == 3
    second = await core.list_namespaced_config_map(
        "default", limit=2, _continue=first.metadata._continue
    )
    assert [c.metadata.name for c in second.items] == ["cm2", "cm3"]
    third = await core.list_namespaced_config_map(
        "default", limit=2, _continue=second.metadata._continue
    )
    assert [c.metadata.name for c in third.items] == ["cm4"]
    assert not third.metadata._continue


async def test_cluster_wide_list_and_unknown_resource(kube: client.ApiClient) -> None:
    core = client.CoreV1Api(kube)
    names = [n.metadata.name for n in (await core.list_namespace()).items]
    assert {"default", "kube-system"} <= set(names)
    with pytest.raises(ApiException) as err:
        await client.CustomObjectsApi(kube).list_cluster_custom_object("nope.dev", "v1", "things")
    assert err.value.status == 404


async def test_scale_subresource(kube: client.ApiClient) -> None:
    apps = client.AppsV1Api(kube)
    body = {
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "w", "image": "nginx:1"}]},
            },
        },
    }
    await apps.create_namespaced_deployment("default", body)
    scale = await apps.read_namespaced_deployment_scale("web", "default")
    assert scale.spec.replicas == 1 and scale.status.selector == "app=web"
    scaled = await apps.patch_namespaced_deployment_scale(
        "web", "default", {"spec": {"replicas": 4}}
    )
    assert scaled.spec.replicas == 4
    deploy = await apps.read_namespaced_deployment("web", "default")
    assert deploy.spec.replicas == 4 and deploy.metadata.generation == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"metadata": {"name": "p"}, "spec": {"containers": []}}, "spec.containers"),
        (
            {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]}},
            "spec.containers[0].image",
        ),
        (
            {
                "metadata": {"name": "Bad_Name"},
                "spec": {"containers": [{"name": "c", "image": "x"}]},
            },
            "metadata.name",
        ),
    ],
)
async def test_builtin_validation(
    kube: client.ApiClient, body: dict[str, object], field: str
) -> None:
    with pytest.raises(ApiException) as err:
        await client.CoreV1Api(kube).create_namespaced_pod("default", body)
    assert err.value.status == 422
    assert field in [c["field"] for c in json.loads(err.value.body)["details"]["causes"]]


async def test_workload_selector_must_match_template(kube: client.ApiClient) -> None:
    apps, batch = client.AppsV1Api(kube), client.BatchV1Api(kube)
    template = {
        "metadata": {"labels": {"app": "b"}},
        "spec": {"containers": [{"name": "c", "image": "x:1"}]},
    }
    with pytest.raises(ApiException) as err:
        await apps.create_namespaced_deployment(
            "default",
            {
                "metadata": {"name": "d"},
                "spec": {"selector": {"matchLabels": {"app": "a"}}, "template": template},
            },
        )
    assert (
        err.value.status == 422 and "selector` does not match template `labels`" in err.value.body
    )
    with pytest.raises(ApiException) as err:
        await batch.create_namespaced_job(
            "default",
            {
                "metadata": {"name": "j"},
                "spec": {
                    "template": {
                        **template,
                        "spec": {**template["spec"], "restartPolicy": "Always"},
                    }
                },
            },  # type: ignore[dict-item]
        )
    assert err.value.status == 422 and 'Unsupported value: \\"Always\\"' in err.value.body


async def test_pod_binding_assigns_a_node_once(kube: client.ApiClient, sandbox: Sandbox) -> None:
    core = client.CoreV1Api(kube)
    await core.create_namespaced_pod("default", pod("p"))
    binding = {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": "p"},
        "target": {"kind": "Node", "name": "sandbox-node"},
    }
    # like a real server it answers a Status, which the generated client cannot read as a
    # Binding, hence the raw response
    resp = await core.create_namespaced_pod_binding("p", "default", binding, _preload_content=False)
    assert resp.status == 201
    bound = await core.read_namespaced_pod("p", "default")
    assert bound.spec.node_name == "sandbox-node"
    assert [(c.type, c.status) for c in bound.status.conditions] == [("PodScheduled", "True")]
    again = await core.create_namespaced_pod_binding(
        "p", "default", binding, _preload_content=False
    )
    assert again.status == 409
