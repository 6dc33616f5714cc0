"""Patch types, server-side apply and custom resource schemas (validation, defaults, pruning)."""

from __future__ import annotations

import json

import pytest
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from tests.sandbox.conftest import GROUP, MERGE, PLURAL, VERSION, widget

POD = {
    "metadata": {
        "name": "p",
        "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "o", "uid": "u1"}],
    },
    "spec": {
        "schedulingGates": [{"name": "keptn"}, {"name": "other"}],
        "containers": [
            {
                "name": "a",
                "image": "img:1",
                "env": [{"name": "X", "value": "1"}],
                "ports": [{"containerPort": 80}],
            },
            {"name": "b", "image": "img:2"},
        ],
    },
}


async def test_strategic_merge_keyed_lists(kube: client.ApiClient) -> None:
    core = client.CoreV1Api(kube)
    await core.create_namespaced_pod("default", POD)
    patched = await core.patch_namespaced_pod(
        "p",
        "default",
        {
            "spec": {
                # a pod's containers may only change their image (as on a real server)
                "containers": [{"name": "a", "image": "img:3"}],
                "schedulingGates": [{"name": "keptn", "$patch": "delete"}],
            },
            "metadata": {
                "ownerReferences": [
                    {"apiVersion": "v1", "kind": "ConfigMap", "name": "o2", "uid": "u2"}
                ]
            },
        },
    )
    containers = {c.name: c for c in patched.spec.containers}
    assert set(containers) == {"a", "b"}
    assert (containers["a"].image, containers["b"].image) == ("img:3", "img:2")
    assert [(e.name, e.value) for e in containers["a"].env] == [("X", "1")]
    assert [g.name for g in patched.spec.scheduling_gates] == ["other"]
    assert [r.uid for r in patched.metadata.owner_references] == ["u1", "u2"]
    # nested keyed lists (env by name) merge too, where the spec may change: a pod template
    apps = client.AppsV1Api(kube)
    template = {"metadata": {"labels": {"app": "p"}}, "spec": POD["spec"]}
    await apps.create_namespaced_deployment(
        "default",
        {
            "metadata": {"name": "p"},
            "spec": {"selector": {"matchLabels": {"app": "p"}}, "template": template},
        },
    )
    patch = {"containers": [{"name": "a", "env": [{"name": "Y", "value": "2"}]}]}
    deployment = await apps.patch_namespaced_deployment(
        "p", "default", {"spec": {"template": {"spec": patch}}}
    )
    containers = {c.name: c for c in deployment.spec.template.spec.containers}
    assert set(containers) == {"a", "b"}
    assert containers["a"].image == "img:1"
    assert [(e.name, e.value) for e in containers["a"].env] == [("X", "1"), ("Y", "2")]


async def test_json_patch_and_test_failure(kube: client.ApiClient) -> None:
    core = client.CoreV1Api(kube)
    await core.create_namespaced_pod("default", POD)
    ops = [
        {"op": "test", "path": "/spec/schedulingGates/0/name", "value": "keptn"},
        {"op": "remove", "path": "/spec/schedulingGates/0"},
    ]
    patched = await core.patch_namespaced_pod(
        "p", "default", ops, _content_type="application/json-patch+json"
    )
    assert [g.name for g in patched.spec.scheduling_gates] == ["other"]
    with pytest.raises(ApiException) as err:
        await core.patch_namespaced_pod(
            "p", "default", ops, _content_type="application/json-patch+json"
        )
    assert err.value.status == 422


async def test_merge_patch_replaces_lists(kube: client.ApiClient) -> None:
    core = client.CoreV1Api(kube)
    await core.create_namespaced_pod("default", POD)
    patched = await core.patch_namespaced_pod(
        "p", "default", {"spec": {"schedulingGates": None}}, _content_type=MERGE
    )
    assert patched.spec.scheduling_gates is None


async def test_strategic_patch_is_refused_for_custom_resources(kube: client.ApiClient) -> None:
    co = client.CustomObjectsApi(kube)
    await co.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, widget("w"))
    with pytest.raises(ApiException) as err:
        await co.patch_namespaced_custom_object(
            GROUP,
            VERSION,
            "default",
            PLURAL,
            "w",
            {"spec": {"mode": "slow"}},
            _content_type="application/strategic-merge-patch+json",
        )
    assert err.value.status == 415


async def test_patch_with_stale_resource_version_conflicts(kube: client.ApiClient) -> None:
    co = client.CustomObjectsApi(kube)
    w = await co.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, widget("w"))
    await co.patch_namespaced_custom_object(
        GROUP, VERSION, "default", PLURAL, "w", {"spec": {"retries": 1}}, _content_type=MERGE
    )
    stale = {
        "metadata": {"resourceVersion": w["metadata"]["resourceVersion"]},
        "spec": {"retries": 2},
    }
    with pytest.raises(ApiException) as err:
        await co.patch_namespaced_custom_object(
            GROUP, VERSION, "default", PLURAL, "w", stale, _content_type=MERGE
        )
    assert err.value.status == 409


