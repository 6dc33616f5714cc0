"""A single annotated Deployment: app auto-created, the seed's events in order, pods released."""

from __future__ import annotations

from typing import Any

import aiohttp

from lifecycle.core import model
from tests.e2e.flow.conftest import Cluster

Body = dict[str, Any]


def deployment(
    name: str,
    *,
    version: str = "0.1.0",
    replicas: int = 1,
    annotations: dict[str, str] | None = None,
) -> Body:
    meta_annotations = {
        "keptn.sh/workload": name,
        "keptn.sh/version": version,
        **(annotations or {}),
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "annotations": meta_annotations},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}, "annotations": dict(meta_annotations)},
                "spec": {"containers": [{"name": "main", "image": f"example/{name}:{version}"}]},
            },
        },
    }


def completed(obj: Body) -> bool:
    return (obj.get("status") or {}).get("status") == "Succeeded"


async def test_single_deployment_completes(cluster: Cluster) -> None:
    await cluster.client.create(model.DEPLOYMENT, deployment("podtato"), cluster.namespace)
    app = await cluster.wait_for(model.KEPTN_APP, "podtato")
    assert app["spec"]["workloads"] == [{"name": "podtato", "version": "0.1.0"}]
    assert app["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "keptn"
    av = await cluster.wait_for(model.KEPTN_APP_VERSION, "podtato-0.1.0-6b86b273", completed)
    wv = await cluster.wait_for(model.KEPTN_WORKLOAD_VERSION, "podtato-podtato-0.1.0", completed)
    assert av["status"]["currentPhase"] == "Completed"
    assert wv["status"]["deploymentStatus"] == "Succeeded"
    pods = await cluster.wait_list(
        model.POD,
        lambda ps: len(ps) == 1 and ps[0]["status"].get("phase") == "Running",
        label_selector="app=podtato",
    )
    assert pods[0]["metadata"]["annotations"]["keptn.sh/scheduling-gate-removed"] == "true"
    assert not pods[0]["spec"].get("schedulingGates")
    app_reasons = await cluster.wait_events(av["metadata"]["name"], "Completed")
    wl_reasons = await cluster.wait_events(wv["metadata"]["name"], "Completed")
    assert app_reasons == [
        "CreateAppVersion",
        "AppContextNotFound",
        "AppPreDeployTasksStarted",
        "AppPreDeployTasksSucceeded",
        "AppPreDeployEvaluationsStarted",
        "AppPreDeployEvaluationsSucceeded",
        "AppDeployStarted",
        "AppDeploySucceeded",
        "AppPostDeployTasksStarted",
        "AppPostDeployTasksSucceeded",
        "AppPostDeployEvaluationsStarted",
        "AppPostDeployEvaluationsSucceeded",
        "Completed",
    ], app_reasons
    assert wl_reasons[0] == "CreateWorkloadInstance"
    flow = [
        r for r in wl_reasons if r.startswith("Workload") and r.endswith(("Started", "Succeeded"))
    ]
    assert "WorkloadDeployReconcile" in wl_reasons  # rollout progress, reported once per change
    assert flow == [
        "WorkloadPreDeployTasksStarted",
        "WorkloadPreDeployTasksSucceeded",
        "WorkloadPreDeployEvaluationsStarted",
        "WorkloadPreDeployEvaluationsSucceeded",
        "WorkloadDeployStarted",
        "WorkloadDeploySucceeded",
        "WorkloadPostDeployTasksStarted",
        "WorkloadPostDeployTasksSucceeded",
        "WorkloadPostDeployEvaluationsStarted",
        "WorkloadPostDeployEvaluationsSucceeded",
    ], wl_reasons
    assert wl_reasons.index("CreateWorkloadInstance") == 0
    assert wl_reasons[-1] == "Completed"


async def test_spans_and_metrics_of_a_completed_flow(cluster: Cluster) -> None:
    await cluster.client.create(model.DEPLOYMENT, deployment("traced"), cluster.namespace)
    await cluster.wait_for(model.KEPTN_APP_VERSION, "traced-0.1.0-6b86b273", completed)
    await cluster.wait_for(model.KEPTN_WORKLOAD_VERSION, "traced-traced-0.1.0", completed)
    spans = {s.name: s for s in cluster.spans.get_finished_spans() if s.name != "annotate_pod"}
    root = spans["traced-0.1.0-6b86b273"]
    assert root.parent is None
    trace_id = root.context.trace_id
    for phase in (
        "AppPreDeployTasks",
        "AppPreDeployEvaluations",
        "AppDeploy",
        "AppPostDeployTasks",
    ):
        assert (
            spans[phase].parent is not None and spans[phase].parent.span_id == root.context.span_id
        )
        assert spans[phase].context.trace_id == trace_id
    workload_root = spans["traced-traced-0.1.0"]
    assert workload_root.parent is not None
    assert workload_root.parent.span_id == spans["AppDeploy"].context.span_id
    assert workload_root.context.trace_id == trace_id
    deploy = spans["traced-traced/WorkloadDeploy"]
    assert deploy.parent is not None and deploy.parent.span_id == workload_root.context.span_id
    # the metrics endpoint counts the finished versions once
    url = f"http://127.0.0.1:{cluster.operator.ports['metrics']}/metrics"
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        text = await resp.text()
    app_count = [
        line
        for line in text.splitlines()
        if line.startswith("keptn_app_count_total{")
        and 'keptn_deployment_app_name="traced"' in line
        and "Succeeded" in line
    ]
    assert len(app_count) == 1 and app_count[0].endswith(" 1.0"), app_count
    assert 'keptn_reconcile_total{controller="keptnappversion",result="ok"}' in text
    assert 'keptn_workqueue_depth{controller="schedulinggates"}' in text
    # KeptnMetric values as JSON beside /metrics (KLT's metrics-operator API, used by KEDA)
    base = f"http://127.0.0.1:{cluster.operator.ports['metrics']}/api/v1/metrics"
    missing = f"{base}/{cluster.namespace}/no-such-metric"
    async with aiohttp.ClientSession() as http, http.get(missing) as resp:
        assert resp.status == 404
        assert "no-such-metric" in (await resp.json())["error"]
