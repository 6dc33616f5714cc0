"""The flow with real tasks (python and deno runners): parallel tasks per phase, and a failing one."""

from __future__ import annotations

import asyncio
from typing import Any

from lifecycle.core import model
from tests.e2e.flow.conftest import Cluster
from tests.e2e.flow.workloads import deployment, finished, gated, running, state, succeeded

Body = dict[str, Any]

PY_OK = 'import json, os\nprint("ran", json.loads(os.environ["KEPTN_CONTEXT"])["taskType"])\n'
PY_FAIL = 'import sys\nprint("failing on purpose")\nsys.exit(3)\n'
DENO_OK = 'console.log("deno ran");\n'


def definition(name: str, runtime: str, code: str) -> Body:
    return {
        "apiVersion": model.KEPTN_TASK_DEFINITION.api_version,
        "kind": "KeptnTaskDefinition",
        "metadata": {"name": name},
        "spec": {runtime: {"inline": {"code": code}}, "retries": 0, "timeout": "30s"},
    }


async def define(cluster: Cluster, *defs: Body) -> None:
    for body in defs:
        await cluster.client.create(model.KEPTN_TASK_DEFINITION, body, cluster.namespace)


async def test_pre_and_post_tasks_run_in_parallel_and_the_flow_completes(cluster: Cluster) -> None:
    await define(
        cluster, definition("py-check", "python", PY_OK), definition("deno-check", "deno", DENO_OK)
    )
    keys = {
        "keptn.sh/pre-deployment-tasks": "py-check,deno-check",
        "keptn.sh/post-deployment-tasks": "py-check",
    }
    await cluster.client.create(model.DEPLOYMENT, deployment("svc", keys=keys), cluster.namespace)
    wv = await cluster.wait_for(model.KEPTN_WORKLOAD_VERSION, "svc-svc-0.1.0", finished, within=60)
    assert state(wv) == "Succeeded", wv["status"]
    pre = wv["status"]["preDeploymentTaskStatus"]
    assert {t["definitionName"] for t in pre} == {"py-check", "deno-check"}
    assert all(t["status"] == "Succeeded" for t in pre)
    # both pre-deployment tasks were running at the same time: each started before the other ended
    starts = sorted(t["startTime"] for t in pre)
    ends = sorted(t["endTime"] for t in pre)
    assert starts[-1] <= ends[0]
    jobs, _ = await cluster.client.list(model.JOB, cluster.namespace)
    assert len(jobs) == 3  # two pre, one post: each task ran once
    await cluster.wait_list(model.POD, running, label_selector="app=svc")


async def test_failing_pre_deployment_task_errors_and_keeps_pods_pending(cluster: Cluster) -> None:
    await define(cluster, definition("py-fail", "python", PY_FAIL))
    keys = {"keptn.sh/pre-deployment-tasks": "py-fail"}
    await cluster.client.create(
        model.DEPLOYMENT, deployment("broken", keys=keys), cluster.namespace
    )
    wv = await cluster.wait_for(
        model.KEPTN_WORKLOAD_VERSION, "broken-broken-0.1.0", finished, within=60
    )
    status = wv["status"]
    assert status["status"] == "Failed"
    assert status["preDeploymentStatus"] == "Failed"
    for later in (
        "preDeploymentEvaluationStatus",
        "deploymentStatus",
        "postDeploymentStatus",
        "postDeploymentEvaluationStatus",
    ):
        assert status[later] == "Deprecated", later
    reasons = await cluster.wait_events("broken-broken-0.1.0", "WorkloadPreDeployTasksErrored")
    assert "WorkloadDeployStarted" not in reasons
    await asyncio.sleep(0.3)
    pods, _ = await cluster.client.list(model.POD, cluster.namespace, label_selector="app=broken")
    assert len(pods) == 1 and gated(pods[0]) and pods[0]["status"].get("phase") == "Pending"
    av = await cluster.wait_for(model.KEPTN_APP_VERSION, "broken-0.1.0-6b86b273", finished)
    assert state(av) == "Failed" and state(av, "workloadOverallStatus") == "Failed"
    assert not succeeded(av)
