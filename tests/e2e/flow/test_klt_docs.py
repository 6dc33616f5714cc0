"""KLT documentation's own manifests (examples/klt-docs/) applied unchanged with kubectl.

The sandbox runs as `klt sandbox --container-outcome succeed`: the getting-started task's image
(curlimages/curl) is none the node can run, so it succeeds as the guide expects (its webhook URL
is a placeholder anyway). Each story ends where KLT's documentation says it does.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from lifecycle.core import model
from sandbox.node import Outcome
from tests.e2e.flow.conftest import Cluster, running_cluster
from tests.support.paths import REPO_ROOT

EXAMPLES = REPO_ROOT / "examples"
DOCS = EXAMPLES / "klt-docs"

Body = dict[str, Any]


@pytest.fixture
async def docs_cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    async with running_cluster(tmp_path, default_outcome=Outcome.SUCCEED) as cluster:
        yield cluster


def completed(obj: Body) -> bool:
    return (obj.get("status") or {}).get("status") == "Succeeded"


async def test_getting_started(docs_cluster: Cluster) -> None:
    c = docs_cluster
    await c.kubectl("create", "namespace", "keptndemo")
    await c.kubectl("annotate", "namespace", "keptndemo", "keptn.sh/lifecycle-toolkit=enabled")
    await c.kubectl("apply", "-f", str(DOCS / "getting-started"))
    app = await c.wait_for(model.KEPTN_APP, "keptndemoapp", namespace="keptndemo")
    assert app["spec"]["workloads"] == [{"name": "nginx", "version": "0.0.2"}]
    assert app["spec"]["version"] == "0.0.2"
    av = await c.wait_for(
        model.KEPTN_APP_VERSION, "keptndemoapp-0.0.2-6b86b273", completed, namespace="keptndemo"
    )
    assert av["status"]["currentPhase"] == "Completed"
    assert [t["definitionName"] for t in av["status"]["postDeploymentTaskStatus"]] == ["send-event"]
    assert av["status"]["postDeploymentTaskStatus"][0]["status"] == "Succeeded"
    wv = await c.wait_for(
        model.KEPTN_WORKLOAD_VERSION, "keptndemoapp-nginx-0.0.2", completed, namespace="keptndemo"
    )
    assert wv["status"]["postDeploymentTaskStatus"][0]["status"] == "Succeeded"
    table = await c.kubectl("get", "keptnappversion", "-n", "keptndemo")
    assert "keptndemoapp-0.0.2-6b86b273" in table and "Completed" in table


async def test_auto_app_discovery(docs_cluster: Cluster) -> None:
    c = docs_cluster
    await c.kubectl("apply", "-f", str(DOCS / "auto-app-discovery" / "deployments.yaml"))
    app = await c.wait_for(
        model.KEPTN_APP,
        "podtato-head",
        lambda a: len(a["spec"]["workloads"]) == 2,
        namespace="podtato-kubectl",
    )
    assert app["spec"]["workloads"] == [
        {"name": "podtato-head-frontend", "version": "0.1.0"},
        {"name": "podtato-head-hat", "version": "0.1.1"},
    ]
    assert app["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "keptn"
    name = f"podtato-head-{app['spec']['version']}-6b86b273"
    await c.wait_for(model.KEPTN_APP_VERSION, name, completed, namespace="podtato-kubectl")
    versions = json.loads(await c.kubectl("get", "kav", "-n", "podtato-kubectl", "-o", "json"))
    assert [v["metadata"]["name"] for v in versions["items"]] == [name]


async def test_analysis_samples_of_the_slo_guide(docs_cluster: Cluster) -> None:
    c = docs_cluster
    await c.kubectl("apply", "-f", str(DOCS / "analysis"))  # no -n: the samples name keptn-system
    table = await c.kubectl("get", "analyses.metrics.keptn.sh", "-A")
    (row,) = [line.split() for line in table.splitlines() if "analysis-sample" in line]
    assert row[:3] == ["default", "analysis-sample", "ad-my-proj-dev-svc1"]
    analysis = json.loads(
        await c.kubectl("get", "analysis", "analysis-sample", "-n", "default", "-o", "json")
    )
    assert "pass" not in (analysis.get("status") or {})  # its definition is not among the samples


async def test_our_container_task_example(docs_cluster: Cluster) -> None:
    c = docs_cluster
    await c.kubectl("apply", "-f", str(EXAMPLES / "container-task" / "app.yaml"))
    wv = await c.wait_for(
        model.KEPTN_WORKLOAD_VERSION,
        "greeter-greeter-1.0.0",
        completed,
        namespace="container-task",
    )
    (item,) = wv["status"]["postDeploymentTaskStatus"]
    task = await c.wait_for(model.KEPTN_TASK, item["name"], namespace="container-task")
    logs = await c.kubectl("logs", "-n", "container-task", f"job/{task['status']['jobName']}")
    assert logs.startswith("deployed: {") and '"workloadName":"greeter-greeter"' in logs
