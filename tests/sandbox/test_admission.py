"""Admission webhooks over HTTPS: an aiohttp webhook with a CA generated for the test."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from sandbox.server import Sandbox
from sandbox.tls import ServingCert, make_serving_cert
from tests.sandbox.conftest import FIXTURES, GROUP, PLURAL, VERSION, widget


@dataclass
class Hook:
    """A webhook server that records reviews; `answer` decides each response."""

    port: int = 0
    ca_bundle: str = ""
    reviews: list[dict[str, Any]] = field(default_factory=list)
    delay: float = 0.0

    def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        obj = request.get("object") or {}
        labels = (obj.get("metadata") or {}).get("labels") or {}
        if request["operation"] == "CREATE" and "deny" in labels:
            return {
                "allowed": False,
                "status": {"code": 403, "message": f"label deny={labels['deny']} is not allowed"},
            }
        if request["resource"]["resource"] == "pods" and request["operation"] == "CREATE":
            patch = [
                {
                    "op": "add",
                    "path": "/spec/schedulingGates",
                    "value": [{"name": "sandbox.klt.dev/gate"}],
                }
            ]
            return {
                "allowed": True,
                "patchType": "JSONPatch",
                "patch": base64.b64encode(json.dumps(patch).encode()).decode(),
            }
        return {"allowed": True}

    async def handle(self, request: web.Request) -> web.Response:
        review = await request.json()
        self.reviews.append(review)
        if self.delay:
            await asyncio.sleep(self.delay)
        response = {"uid": review["request"]["uid"], **self.answer(review["request"])}
        return web.json_response(
            {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response}
        )


@pytest.fixture
async def hook(tmp_path: Path) -> AsyncIterator[Hook]:
    cert = make_serving_cert(tmp_path / "pki", hosts=("127.0.0.1", "hook.default.svc"))
    h = Hook(ca_bundle=base64.b64encode(cert.ca_pem).decode())
    runner = await serve(h, cert)
    yield h
    await runner.cleanup()


async def serve(h: Hook, cert: ServingCert) -> web.AppRunner:
    """Serve `h` over HTTPS with `cert` on a free loopback port (sets `h.port`)."""
    app = web.Application(client_max_size=8 * 1024 * 1024)
    app.router.add_post("/mutate", h.handle)
    app.router.add_post("/validate", h.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=cert.server_context())
    await site.start()
    h.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner


def _config(kind: str, hook: Hook, path: str, resources: list[str], **extra: Any) -> dict[str, Any]:
    webhook = {
        "name": f"{path.strip('/')}.sandbox.klt.dev",
        "clientConfig": {"url": f"https://127.0.0.1:{hook.port}{path}", "caBundle": hook.ca_bundle},
        "rules": [
            {
                "operations": ["CREATE", "UPDATE"],
                "apiGroups": ["", GROUP],
                "apiVersions": ["v1"],
                "resources": resources,
            }
        ],
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
        **extra,
    }
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": kind,
        "metadata": {"name": path.strip("/")},
        "webhooks": [webhook],
    }


POD = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x:1"}]}}


async def test_mutating_webhook_patches_pods(kube: client.ApiClient, hook: Hook) -> None:
    adm, core = client.AdmissionregistrationV1Api(kube), client.CoreV1Api(kube)
    await adm.create_mutating_webhook_configuration(
        _config("MutatingWebhookConfiguration", hook, "/mutate", ["pods"])
    )
    created = await core.create_namespaced_pod("default", POD)
    assert [g.name for g in created.spec.scheduling_gates] == ["sandbox.klt.dev/gate"]
    request = hook.reviews[-1]["request"]
    assert hook.reviews[-1]["kind"] == "AdmissionReview"
    assert request["operation"] == "CREATE" and request["namespace"] == "default"
    assert request["kind"] == {"group": "", "version": "v1", "kind": "Pod"}
    assert request["object"]["metadata"]["name"] == "p"
    # status writes are a subresource the rule does not name: no call
    calls = len(hook.reviews)
    await core.patch_namespaced_pod_status("p", "default", {"status": {"phase": "Running"}})
    assert len(hook.reviews) == calls


async def test_validating_webhook_denies_with_its_message(
    kube: client.ApiClient, hook: Hook
) -> None:
    adm, co = client.AdmissionregistrationV1Api(kube), client.CustomObjectsApi(kube)
    await adm.create_validating_webhook_configuration(
        _config("ValidatingWebhookConfiguration", hook, "/validate", ["widgets"])
    )
    body = widget("w")
    body["metadata"]["labels"] = {"deny": "yes"}  # type: ignore[index]
    with pytest.raises(ApiException) as err:
        await co.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, body)
    assert err.value.status == 403
    message = json.loads(err.value.body)["message"]
    assert (
        message
        == 'admission webhook "validate.sandbox.klt.dev" denied the request: label deny=yes is not allowed'
    )
    await co.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, widget("ok"))
    assert (
        hook.reviews[-1]["request"]["object"]["spec"]["retries"] == 3
    )  # defaults applied before validation


async def test_namespace_and_object_selectors(kube: client.ApiClient, hook: Hook) -> None:
    adm, core = client.AdmissionregistrationV1Api(kube), client.CoreV1Api(kube)
    cfg = _config(
        "MutatingWebhookConfiguration",
        hook,
        "/mutate",
        ["pods"],
        namespaceSelector={"matchLabels": {"keptn": "on"}},
        objectSelector={"matchExpressions": [{"key": "skip", "operator": "DoesNotExist"}]},
    )
    await adm.create_mutating_webhook_configuration(cfg)
    await core.create_namespace({"metadata": {"name": "on", "labels": {"keptn": "on"}}})
    plain = await core.create_namespaced_pod("default", POD)
    assert plain.spec.scheduling_gates is None
    gated = await core.create_namespaced_pod("on", POD)
    assert gated.spec.scheduling_gates
    skipped = await core.create_namespaced_pod(
        "on", {**POD, "metadata": {"name": "s", "labels": {"skip": "1"}}}
    )
    assert skipped.spec.scheduling_gates is None
    assert len(hook.reviews) == 1


async def test_failure_policy_and_timeout(kube: client.ApiClient, hook: Hook) -> None:
    adm, core = client.AdmissionregistrationV1Api(kube), client.CoreV1Api(kube)
    hook.delay = 1.5
    cfg = _config(
        "ValidatingWebhookConfiguration",
        hook,
        "/validate",
        ["configmaps"],
        timeoutSeconds=1,
        failurePolicy="Ignore",
    )
    await adm.create_validating_webhook_configuration(cfg)
    await core.create_namespaced_config_map("default", {"metadata": {"name": "ignored"}})
    cfg["webhooks"][0]["failurePolicy"] = "Fail"
    await adm.patch_validating_webhook_configuration("validate", {"webhooks": cfg["webhooks"]})
    with pytest.raises(ApiException) as err:
        await core.create_namespaced_config_map("default", {"metadata": {"name": "failed"}})
    assert err.value.status == 500
    assert (
        'failed calling webhook "validate.sandbox.klt.dev"' in json.loads(err.value.body)["message"]
    )


async def test_untrusted_certificate_fails_the_call(
    kube: client.ApiClient, hook: Hook, tmp_path: Path
) -> None:
    other = make_serving_cert(tmp_path / "other")
    adm, core = client.AdmissionregistrationV1Api(kube), client.CoreV1Api(kube)
    cfg = _config("ValidatingWebhookConfiguration", hook, "/validate", ["configmaps"])
    cfg["webhooks"][0]["clientConfig"]["caBundle"] = base64.b64encode(other.ca_pem).decode()
    await adm.create_validating_webhook_configuration(cfg)
    with pytest.raises(ApiException) as err:
        await core.create_namespaced_config_map("default", {"metadata": {"name": "x"}})
    assert err.value.status == 500
    assert hook.reviews == []


async def test_service_reference_resolves_through_settings(hook: Hook) -> None:
    services = {"hook.default:443": f"127.0.0.1:{hook.port}"}
    async with Sandbox(crds_dir=FIXTURES, node=False, webhook_services=services) as sb:
        from kubernetes_asyncio import config

        api = await config.new_client_from_config(config_file=str(sb.kubeconfig_path))
        async with api:
            cfg = _config("MutatingWebhookConfiguration", hook, "/mutate", ["pods"])
            cfg["webhooks"][0]["clientConfig"] = {
                "service": {"name": "hook", "namespace": "default", "path": "/mutate"},
                "caBundle": hook.ca_bundle,
            }
            await client.AdmissionregistrationV1Api(api).create_mutating_webhook_configuration(cfg)
            created = await client.CoreV1Api(api).create_namespaced_pod("default", POD)
            assert created.spec.scheduling_gates


async def test_service_reference_resolves_through_annotation(
    kube: client.ApiClient, hook: Hook
) -> None:
    adm, core = client.AdmissionregistrationV1Api(kube), client.CoreV1Api(kube)
    await core.create_namespaced_service(
        "default",
        {
            "metadata": {
                "name": "hook",
                "annotations": {"sandbox.klt.dev/address": f"127.0.0.1:{hook.port}"},
            },
            "spec": {"ports": [{"port": 443}]},
        },
    )
    cfg = _config("MutatingWebhookConfiguration", hook, "/mutate", ["pods"])
    cfg["webhooks"][0]["clientConfig"] = {
        "service": {"name": "hook", "namespace": "default", "path": "/mutate"},
        "caBundle": hook.ca_bundle,
    }
    await adm.create_mutating_webhook_configuration(cfg)
    created = await core.create_namespaced_pod("default", POD)
    assert created.spec.scheduling_gates


async def test_concurrent_writes_while_webhooks_run(kube: client.ApiClient, hook: Hook) -> None:
    adm, core = client.AdmissionregistrationV1Api(kube), client.CoreV1Api(kube)
    hook.delay = 0.05
    cfg = _config("ValidatingWebhookConfiguration", hook, "/validate", ["configmaps"])
    await adm.create_validating_webhook_configuration(cfg)
    cm = await core.create_namespaced_config_map(
        "default", {"metadata": {"name": "cm"}, "data": {}}
    )
    # patches without a resourceVersion are redone on the new version, never lost
    await asyncio.gather(
        *(
            core.patch_namespaced_config_map("cm", "default", {"data": {f"k{i}": "v"}})
            for i in range(5)
        )
    )
    merged = await core.read_namespaced_config_map("cm", "default")
    assert sorted(merged.data) == [f"k{i}" for i in range(5)]
    # updates that carry the same resourceVersion: exactly one wins, the others get 409
    stale = merged.metadata.resource_version

    async def update(i: int) -> int:
        body = {"metadata": {"name": "cm", "resourceVersion": stale}, "data": {"winner": str(i)}}
        try:
            await core.replace_namespaced_config_map("cm", "default", body)
        except ApiException as exc:
            return exc.status
        return 200

    codes = await asyncio.gather(*(update(i) for i in range(4)))
    assert sorted(codes) == [200, 409, 409, 409]
    assert cm.metadata.uid == merged.metadata.uid
