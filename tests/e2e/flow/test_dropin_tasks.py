"""Drop-in stories, tasks and workloads (issue 12, points 6-9), applied with the real kubectl.

Events a KLT user greps for, TaskDefinition labels reaching the task's pod (service meshes),
an Argo Rollout judged by its health, and a `container:` task that really runs in the sandbox.
Each failed before the fix.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lifecycle.core import model
from sandbox.faults import FaultSettings
from tests.e2e.flow.conftest import Cluster, running_cluster
from tests.e2e.flow.klt_manifests import (
    apply,
    container_task,
    deployment,
    failed,
    get_json,
    keys,
    reasons_of,
    succeeded,
)

Body = dict[str, Any]


async def test_klt_event_reasons(cluster: Cluster) -> None:
    """Point 6: CreateWorkload, ReconcileEvaluationReconcileTimeout, AppContextNotFound."""
    evaluation = """
apiVersion: lifecycle.keptn.sh/v1
kind: KeptnEvaluationDefinition
metadata:
  name: enough-capacity
spec:
  retries: 1
  retryInterval: 1s
  objectives:
    - keptnMetricRef:
        name: available-cpus
      evaluationTarget: ">1"
"""
    await apply(
        cluster,
        evaluation,
        deployment(
            "worker",
            annotations=keys("worker", "3.0", pre_deployment_evaluations="enough-capacity"),
        ),
    )
    wv = await cluster.wait_for(model.KEPTN_WORKLOAD_VERSION, "worker-worker-3.0", failed)
    (item,) = wv["status"]["preDeploymentEvaluationTaskStatus"]
    evaluation_reasons = await reasons_of(cluster, item["name"])
    assert "ReconcileEvaluationReconcileTimeout" in evaluation_reasons
    assert "ReconcileEvaluationFailed" in evaluation_reasons
    events = (await get_json(cluster, "events"))["items"]
    timeout = next(e for e in events if e["reason"] == "ReconcileEvaluationReconcileTimeout")
    assert timeout["message"].startswith("Reconcile Evaluation: retryCount exceeded")
    assert await reasons_of(cluster, "worker-worker") == ["CreateWorkload"]
    wv_reasons = await reasons_of(cluster, "worker-worker-3.0")
    assert "WorkloadPreDeployEvaluationsErrored" in wv_reasons
    assert "AppContextNotFound" in await reasons_of(cluster, "worker-3.0-6b86b273")


async def test_task_definition_labels_reach_the_job_pod(cluster: Cluster) -> None:
    """Point 7: a mesh opt-out and cost labels on the definition reach KeptnTask, Job and pod."""
    definition = """
apiVersion: lifecycle.keptn.sh/v1
kind: KeptnTaskDefinition
metadata:
  name: migrate
  labels:
    cost-center: payments
    keptn.sh/app: not-this-one
  annotations:
    sidecar.istio.io/inject: "false"
    linkerd.io/inject: disabled
spec:
  python:
    inline:
      code: |
        print("migrated")
"""
    await apply(
        cluster,
        definition,
        deployment(
            "ledger",
            annotations=keys("ledger", "1.1", pre_deployment_tasks="migrate"),
        ),
    )
    await cluster.wait_for(model.KEPTN_WORKLOAD_VERSION, "ledger-ledger-1.1", succeeded)
    (task,) = (await get_json(cluster, "keptntasks"))["items"]
    assert task["metadata"]["labels"]["cost-center"] == "payments"
    assert task["metadata"]["labels"]["keptn.sh/app"] == "ledger"  # the operator's key wins
    assert task["metadata"]["annotations"]["sidecar.istio.io/inject"] == "false"
    (job,) = (await get_json(cluster, "jobs"))["items"]
    template = job["spec"]["template"]["metadata"]
    assert template["labels"]["cost-center"] == "payments"
    assert template["annotations"]["sidecar.istio.io/inject"] == "false"
    assert template["annotations"]["linkerd.io/inject"] == "disabled"
    (pod,) = (await get_json(cluster, "pods", "-l", f"job-name={job['metadata']['name']}"))["items"]
    assert pod["metadata"]["annotations"]["sidecar.istio.io/inject"] == "false"


ROLLOUT = """
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: checkout
spec:
  replicas: 2
  paused: true
  selector:
    matchLabels:
      component: checkout
  strategy:
    canary:
      steps:
        - setWeight: 50
        - pause: {}
  template:
    metadata:
      labels:
        component: checkout
        app.kubernetes.io/name: checkout
        app.kubernetes.io/version: 4.2.0
    spec:
      containers:
        - name: server
          image: ghcr.io/example/checkout:4.2.0
