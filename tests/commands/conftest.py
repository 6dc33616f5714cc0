"""The `cluster` fixture of the `klt trace`/`klt status` tests: a sandbox (no node) holding the
finished sample app version of tests/demo/samples.py, its two workload versions and one
workload version of another app."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator

import pytest

from lifecycle.core import model
from lifecycle.kube import KubeClient
from sandbox import Sandbox
from tests.commands import samples


async def _put(client: KubeClient, kind: model.ResourceKind, body: dict) -> None:
    body = copy.deepcopy(body)
    status = body.pop("status")
    created = await client.create(kind, body, body["metadata"]["namespace"])
    await client.patch_status(
        kind, created["metadata"]["name"], {"status": status}, created["metadata"]["namespace"]
    )


@pytest.fixture
async def cluster() -> AsyncIterator[Sandbox]:
    async with Sandbox(node=False) as sb:
        client = KubeClient.for_url(sb.url, token=sb.token)
        async with client:
            await client.create(model.NAMESPACE, {"metadata": {"name": "podtato-kubectl"}})
            av = samples.app_version()
            av["spec"]["workloads"] = [
                {"name": "frontend", "version": "0.1.0"},
                {"name": "hat", "version": "0.1.0"},
            ]
            await _put(client, model.KEPTN_APP_VERSION, av)
            for wv in samples.workload_versions():
                await _put(client, model.KEPTN_WORKLOAD_VERSION, wv)
            # a workload version of another app must not show up
            other = copy.deepcopy(samples.workload_versions()[0])
            other["metadata"]["name"] = "other-app-hat-0.1.0"
            other["spec"]["app"] = "other-app"
            await _put(client, model.KEPTN_WORKLOAD_VERSION, other)
        yield sb
