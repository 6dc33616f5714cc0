"""The composition root: CloudEvents from KeptnConfig, two replicas with one leader, probes."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from lifecycle.admission.registration import (
    MUTATING,
    VALIDATING,
    register_webhooks,
    webhook_configurations,
)
from lifecycle.core import model
from lifecycle.flow.context import OperatorSettings
from lifecycle.kube import KubeClient, NotFound
from lifecycle.operator.root import Operator
from tests.e2e.flow.conftest import Cluster, operator_settings, start_sandbox
from tests.e2e.flow.workloads import deployment, running, succeeded
from tests.support.http import serve


async def test_cloudevents_follow_the_keptn_config(cluster: Cluster) -> None:
    received: list[dict[str, Any]] = []
    deployed = asyncio.Event()

    async def sink(request: web.Request) -> web.Response:
        received.append({"headers": dict(request.headers), "body": await request.read()})
        if request.headers.get("ce-type") == "sh.keptn.lifecycle.app-deploy.succeeded":
            deployed.set()
        return web.Response(status=202)

    app = web.Application()
    app.router.add_post("/events", sink)
    async with serve(app) as url:
        await cluster.keptn_config(cloudEventsEndpoint=f"{url}/events")
        await cluster.client.create(model.DEPLOYMENT, deployment("evented"), cluster.namespace)
        await cluster.wait_for(model.KEPTN_APP_VERSION, "evented-0.1.0-6b86b273", succeeded)
        async with asyncio.timeout(10):
            await deployed.wait()
        types = [r["headers"].get("ce-type", "") for r in received]
        assert all(" " not in t for t in types)
        assert "sh.keptn.lifecycle.app-pre-deploy-tasks.started" in types
        assert types.count("sh.keptn.lifecycle.app-deploy.succeeded") == 1


async def test_two_replicas_one_leader_and_failover(tmp_path: Path) -> None:
    sb = await start_sandbox(tmp_path)
    client = KubeClient.for_url(sb.url, token=sb.token)
    first = Operator(operator_settings(sb, tmp_path / "a"), identity="replica-a")
    second = Operator(operator_settings(sb, tmp_path / "b"), identity="replica-b")
    try:
        await first.start()
        async with asyncio.timeout(10):
            await first.wait_leading()
        await second.start()
        async with asyncio.timeout(10):
            await second.wait_ready()
        await asyncio.sleep(0.3)
        assert not second.leading  # a follower serves webhooks, runs no controllers
        probe = f"http://127.0.0.1:{second.ports['probes']}/readyz"
        async with aiohttp.ClientSession() as http, http.get(probe) as resp:
            assert resp.status == 200
        await first.stop()  # releases the Lease: the follower takes over within a retry period
        async with asyncio.timeout(10):
            await second.wait_leading()
        await client.create(model.DEPLOYMENT, deployment("failover"), "demo")
        async with asyncio.timeout(20):
            while True:
                items, _ = await client.list(model.KEPTN_APP_VERSION, "demo")
                if any(succeeded(i) for i in items):
                    break
                await asyncio.sleep(0.05)
            while True:
                pods, _ = await client.list(model.POD, "demo", label_selector="app=failover")
                if running(pods):
                    break
                await asyncio.sleep(0.05)
        lease = await client.get(model.LEASE, "6b866dd9.keptn.sh", "keptn-system")
        assert lease["spec"]["holderIdentity"] == "replica-b"
    finally:
        await second.stop()
        await first.stop()
        await client.close()
        await sb.stop()


async def test_in_cluster_registration_only_sets_the_ca_bundle(tmp_path: Path) -> None:
    sb = await start_sandbox(tmp_path)
    client = KubeClient.for_url(sb.url, token=sb.token)
    try:
        installed = webhook_configurations(ca_bundle="", url_base=None, keptn_namespace="keptn")
        for body in installed:
            for hook in body["webhooks"]:
                hook["failurePolicy"] = "Fail"  # as a chart might set it
            kind = MUTATING if body["kind"] == MUTATING.kind else VALIDATING
            await client.create(kind, body)
        await register_webhooks(client, ca_bundle="Q0E=", url_base=None, keptn_namespace="keptn")
        mutating = await client.get(MUTATING, "lifecycle-mutating-webhook-configuration")
        hook = mutating["webhooks"][0]
        assert hook["clientConfig"]["caBundle"] == "Q0E="
        assert hook["clientConfig"]["service"]["namespace"] == "keptn"
        assert hook["failurePolicy"] == "Fail"
        keys = [e["key"] for e in hook["namespaceSelector"]["matchExpressions"]]
        assert "keptn.sh/lifecycle-toolkit" not in keys  # the mutator checks label or annotation
        excluded = [
            v
            for e in hook["namespaceSelector"]["matchExpressions"]
            if e["key"] == "kubernetes.io/metadata.name" and e["operator"] == "NotIn"
            for v in e["values"]
        ]
        assert "keptn" in excluded and "keptn-system" not in excluded
    finally:
        await client.close()
        await sb.stop()


async def test_scoped_operator_with_promotion_tasks(tmp_path: Path) -> None:
    sb = await start_sandbox(tmp_path)
    client = KubeClient.for_url(sb.url, token=sb.token)
    scoped = OperatorSettings(
        keptn_namespace="keptn-system", watch_namespace="demo", promotion_tasks_enabled=True
    )
    operator = Operator(operator_settings(sb, tmp_path, operator=scoped))
    try:
        await client.create(
            model.NAMESPACE,
            {
                "metadata": {
                    "name": "other",
                    "annotations": {"keptn.sh/lifecycle-toolkit": "enabled"},
                }
            },
        )
        definition = {
            "apiVersion": model.KEPTN_TASK_DEFINITION.api_version,
            "kind": "KeptnTaskDefinition",
            "metadata": {"name": "promote"},
            "spec": {"python": {"inline": {"code": "print('promoted')"}}, "retries": 0},
        }
        # definitions in the Keptn namespace are found from any namespace
        await client.create(model.NAMESPACE, {"metadata": {"name": "keptn-system"}})
        await client.create(model.KEPTN_TASK_DEFINITION, definition, "keptn-system")
        for ns in ("demo", "other"):
            await client.create(
                model.KEPTN_APP_CONTEXT,
                {
                    "metadata": {"name": "rel", "namespace": ns},
                    "spec": {"promotionTasks": ["promote"]},
                },
                ns,
            )
            await client.create(
                model.KEPTN_APP,
                {
                    "metadata": {"name": "rel", "namespace": ns},
                    "spec": {"version": "1", "workloads": []},
                },
                ns,
            )
        await operator.start()
        async with asyncio.timeout(20):
            await operator.wait_leading()
            while True:
                try:
                    av = await client.get(model.KEPTN_APP_VERSION, "rel-1-6b86b273", "demo")
                except NotFound:
                    av = {}
                if succeeded(av):
                    break
                await asyncio.sleep(0.05)
        assert av["status"]["promotionStatus"] == "Succeeded"
        assert [t["definitionName"] for t in av["status"]["promotionTaskStatus"]] == ["promote"]
        others, _ = await client.list(model.KEPTN_APP_VERSION, "other")
        assert others == []  # outside the operator's namespace
    finally:
        await operator.stop()
        await client.close()
        await sb.stop()