async def test_server_side_apply_creates_then_replaces(kube: client.ApiClient) -> None:
    co = client.CustomObjectsApi(kube)
    config = widget("w", retries=5, labels={"a": "1"})
    # the server answers 201 to an apply that creates (kubernetes_asyncio then returns None)
    await co.patch_namespaced_custom_object(
        GROUP,
        VERSION,
        "default",
        PLURAL,
        "w",
        config,
        field_manager="test",
        _content_type="application/apply-patch+yaml",
    )
    created = await co.get_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "w")
    assert created["spec"] == {"mode": "fast", "retries": 5, "labels": {"a": "1"}}
    assert created["metadata"]["managedFields"][0]["manager"] == "test"
    again = widget("w", mode="slow")
    replaced = await co.patch_namespaced_custom_object(
        GROUP,
        VERSION,
        "default",
        PLURAL,
        "w",
        again,
        field_manager="test",
        _content_type="application/apply-patch+yaml",
    )
    # fields the manager stopped setting are removed; the default comes back for retries
    assert replaced["spec"] == {"mode": "slow", "retries": 3}


async def test_schema_validation_names_the_field(kube: client.ApiClient) -> None:
    co = client.CustomObjectsApi(kube)
    with pytest.raises(ApiException) as err:
        await co.create_namespaced_custom_object(
            GROUP, VERSION, "default", PLURAL, widget("w", retries="x")
        )
    assert err.value.status == 422
    body = json.loads(err.value.body)
    assert body["reason"] == "Invalid"
    assert (
        'spec.retries: Invalid value: "x": spec.retries in body must be of type integer: "x"'
        in body["message"]
    )
    assert body["details"]["causes"][0]["field"] == "spec.retries"
    for bad, text in [
        (widget("w", mode="medium"), 'spec.mode: Unsupported value: "medium"'),
        (widget("w", retries=-1), "spec.retries in body should be greater than or equal to 0"),
        ({**widget("w"), "spec": {}}, "spec.mode: Required value"),
        (widget("w", labels={"a": 1}), "spec.labels.a in body must be of type string"),
        (widget("w", port=1.5), "spec.port in body must be of type integer,string"),
    ]:
        with pytest.raises(ApiException) as err:
            await co.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, bad)
        assert err.value.status == 422
        assert text in json.loads(err.value.body)["message"]


async def test_defaults_and_pruning(kube: client.ApiClient) -> None:
    co = client.CustomObjectsApi(kube)
    w = await co.create_namespaced_custom_object(
        GROUP,
        VERSION,
        "default",
        PLURAL,
        widget("w", unknown=1, free={"any": {"thing": 1}}, port="http"),
    )
    assert w["spec"] == {
        "mode": "fast",
        "retries": 3,
        "free": {"any": {"thing": 1}},
        "port": "http",
    }


async def test_strict_field_validation_rejects_unknown_fields(kube: client.ApiClient) -> None:
    co = client.CustomObjectsApi(kube)
    with pytest.raises(ApiException) as err:
        await co.create_namespaced_custom_object(
            GROUP, VERSION, "default", PLURAL, widget("w", unknown=1), field_validation="Strict"
        )
    assert err.value.status == 400
    assert (
        json.loads(err.value.body)["message"]
        == 'strict decoding error: unknown field "spec.unknown"'
    )


async def test_dry_run_stores_nothing(kube: client.ApiClient) -> None:
    co = client.CustomObjectsApi(kube)
    w = await co.create_namespaced_custom_object(
        GROUP, VERSION, "default", PLURAL, widget("w"), dry_run="All"
    )
    assert w["spec"]["retries"] == 3
    with pytest.raises(ApiException) as err:
        await co.get_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "w")
    assert err.value.status == 404


async def test_job_defaults_selector_and_labels(kube: client.ApiClient) -> None:
    batch = client.BatchV1Api(kube)
    job = await batch.create_namespaced_job(
        "default",
        {
            "metadata": {"name": "j"},
            "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x:1"}]}}},
        },
    )
    assert job.spec.backoff_limit == 6
    assert job.spec.template.spec.restart_policy == "Never"
    assert job.spec.selector.match_labels == {
        "batch.kubernetes.io/controller-uid": job.metadata.uid
    }
    assert job.spec.template.metadata.labels["job-name"] == "j"


async def test_server_side_apply_tracks_keyed_list_items(kube: client.ApiClient) -> None:
    apps = client.AppsV1Api(kube)

    def deployment(containers: list[dict[str, object]]) -> dict[str, object]:
        return {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": containers},
                },
            },
        }

    async def apply(body: dict[str, object]) -> None:
        await apps.patch_namespaced_deployment(
            "web", "default", body, field_manager="ci", _content_type="application/apply-patch+yaml"
        )

    env = [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    await apply(
        deployment(
            [{"name": "web", "image": "web:1", "env": env}, {"name": "side", "image": "side:1"}]
        )
    )
    # another manager adds an env var of its own
    await apps.patch_namespaced_deployment(
        "web",
        "default",
        {
            "spec": {
                "template": {
                    "spec": {"containers": [{"name": "web", "env": [{"name": "C", "value": "3"}]}]}
                }
            }
        },
    )
    await apply(
        deployment([{"name": "web", "image": "web:2", "env": [{"name": "A", "value": "1"}]}])
    )
    live = await apps.read_namespaced_deployment("web", "default")
    containers = live.spec.template.spec.containers
    assert [c.name for c in containers] == ["web"]  # "side" is no longer applied: removed
    assert containers[0].image == "web:2"
    assert [e.name for e in containers[0].env] == ["A", "C"]  # B dropped, C (not ours) kept
    fields = next(m for m in live.metadata.managed_fields if m.manager == "ci").fields_v1
    web = fields["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"web"}']
    assert "." in web and 'k:{"name":"A"}' in web["f:env"]
