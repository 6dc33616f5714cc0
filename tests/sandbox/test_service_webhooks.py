"""Webhooks behind a Service: ready endpoint pods, round-robin, TLS name, failurePolicy, big objects."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from sandbox.server import Sandbox
from sandbox.tls import ServingCert, make_serving_cert
from tests.sandbox.test_admission import Hook, serve
from tests.support.sandbox import sa_token

SVC_NAME = "hook.hooks.svc"
Start = Callable[..., Any]


@pytest.fixture
async def servers(tmp_path: Path) -> AsyncIterator[Start]:
    """Start webhook servers that share one serving certificate (as replicas of one Service)."""
    runners: list[web.AppRunner] = []
    cert = make_serving_cert(tmp_path / "pki", hosts=("127.0.0.1", SVC_NAME))

    async def start(count: int, serving: ServingCert = cert) -> list[Hook]:
        hooks = []
        for _ in range(count):
            h = Hook(ca_bundle=base64.b64encode(cert.ca_pem).decode())
            runners.append(await serve(h, serving))
            hooks.append(h)
        return hooks

    yield start
    for runner in runners:
        await runner.cleanup()


def _pod(name: str, **meta: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, **meta},
        "spec": {
            "containers": [
                {"name": "c", "image": "op:1", "ports": [{"name": "https", "containerPort": 0}]}
            ]
        },
    }


async def _endpoint_pod(
    core: client.CoreV1Api, name: str, address: str | None, ready: bool = True, port: int = 0
) -> None:
    annotations = {"sandbox.klt.dev/address": address} if address else {}
    body = _pod(name, labels={"app": "hook"}, annotations=annotations)
    body["spec"]["containers"][0]["ports"][0]["containerPort"] = port or 9443
    await core.create_namespaced_pod("hooks", body)
    status = "True" if ready else "False"
    await core.patch_namespaced_pod_status(
        name, "hooks", {"status": {"conditions": [{"type": "Ready", "status": status}]}}
    )


async def _service(core: client.CoreV1Api, target: Any = 9443) -> None:
    await core.create_namespaced_service(
        "hooks",
        {
            "metadata": {"name": "hook"},
            "spec": {"selector": {"app": "hook"}, "ports": [{"port": 443, "targetPort": target}]},
        },
    )


async def _webhook(kube: client.ApiClient, ca_bundle: str, policy: str = "Fail") -> None:
    config = {
        "metadata": {"name": "gate"},
        "webhooks": [
            {
                "name": "gate.sandbox.klt.dev",
                "clientConfig": {
                    "service": {"name": "hook", "namespace": "hooks", "path": "/mutate"},
                    "caBundle": ca_bundle,
                },
                "rules": [
                    {
                        "operations": ["CREATE"],
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "resources": ["pods"],
                    }
                ],
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "default"}},
                "failurePolicy": policy,
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
            }
        ],
    }
    await client.AdmissionregistrationV1Api(kube).create_mutating_webhook_configuration(config)


@pytest.fixture
async def core(kube: client.ApiClient) -> client.CoreV1Api:
    api = client.CoreV1Api(kube)
    await api.create_namespace({"metadata": {"name": "hooks"}})
    return api


async def test_calls_spread_over_ready_endpoints(
    kube: client.ApiClient, core: client.CoreV1Api, servers: Start
) -> None:
    a, b, c = await servers(3)
    await _service(core)
    await _endpoint_pod(core, "op-a", f"127.0.0.1:{a.port}")
    await _endpoint_pod(core, "op-b", f"127.0.0.1:{b.port}")
    await _endpoint_pod(core, "op-c", f"127.0.0.1:{c.port}", ready=False)
    await _endpoint_pod(core, "op-d", None)  # ready but no address: not routable here
    await _webhook(kube, a.ca_bundle)
    for i in range(6):
        created = await core.create_namespaced_pod("default", _pod(f"app-{i}"))
        assert created.spec.scheduling_gates, f"app-{i} was admitted without the webhook"
    assert (len(a.reviews), len(b.reviews), len(c.reviews)) == (3, 3, 0)
    # a pod being deleted (or gone) stops receiving calls at once
    await core.delete_namespaced_pod("op-a", "hooks")
    await core.create_namespaced_pod("default", _pod("app-last"))
    assert (len(a.reviews), len(b.reviews)) == (3, 4)


async def test_target_port_by_name_and_pod_address_setting(
    sandbox: Sandbox, kube: client.ApiClient, core: client.CoreV1Api, servers: Start
) -> None:
    a, b = await servers(2)
    await _service(core, target="https")
    await _endpoint_pod(core, "op-a", "127.0.0.1", port=a.port)  # host only: port from targetPort
    await _endpoint_pod(core, "op-b", None)
    sandbox.admission.resolver.pod_addresses["hooks/op-b"] = f"127.0.0.1:{b.port}"
    await _webhook(kube, a.ca_bundle)
    for i in range(4):
        await core.create_namespaced_pod("default", _pod(f"app-{i}"))
    assert (len(a.reviews), len(b.reviews)) == (2, 2)


async def test_no_endpoints_follows_failure_policy(
    kube: client.ApiClient, core: client.CoreV1Api, servers: Start
) -> None:
    (a,) = await servers(1)
    await _service(core)
    await _endpoint_pod(core, "op-a", f"127.0.0.1:{a.port}", ready=False)
    await _webhook(kube, a.ca_bundle)
    with pytest.raises(ApiException) as err:
        await core.create_namespaced_pod("default", _pod("app"))
    assert err.value.status == 500
    assert json.loads(err.value.body)["message"] == (
        'Internal error occurred: failed calling webhook "gate.sandbox.klt.dev": failed to call '
        'webhook: Post "https://hook.hooks.svc:443/mutate?timeout=10s": no endpoints available '
        'for service "hooks/hook"'
    )
    adm = client.AdmissionregistrationV1Api(kube)
    await adm.patch_mutating_webhook_configuration(
        "gate",
        [{"op": "replace", "path": "/webhooks/0/failurePolicy", "value": "Ignore"}],
    )
    created = await core.create_namespaced_pod("default", _pod("app"))
    assert not created.spec.scheduling_gates  # Ignore: admitted, ungated


async def test_certificate_must_name_the_service(
    kube: client.ApiClient, core: client.CoreV1Api, servers: Start, tmp_path: Path
) -> None:
    # signed by the caBundle's CA, but for 127.0.0.1 only, not hook.hooks.svc
    cert = make_serving_cert(tmp_path / "pki2", hosts=("127.0.0.1",))
    (a,) = await servers(1, serving=cert)
    a.ca_bundle = base64.b64encode(cert.ca_pem).decode()
    await _service(core)
    await _endpoint_pod(core, "op-a", f"127.0.0.1:{a.port}")
    await _webhook(kube, a.ca_bundle)
    with pytest.raises(ApiException) as err:
        await core.create_namespaced_pod("default", _pod("app"))
    assert err.value.status == 500
    message = json.loads(err.value.body)["message"]
    assert 'failed calling webhook "gate.sandbox.klt.dev"' in message
    assert "certificate" in message and "hook.hooks.svc" in message
    assert a.reviews == []


async def test_a_pod_over_one_mebibyte_reaches_the_webhook(
    kube: client.ApiClient, core: client.CoreV1Api, servers: Start
) -> None:
    (a,) = await servers(1)
    await _service(core)
    await _endpoint_pod(core, "op-a", f"127.0.0.1:{a.port}")
    await _webhook(kube, a.ca_bundle)
    big = _pod("big")
    big["spec"]["containers"][0]["env"] = [
        {"name": f"V{i}", "value": "x" * 1000} for i in range(1200)
    ]
    created = await core.create_namespaced_pod("default", big)
    assert created.spec.scheduling_gates
    sent = a.reviews[-1]["request"]["object"]
    assert len(sent["spec"]["containers"][0]["env"]) == 1200


async def test_review_names_the_service_account_user(
    sandbox: Sandbox, kube: client.ApiClient, core: client.CoreV1Api, servers: Start
) -> None:
    (a,) = await servers(1)
    await _service(core)
    await _endpoint_pod(core, "op-a", f"127.0.0.1:{a.port}")
    await _webhook(kube, a.ca_bundle)
    await core.create_namespaced_service_account("default", {"metadata": {"name": "bot"}})
    rbac = client.RbacAuthorizationV1Api(kube)
    await rbac.create_namespaced_role(
        "default",
        {
            "metadata": {"name": "pods"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["create"]}],
        },
    )
    await rbac.create_namespaced_role_binding(
        "default",
        {
            "metadata": {"name": "bot-pods"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pods"},
            "subjects": [{"kind": "ServiceAccount", "name": "bot", "namespace": "default"}],
        },
    )
    token = sa_token(sandbox, "default", "bot")
    cfg = client.Configuration(host=sandbox.url, api_key={"BearerToken": f"Bearer {token}"})
    async with client.ApiClient(cfg) as bot:
        await client.CoreV1Api(bot).create_namespaced_pod("default", _pod("by-bot"))
    user = a.reviews[-1]["request"]["userInfo"]
    assert user["username"] == "system:serviceaccount:default:bot"
    assert "system:serviceaccounts:default" in user["groups"]