"""


async def test_argo_rollout_is_judged_by_its_health(cluster: Cluster) -> None:
    """Point 8: pods of a paused Rollout run, but the deployment waits for the Rollout's health."""
    await apply(cluster, ROLLOUT)
    await cluster.wait_list(
        model.POD,
        lambda ps: len(ps) == 2 and all(p["status"].get("phase") == "Running" for p in ps),
        label_selector="component=checkout",
    )
    wl = await cluster.wait_for(model.KEPTN_WORKLOAD, "checkout-checkout")
    assert wl["spec"]["resourceReference"]["kind"] == "ReplicaSet"
    rs = await get_json(cluster, "replicasets", "-l", "component=checkout")
    assert rs["items"][0]["status"]["availableReplicas"] == 2  # the ReplicaSet alone looks done
    rollout = await get_json(cluster, "rollout", "checkout")
    assert rollout["status"]["phase"] == "Paused"
    wv = await cluster.wait_for(model.KEPTN_WORKLOAD_VERSION, "checkout-checkout-4.2.0")
    assert wv["status"].get("deploymentStatus") == "Progressing"
    await cluster.kubectl(
        "patch", "rollout", "checkout", "-n", cluster.namespace,
        "--type", "merge", "-p", json.dumps({"spec": {"paused": False}}),
    )  # fmt: skip
    wv = await cluster.wait_for(model.KEPTN_WORKLOAD_VERSION, "checkout-checkout-4.2.0", succeeded)
    assert wv["status"]["deploymentStatus"] == "Succeeded"
    rollout = await get_json(cluster, "rollout", "checkout")
    assert rollout["status"]["phase"] == "Healthy"
    assert rollout["status"]["replicas"] == rollout["status"]["updatedReplicas"] == 2


async def test_container_task_runs_in_the_sandbox(tmp_path: Path) -> None:
    """Point 9: a busybox task runs its command with KEPTN_CONTEXT; other images say what to do.

    The node as `klt sandbox` starts it: no default outcome for images it cannot run.
    """
    async with running_cluster(tmp_path, default_outcome=None) as cluster:
        await container_story(cluster)


async def container_story(cluster: Cluster) -> None:
    await apply(
        cluster,
        container_task("notify", 'echo "notified: $KEPTN_CONTEXT"; test "$HOME" = "$PWD"'),
        container_task(
            "webhook", "curl -X POST http://hooks.example", image="curlimages/curl:8.5.0"
        ),
        deployment(
            "mailer",
            annotations=keys("mailer", "0.9", post_deployment_tasks="notify"),
        ),
        deployment(
            "hooks",
            annotations=keys("hooks", "0.1", pre_deployment_tasks="webhook"),
        ),
    )
    wv = await cluster.wait_for(model.KEPTN_WORKLOAD_VERSION, "mailer-mailer-0.9", succeeded)
    (item,) = wv["status"]["postDeploymentTaskStatus"]
    task = await cluster.wait_for(model.KEPTN_TASK, item["name"])
    logs = await cluster.kubectl(
        "logs", "-n", cluster.namespace, f"job/{task['status']['jobName']}"
    )
    context = json.loads(logs.removeprefix("notified: "))
    assert context["workloadName"] == "mailer-mailer" and context["taskType"] == "post"

    pods = await cluster.wait_list(
        model.POD,
        lambda ps: bool(waiting_messages(ps)),
        label_selector="keptn.sh/workload=hooks-hooks",
    )
    (message,) = waiting_messages(pods)
    assert '"curlimages/curl:8.5.0"' in message
    assert "--container-outcome succeed|fail" in message and "sandbox.klt.dev/outcome" in message


def waiting_messages(pods: list[Body]) -> list[str]:
    """The waiting messages of the pods' containers (ErrImagePull-like states)."""
    return [
        str(status["state"]["waiting"]["message"])
        for pod in pods
        for status in (pod.get("status") or {}).get("containerStatuses") or ()
        if (status.get("state") or {}).get("waiting", {}).get("message")
    ]


async def test_phase_reconcile_error_is_an_event(cluster: Cluster) -> None:
    """Point 6: a phase whose status cannot be written says `<Phase>ReconcileError` (KLT's)."""
    cluster.sandbox.faults.replace(FaultSettings(error_rate={"patch": 1.0}, error_kind="500"))
    try:
        await apply(cluster, deployment("queue", annotations=keys("queue", "1.0")))
        reasons = await cluster.wait_events(
            "queue-queue-1.0", "WorkloadPreDeployTasksReconcileError"
        )
    finally:
        cluster.sandbox.faults.replace(FaultSettings())
    events = (await get_json(cluster, "events"))["items"]
    error = next(e for e in events if e["reason"] == "WorkloadPreDeployTasksReconcileError")
    assert error["type"] == "Warning"
    assert error["message"].startswith("Workload Pre-Deployment Tasks: could not get reconciled")
    await cluster.wait_for(model.KEPTN_WORKLOAD_VERSION, "queue-queue-1.0", succeeded)
    assert "WorkloadPreDeployTasksSucceeded" not in reasons
