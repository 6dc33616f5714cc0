"""Fixtures of the reliability tests: an in-process sandbox with the simulated node, a client,
and the `Scenario` app writing its runners' output into the test's tmp dir.

The sandbox lives in the test process, so killing an operator subprocess never touches the
runners (python/deno children of the node agent here) or the API server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from lifecycle.core import model
from lifecycle.flow.context import OperatorSettings
from lifecycle.kube import KubeClient
from lifecycle.operator.server import ServerConfig
from lifecycle.operator.settings import RunSettings
from sandbox.server import Sandbox
from tests.e2e.reliability.scenario import Scenario
from tests.support import sandbox as support_sandbox

NAMESPACE = "shop"
KEPTN_NAMESPACE = "keptn-system"


async def start_sandbox(tmp_path: Path) -> Sandbox:
    """The sandbox with its node: pods start 50 ms after their gate is gone."""
    return await support_sandbox.start_sandbox(
        tmp_path, pod_start_delay=0.05, bookmark_interval=1.0
    )


async def opt_in(client: KubeClient, namespace: str) -> None:
    """Create `namespace` with KLT's opt-in annotation."""
    annotations = {"keptn.sh/lifecycle-toolkit": "enabled"}
    await client.create(
        model.NAMESPACE, {"metadata": {"name": namespace, "annotations": annotations}}
    )


def operator_settings(sandbox: Sandbox, tmp_path: Path) -> RunSettings:
    """Settings of an in-process operator: free ports, webhooks by URL, a stable identity."""
    return RunSettings(
        kubeconfig=str(sandbox.kubeconfig_path),
        webhook_url_host="127.0.0.1",
        server=ServerConfig(host="127.0.0.1", webhook_port=0, metrics_port=0, probe_port=0),
        cert_dir=tmp_path / "certs",
        operator=OperatorSettings(keptn_namespace=KEPTN_NAMESPACE, workers=4),
        leader_identity="operator-0",
    )


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[Sandbox]:
    sb = await start_sandbox(tmp_path)
    try:
        yield sb
    finally:
        await sb.stop()


@pytest.fixture
async def client(sandbox: Sandbox) -> AsyncIterator[KubeClient]:
    kc = KubeClient.for_url(sandbox.url, token=sandbox.token)
    await opt_in(kc, NAMESPACE)
    try:
        yield kc
    finally:
        await kc.close()


@pytest.fixture
def scenario(client: KubeClient, tmp_path: Path) -> Scenario:
    return Scenario(client=client, namespace=NAMESPACE, out_file=tmp_path / "runs.txt")
