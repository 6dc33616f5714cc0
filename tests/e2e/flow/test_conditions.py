"""status.conditions through the sandbox (`kubectl wait --for=condition=...`), and the operator-health
series the same flow feeds (webhook requests, leader, certificate expiry)."""

from __future__ import annotations

import asyncio
import shutil
import time
from typing import Any

from lifecycle.core import model
from lifecycle.core.conditions import TYPES
from tests.e2e.flow.conftest import Cluster
from tests.e2e.flow.workloads import deployment, finished, succeeded


async def kubectl(cluster: Cluster, *args: str) -> tuple[int, str]:
    binary = shutil.which("kubectl")
    assert binary, "kubectl is installed in this environment"
    proc = await asyncio.create_subprocess_exec(
        binary, "--kubeconfig", str(cluster.sandbox.kubeconfig_path), "-n", cluster.namespace,
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await proc.communicate()
    return int(proc.returncode or 0), out.decode()


def conditions(obj: dict[str, Any]) -> dict[str, str]:
    return {c["type"]: c["status"] for c in obj["status"]["conditions"]}


async def test_kubectl_wait_for_ready_on_every_kind_of_a_flow(cluster: Cluster) -> None:
    await cluster.client.create(model.DEPLOYMENT, deployment("podtato"), cluster.namespace)
    await cluster.wait_for(model.KEPTN_APP_VERSION, "podtato-0.1.0-6b86b273")
    rc, out = await kubectl(
        cluster, "wait", "--for=condition=Ready", "--timeout=30s",
        "kav/podtato-0.1.0-6b86b273", "keptnworkloadversion/podtato-podtato-0.1.0",
        "keptnapp/podtato", "keptnworkload/podtato-podtato",
    )  # fmt: skip
    assert rc == 0, out
    assert out.count("condition met") == 4, out
    av = await cluster.wait_for(model.KEPTN_APP_VERSION, "podtato-0.1.0-6b86b273", succeeded)
    assert conditions(av) == {
        "Ready": "True", "Progressing": "False", "Reconciling": "False",
        "Failed": "False", "Stalled": "False",
    }  # fmt: skip
    assert [c["type"] for c in av["status"]["conditions"]] == list(TYPES)
    assert {c["observedGeneration"] for c in av["status"]["conditions"]} == {
        av["metadata"]["generation"]
    }
    # the same operator's health series (lifecycle.observability.telemetry_ops hooks in lifecycle.operator.root)
    registry = cluster.operator.registry
    labels = {"webhook": "/mutate-v1-pod", "code": "200"}
    assert (registry.get_sample_value("keptn_webhook_requests_total", labels) or 0) >= 1
    assert registry.get_sample_value("keptn_leader") == 1
    expiry = registry.get_sample_value(
        "keptn_certificate_expiry_timestamp_seconds", {"certificate": "webhook"}
    )
    assert expiry is not None and expiry > time.time() + 300 * 86400


async def test_a_failed_version_is_failed_and_stalled_not_ready(cluster: Cluster) -> None:
    await cluster.keptn_config(definitionWaitSeconds=1)
    body = deployment("api", keys={"keptn.sh/pre-deployment-tasks": "no-such-task"})
    await cluster.client.create(model.DEPLOYMENT, body, cluster.namespace)
    wv = await cluster.wait_for(model.KEPTN_WORKLOAD_VERSION, "api-api-0.1.0", finished)
    rc, out = await kubectl(
        cluster, "wait", "--for=condition=Failed", "--timeout=10s", "kwv/api-api-0.1.0"
    )
    assert rc == 0, out
    assert conditions(wv) == {
        "Ready": "False", "Progressing": "False", "Reconciling": "False",
        "Failed": "True", "Stalled": "True",
    }  # fmt: skip
    failed = next(c for c in wv["status"]["conditions"] if c["type"] == "Failed")
    assert "WorkloadPreDeployTasks" in failed["message"]
    rc, out = await kubectl(
        cluster, "wait", "--for=condition=Ready", "--timeout=1s", "kwv/api-api-0.1.0"
    )
    assert rc != 0 and "timed out" in out, out
