"""Strict validation as kube-apiserver does it: names, labels, annotations, data and object sizes."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from sandbox.server import Sandbox

SUBDOMAIN = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_VALUE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)


async def _refused(call: Any, code: int = 422) -> dict[str, Any]:
    with pytest.raises(ApiException) as err:
        await call
    assert err.value.status == code, err.value.body
    return dict(json.loads(err.value.body))


def _cm(name: str, **meta: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, **meta}}


async def test_label_values_and_keys(kube: client.ApiClient) -> None:
    core = client.CoreV1Api(kube)
    body = await _refused(
        core.create_namespaced_config_map("default", _cm("a", labels={"k": "abc-"}))
    )
    assert body["message"] == (
        f'ConfigMap "a" is invalid: metadata.labels: Invalid value: "abc-": {LABEL_VALUE}'
    )
    assert body["details"]["causes"][0]["field"] == "metadata.labels"
    body = await _refused(
        core.create_namespaced_config_map("default", _cm("a", labels={"k": "x" * 64}))
    )
    assert body["message"].endswith("must be no more than 63 characters")
    body = await _refused(
        core.create_namespaced_config_map("default", _cm("a", labels={"Example.com/x": "v"}))
    )
    assert "prefix part a lowercase RFC 1123 subdomain" in body["message"]
    body = await _refused(
        core.create_namespaced_config_map("default", _cm("a", labels={"a/b/c": "v"}))
    )
    assert "a qualified name must consist of" in body["message"]
    body = await _refused(
        core.create_namespaced_config_map("default", _cm("a", labels={"x" * 64: "v"}))
    )
    assert "name part must be no more than 63 characters" in body["message"]
    ok = {"example.com/My_Key.1": "Value_1.x", "empty": "", "k": "x" * 63}
    created = await core.create_namespaced_config_map("default", _cm("a", labels=ok))
    assert created.metadata.labels == ok
    # an update is validated too
    body = await _refused(
        core.patch_namespaced_config_map("a", "default", {"metadata": {"labels": {"k": "-x"}}})
    )
    assert "metadata.labels: Invalid value" in body["message"]


async def test_annotations_keys_and_total_size(kube: client.ApiClient) -> None:
    core = client.CoreV1Api(kube)
    big = {"a": "x" * (256 * 1024)}
    body = await _refused(core.create_namespaced_config_map("default", _cm("a", annotations=big)))
    assert body["message"] == (
        'ConfigMap "a" is invalid: metadata.annotations: Too long: must have at most 262144 bytes'
    )
    body = await _refused(
        core.create_namespaced_config_map("default", _cm("a", annotations={"bad key": "v"}))
    )
    assert (
        'metadata.annotations: Invalid value: "bad key": name part must consist' in body["message"]
    )
    fits = {"a": "x" * (256 * 1024 - 1), "B_Upper.Case/OK": ""}
    with pytest.raises(ApiException):  # the prefix must be a lowercase subdomain even here
        await core.create_namespaced_config_map("default", _cm("a", annotations=fits))
    await core.create_namespaced_config_map(
        "default", _cm("a", annotations={"a": "x" * (256 * 1024 - 1)})
    )


@pytest.mark.parametrize(
    ("kind", "name", "message"),
    [
        ("configmap", "Upper", SUBDOMAIN),
        ("configmap", "a" * 254, "must be no more than 253 characters"),
        ("configmap", "ends-", SUBDOMAIN),
        ("namespace", "a.b", "a lowercase RFC 1123 label must consist of"),
        ("namespace", "n" * 64, "must be no more than 63 characters"),
        ("service", "1svc", "a DNS-1035 label must consist of"),
        ("role", "a%b", "may not contain '%'"),
        ("event", "e" * 254, "must be no more than 253 characters"),
    ],
)
async def test_names_per_kind(sandbox: Sandbox, kind: str, name: str, message: str) -> None:
    paths = {
        "configmap": "/api/v1/namespaces/default/configmaps",
        "namespace": "/api/v1/namespaces",
        "service": "/api/v1/namespaces/default/services",
        "role": "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles",
        "event": "/api/v1/namespaces/default/events",
    }
    body: dict[str, Any] = {"metadata": {"name": name}}
    if kind == "event":
        body["involvedObject"] = {"kind": "Pod", "name": "p", "namespace": "default"}
    status, answer = await _post(sandbox, paths[kind], body)
    assert status == 422, answer
    assert answer["message"].startswith(f"{answer['details']['kind']}")
    assert f'metadata.name: Invalid value: "{name}": {message}' in answer["message"]


async def test_names_other_kinds_accept(sandbox: Sandbox) -> None:
    ok = [
        ("/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles", "system:Role_1"),
        ("/api/v1/namespaces/default/configmaps", "a.b-c"),
        ("/api/v1/namespaces/default/services", "svc-1"),
    ]
    for path, name in ok:
        status, answer = await _post(sandbox, path, {"metadata": {"name": name}})
        assert status == 201, answer


async def _post(sb: Sandbox, path: str, body: Any, raw: bytes | None = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {sb.token}", "Content-Type": "application/json"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(sb.url + path, data=raw or json.dumps(body).encode(), headers=headers) as resp,
    ):
        return resp.status, await resp.json(content_type=None)


async def test_generate_name_fits_and_is_validated(kube: client.ApiClient) -> None:
    core = client.CoreV1Api(kube)
    created = await core.create_namespaced_config_map(
        "default", {"metadata": {"generateName": "g" * 100 + "-"}}
    )
    assert len(created.metadata.name) == 63 and created.metadata.name.startswith("g" * 58)
    svc = await core.create_namespaced_service(
        "default", {"metadata": {"generateName": "s" * 60}, "spec": {"ports": [{"port": 80}]}}
    )
    assert len(svc.metadata.name) == 63
    body = await _refused(
        core.create_namespaced_config_map("default", {"metadata": {"generateName": "Bad-"}})
    )
    assert f'metadata.generateName: Invalid value: "Bad-": {SUBDOMAIN}' in body["message"]


async def test_config_map_and_secret_data_limits(kube: client.ApiClient) -> None:
    core = client.CoreV1Api(kube)
    data = {"a": "x" * (512 * 1024), "b": "y" * (512 * 1024)}
    body = await _refused(
        core.create_namespaced_config_map("default", {**_cm("big"), "data": data})
    )
    assert body["message"] == (
        'ConfigMap "big" is invalid: data: Too long: must have at most 1048576 bytes'
    )
    body = await _refused(
        core.create_namespaced_config_map("default", {**_cm("k"), "data": {"bad key": "v"}})
    )
    assert (
        'data[bad key]: Invalid value: "bad key": a valid config key must consist'
        in body["message"]
    )
    await core.create_namespaced_config_map(
        "default", {**_cm("fits"), "data": {"a": "x" * 1048000}}
    )
    secret = {**_cm("s"), "stringData": {"a": "x" * (1024 * 1024 + 1)}}
    body = await _refused(core.create_namespaced_secret("default", secret))
    assert body["message"].endswith("data: Too long: must have at most 1048576 bytes")


async def test_objects_over_etcd_limit_and_bodies_over_request_limit(sandbox: Sandbox) -> None:
    pod = {
        "metadata": {"name": "huge"},
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "image": "x:1",
                    "env": [{"name": f"V{i}", "value": "x" * 1000} for i in range(1700)],
                }
            ]
        },
    }
    status, body = await _post(sandbox, "/api/v1/namespaces/default/pods", pod)
    assert (status, body["message"]) == (500, "etcdserver: request is too large")
    assert sandbox.store.get("pods", "default", "huge") is None
    pod["spec"]["containers"][0]["env"] = pod["spec"]["containers"][0]["env"][:1300]
    status, body = await _post(sandbox, "/api/v1/namespaces/default/pods", pod)
    assert status == 201, body
    status, body = await _post(
        sandbox, "/api/v1/namespaces/default/configmaps", None, b" " * (3 * 1024 * 1024 + 1)
    )
    assert (status, body["reason"], body["message"]) == (
        413,
        "RequestEntityTooLarge",
        "Request entity too large: limit is 3145728",
    )


async def test_job_name_must_fit_its_pod_label(kube: client.ApiClient) -> None:
    batch = client.BatchV1Api(kube)
    job = {
        "metadata": {"name": "j" * 64},
        "spec": {
            "template": {
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "x:1"}]}
            }
        },
    }
    body = await _refused(batch.create_namespaced_job("default", job))
    assert "spec.template.labels: Invalid value" in body["message"]
    assert "must be no more than 63 characters" in body["message"]


async def test_namespace_name_label_is_set_and_immutable(kube: client.ApiClient) -> None:
    core = client.CoreV1Api(kube)
    await core.create_namespace({"metadata": {"name": "team", "labels": {"x": "y"}}})
    await core.patch_namespace(
        "team", {"metadata": {"labels": {"kubernetes.io/metadata.name": "other"}}}
    )
    ns = await core.read_namespace("team")
    assert ns.metadata.labels == {"x": "y", "kubernetes.io/metadata.name": "team"}
    await core.patch_namespace(
        "team",
        [{"op": "remove", "path": "/metadata/labels/kubernetes.io~1metadata.name"}],
    )
    ns = await core.read_namespace("team")
    assert ns.metadata.labels["kubernetes.io/metadata.name"] == "team"
    ns.metadata.labels = {}
    replaced = await core.replace_namespace("team", ns)
    assert replaced.metadata.labels == {"kubernetes.io/metadata.name": "team"}


async def test_names_inside_pod_specs_and_selectors(kube: client.ApiClient) -> None:
    core, apps = client.CoreV1Api(kube), client.AppsV1Api(kube)
    pod = {
        "metadata": {"name": "p"},
        "spec": {
            "containers": [{"name": "Main", "image": "x:1", "env": [{"name": "1X", "value": "v"}]}],
            "volumes": [{"name": "code_dir", "emptyDir": {}}],
        },
    }
    body = await _refused(core.create_namespaced_pod("default", pod))
    fields = [c["field"] for c in body["details"]["causes"]]
    assert fields == [
        "spec.volumes[0].name",
        "spec.containers[0].name",
        "spec.containers[0].env[0].name",
    ]
    assert "a valid environment variable name must consist of" in body["message"]
    deployment = {
        "metadata": {"name": "d"},
        "spec": {
            "selector": {"matchLabels": {"app": "web-"}},
            "template": {
                "metadata": {"labels": {"app": "web-"}},
                "spec": {"containers": [{"name": "c", "image": "x:1"}]},
            },
        },
    }
    body = await _refused(apps.create_namespaced_deployment("default", deployment))
    fields = {c["field"] for c in body["details"]["causes"]}
    assert fields == {"spec.template.labels", "spec.selector.matchLabels"}
    service = {
        "metadata": {"name": "s"},
        "spec": {"selector": {"app": "-x"}, "ports": [{"port": 80}]},
    }
    body = await _refused(core.create_namespaced_service("default", service))
    assert body["details"]["causes"][0]["field"] == "spec.selector"


async def test_pods_need_their_service_account(kube: client.ApiClient) -> None:
    core = client.CoreV1Api(kube)
    await core.create_namespace({"metadata": {"name": "fresh"}})
    accounts = await core.list_namespaced_service_account("fresh")
    assert [a.metadata.name for a in accounts.items] == ["default"]
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x:1"}]}}
    await core.create_namespaced_pod("fresh", pod)
    pod["metadata"]["name"] = "q"
    pod["spec"]["serviceAccountName"] = "runner"
    body = await _refused(core.create_namespaced_pod("fresh", pod), 403)
    assert body["message"] == (
        'pods "q" is forbidden: error looking up service account fresh/runner: '
        'serviceaccount "runner" not found'
    )
    await core.create_namespaced_service_account("fresh", {"metadata": {"name": "runner"}})
    await core.create_namespaced_pod("fresh", pod)


async def test_what_updates_may_not_change(kube: client.ApiClient) -> None:
    core, batch = client.CoreV1Api(kube), client.BatchV1Api(kube)
    pod = {
        "metadata": {"name": "p"},
        "spec": {
            "schedulingGates": [{"name": "a"}, {"name": "b"}],
            "containers": [{"name": "c", "image": "x:1"}],
        },
    }
    await core.create_namespaced_pod("default", pod)
    body = await _refused(
        core.patch_namespaced_pod("p", "default", {"spec": {"schedulingGates": [{"name": "new"}]}})
    )
    assert body["message"] == (
        'Pod "p" is invalid: spec.schedulingGates: Forbidden: only deletion is allowed, '
        "but found new scheduling gate 'new'"
    )
    body = await _refused(
        core.patch_namespaced_pod("p", "default", {"spec": {"restartPolicy": "Never"}})
    )
    assert body["message"].startswith(
        'Pod "p" is invalid: spec: Forbidden: pod updates may not change fields other than '
        "`spec.containers[*].image`"
    )
    allowed = {
        "metadata": {"labels": {"x": "y"}},
        "spec": {
            "schedulingGates": [{"name": "a", "$patch": "delete"}],
            "containers": [{"name": "c", "image": "x:2"}],
        },
    }
    patched = await core.patch_namespaced_pod("p", "default", allowed)
    assert [g.name for g in patched.spec.scheduling_gates] == ["b"]
    assert patched.spec.containers[0].image == "x:2"
    job = {
        "metadata": {"name": "j"},
        "spec": {
            "template": {
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "x:1"}]}
            }
        },
    }
    await batch.create_namespaced_job("default", job)
    change = {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x:2"}]}}}}
    body = await _refused(batch.patch_namespaced_job("j", "default", change))
    assert (
        "spec.template: Invalid value:" in body["message"]
        and "field is immutable" in body["message"]
    )
    await core.create_namespaced_config_map(
        "default", {"metadata": {"name": "frozen"}, "data": {"a": "1"}, "immutable": True}
    )
    body = await _refused(
        core.patch_namespaced_config_map("frozen", "default", {"data": {"a": "2"}})
    )
    assert body["message"] == (
        'ConfigMap "frozen" is invalid: data: Forbidden: field is immutable when `immutable` is set'
    )
