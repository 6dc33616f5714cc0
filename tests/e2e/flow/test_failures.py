"""Failure paths without tasks or evaluations: missing definitions, deploy timeout, non-blocking, new revision."""

from __future__ import annotations

import asyncio

from lifecycle.core import model
from tests.e2e.flow.conftest import Cluster
from tests.e2e.flow.workloads import deployment, finished, gated, running, state, succeeded


async def test_missing_definition_errors_with_its_name_and_keeps_pods_gated(
    cluster: Cluster,
) -> None:
    await cluster.keptn_config(definitionWaitSeconds=1)
    body = deployment("api", keys={"keptn.sh/pre-deployment-tasks": "no-such-task"})
    await cluster.client.create(model.DEPLOYMENT, body, cluster.namespace)
    wv = await cluster.wait_for(model.KEPTN_WORKLOAD_VERSION, "api-api-0.1.0", finished)
    status = wv["status"]
    assert status["status"] == "Failed"
    assert status["preDeploymentStatus"] == "Failed"
    for later in ("preDeploymentEvaluationStatus", "deploymentStatus", "postDeploymentStatus"):
        assert status[later] == "Deprecated", later
    reasons = await cluster.wait_events("api-api-0.1.0", "WorkloadPreDeployTasksErrored")
    assert "WorkloadDeployStarted" not in reasons
    errored = [
        e
        for e in await cluster.events("api-api-0.1.0")
        if e["reason"] == "WorkloadPreDeployTasksErrored"
    ]
    assert "no-such-task" in errored[0]["message"]
    await asyncio.sleep(0.3)  # the pod would have been released by now
    pods, _ = await cluster.client.list(model.POD, cluster.namespace, label_selector="app=api")
    assert len(pods) == 1 and gated(pods[0]) and pods[0]["status"].get("phase") == "Pending"


async def test_workload_deploy_timeout(cluster: Cluster) -> None:
    await cluster.keptn_config(observabilityTimeout="1s")
    body = deployment("slow", pod_annotations={"sandbox.klt.dev/outcome": "never-ready"})
    await cluster.client.create(model.DEPLOYMENT, body, cluster.namespace)
    wv = await cluster.wait_for(
        model.KEPTN_WORKLOAD_VERSION, "slow-slow-0.1.0", finished, within=15
    )
    assert state(wv) == "Failed"
    assert state(wv, "deploymentStatus") == "Failed"
    assert state(wv, "postDeploymentStatus") == "Deprecated"
    await cluster.wait_events("slow-slow-0.1.0", "WorkloadDeployErrored")
    av = await cluster.wait_for(model.KEPTN_APP_VERSION, "slow-0.1.0-6b86b273", finished)
    assert state(av) == "Failed"
    assert state(av, "workloadOverallStatus") == "Failed"


async def test_non_blocking_mode_goes_on_after_a_failed_phase(cluster: Cluster) -> None:
    await cluster.keptn_config(definitionWaitSeconds=1, blockDeployment=False)
    body = deployment("lenient", keys={"keptn.sh/pre-deployment-evaluations": "no-such-eval"})
    await cluster.client.create(model.DEPLOYMENT, body, cluster.namespace)
    wv = await cluster.wait_for(model.KEPTN_WORKLOAD_VERSION, "lenient-lenient-0.1.0", finished)
    assert state(wv, "preDeploymentEvaluationStatus") == "Warning"
    assert state(wv, "deploymentStatus") == "Succeeded"
    assert state(wv, "postDeploymentStatus") == "Succeeded"
    await cluster.wait_list(model.POD, running, label_selector="app=lenient")


async def test_new_revision_restarts_a_failed_app_and_releases_its_pods(cluster: Cluster) -> None:
    await cluster.keptn_config(definitionWaitSeconds=1)
    ns = cluster.namespace
    context = {
        "apiVersion": model.KEPTN_APP_CONTEXT.api_version,
        "kind": "KeptnAppContext",
        "metadata": {"name": "shop", "namespace": ns},
        "spec": {"preDeploymentTasks": ["missing-check"]},
    }
    app = {
        "apiVersion": model.KEPTN_APP.api_version,
        "kind": "KeptnApp",
        "metadata": {"name": "shop", "namespace": ns},
        "spec": {"version": "1.0", "workloads": [{"name": "cart", "version": "1.0"}]},
    }
    await cluster.client.create(model.KEPTN_APP_CONTEXT, context, ns)
    await cluster.client.create(model.KEPTN_APP, app, ns)
    await cluster.client.create(model.DEPLOYMENT, deployment("cart", version="1.0", app="shop"), ns)
    failed = await cluster.wait_for(model.KEPTN_APP_VERSION, "shop-1.0-6b86b273", finished)
    assert state(failed) == "Failed"
    assert state(failed, "preDeploymentStatus") == "Failed"
    await cluster.wait_events("shop-cart-1.0", "AppPreDeployEvaluationsFailed")
    pods, _ = await cluster.client.list(model.POD, ns, label_selector="app=cart")
    assert len(pods) == 1 and gated(pods[0])
    # fix the context, then bump the revision: a new AppVersion (generation 2) runs the flow
    await cluster.client.patch(
        model.KEPTN_APP_CONTEXT, "shop", {"spec": {"preDeploymentTasks": []}}, ns
    )
    await cluster.client.patch(model.KEPTN_APP, "shop", {"spec": {"revision": 2}}, ns)
    await cluster.wait_for(model.KEPTN_APP_VERSION, "shop-1.0-d4735e3a", succeeded)
    await cluster.wait_for(model.KEPTN_WORKLOAD_VERSION, "shop-cart-1.0", succeeded)
    await cluster.wait_list(model.POD, running, label_selector="app=cart")
    old = await cluster.get(model.KEPTN_APP_VERSION, "shop-1.0-6b86b273")
    assert old is not None and state(old) == "Failed"  # a completed outcome is kept


async def test_running_older_revision_is_deprecated(cluster: Cluster) -> None:
    ns = cluster.namespace
    context = {
        "apiVersion": model.KEPTN_APP_CONTEXT.api_version,
        "kind": "KeptnAppContext",
        "metadata": {"name": "store", "namespace": ns},
        "spec": {"preDeploymentTasks": ["not-yet-defined"]},  # waits (30 s) for its definition
    }
    app = {
        "apiVersion": model.KEPTN_APP.api_version,
        "kind": "KeptnApp",
        "metadata": {"name": "store", "namespace": ns},
        "spec": {"version": "2.0", "workloads": [{"name": "shelf", "version": "2.0"}]},
    }
    await cluster.client.create(model.KEPTN_APP_CONTEXT, context, ns)
    await cluster.client.create(model.KEPTN_APP, app, ns)
    await cluster.client.create(
        model.DEPLOYMENT, deployment("shelf", version="2.0", app="store"), ns
    )
    await cluster.wait_for(
        model.KEPTN_APP_VERSION,
        "store-2.0-6b86b273",
        lambda o: state(o, "currentPhase") == "AppPreDeployTasks",
    )
    await cluster.client.patch(
        model.KEPTN_APP_CONTEXT, "store", {"spec": {"preDeploymentTasks": []}}, ns
    )
    await cluster.client.patch(model.KEPTN_APP, "store", {"spec": {"revision": 2}}, ns)
    old = await cluster.wait_for(model.KEPTN_APP_VERSION, "store-2.0-6b86b273", finished, within=5)
    assert state(old) == "Deprecated"
    for field in ("preDeploymentStatus", "preDeploymentEvaluationStatus", "workloadOverallStatus"):
        assert state(old, field) == "Deprecated", field
    assert "Deprecated" in await cluster.wait_events("store-2.0-6b86b273", "Deprecated")
    await cluster.wait_for(model.KEPTN_APP_VERSION, "store-2.0-d4735e3a", succeeded)
    await cluster.wait_for(model.KEPTN_WORKLOAD_VERSION, "store-shelf-2.0", succeeded)


async def test_a_definition_created_late_wakes_the_waiting_phase(cluster: Cluster) -> None:
    ns = cluster.namespace
    keys = {"keptn.sh/pre-deployment-tasks": "late-task"}
    await cluster.client.create(model.DEPLOYMENT, deployment("late", keys=keys), ns)
    await cluster.wait_for(
        model.KEPTN_WORKLOAD_VERSION,
        "late-late-0.1.0",
        lambda o: state(o, "currentPhase") == "WorkloadPreDeployTasks",
    )
    await asyncio.sleep(0.2)
    tasks, _ = await cluster.client.list(model.KEPTN_TASK, ns)
    assert tasks == []  # nothing to run until the definition exists
    definition = {
        "apiVersion": model.KEPTN_TASK_DEFINITION.api_version,
        "kind": "KeptnTaskDefinition",
        "metadata": {"name": "late-task"},
        "spec": {"python": {"inline": {"code": "print('late but fine')"}}, "retries": 0},
    }
    started = asyncio.get_running_loop().time()
    await cluster.client.create(model.KEPTN_TASK_DEFINITION, definition, ns)
    await cluster.wait_for(model.KEPTN_WORKLOAD_VERSION, "late-late-0.1.0", succeeded, within=20)
    assert asyncio.get_running_loop().time() - started < 15  # woken by the definition, not a timer


async def test_namespace_opted_in_with_a_label(cluster: Cluster) -> None:
    await cluster.client.create(
        model.NAMESPACE,
        {"metadata": {"name": "labelled", "labels": {"keptn.sh/lifecycle-toolkit": "enabled"}}},
    )
    await cluster.client.create(model.DEPLOYMENT, deployment("lbl"), "labelled")
    await cluster.wait_for(
        model.KEPTN_APP_VERSION, "lbl-0.1.0-6b86b273", succeeded, namespace="labelled"
    )
    await cluster.client.create(model.NAMESPACE, {"metadata": {"name": "plain"}})
    await cluster.client.create(model.DEPLOYMENT, deployment("free"), "plain")
    await asyncio.sleep(0.5)
    pods, _ = await cluster.client.list(model.POD, "plain", label_selector="app=free")
    assert pods and not gated(pods[0])  # not opted in: never gated
    workloads, _ = await cluster.client.list(model.KEPTN_WORKLOAD, "plain")
    assert workloads == []
