"""The flow with evaluations on KeptnMetric values the test sets: a passing and a failing app gate."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime
from typing import Any

from lifecycle.core import model
from lifecycle.core.naming import format_time
from tests.e2e.flow.conftest import Cluster
from tests.e2e.flow.workloads import deployment, finished, gated, running, state, succeeded

Body = dict[str, Any]


async def metrics(cluster: Cluster, values: dict[str, str]) -> None:
    ns = cluster.namespace
    provider = {
        "apiVersion": model.KEPTN_METRICS_PROVIDER.api_version,
        "kind": "KeptnMetricsProvider",
        "metadata": {"name": "prom"},
        "spec": {"type": "prometheus", "targetServer": "http://127.0.0.1:1"},
    }
    await cluster.client.create(model.KEPTN_METRICS_PROVIDER, provider, ns)
    for name, value in values.items():
        metric = {
            "apiVersion": model.KEPTN_METRIC.api_version,
            "kind": "KeptnMetric",
            "metadata": {"name": name},
            "spec": {"provider": {"name": "prom"}, "query": "unused", "fetchIntervalSeconds": 3600},
        }
        await cluster.client.create(model.KEPTN_METRIC, metric, ns)
        status = {
            "value": value,
            "rawValue": base64.b64encode(value.encode()).decode(),
            "lastUpdated": format_time(datetime.now(UTC)),
        }
        await cluster.client.patch_status(model.KEPTN_METRIC, name, {"status": status}, ns)


async def app_with_gate(cluster: Cluster, target: str) -> None:
    ns = cluster.namespace
    definition = {
        "apiVersion": model.KEPTN_EVALUATION_DEFINITION.api_version,
        "kind": "KeptnEvaluationDefinition",
        "metadata": {"name": "slo"},
        "spec": {
            "objectives": [{"keptnMetricRef": {"name": "latency"}, "evaluationTarget": target}],
            "retries": 1,
            "retryInterval": "1s",  # the minimum (lifecycle.core.bounds)
        },
    }
    await cluster.client.create(model.KEPTN_EVALUATION_DEFINITION, definition, ns)
    context = {
        "apiVersion": model.KEPTN_APP_CONTEXT.api_version,
        "kind": "KeptnAppContext",
        "metadata": {"name": "gated", "namespace": ns},
        "spec": {"preDeploymentEvaluations": ["slo"]},
    }
    app = {
        "apiVersion": model.KEPTN_APP.api_version,
        "kind": "KeptnApp",
        "metadata": {"name": "gated", "namespace": ns},
        "spec": {"version": "1.0", "workloads": [{"name": "svc", "version": "1.0"}]},
    }
    await cluster.client.create(model.KEPTN_APP_CONTEXT, context, ns)
    await cluster.client.create(model.KEPTN_APP, app, ns)
    keys = {"keptn.sh/post-deployment-evaluations": "slo"}
    await cluster.client.create(
        model.DEPLOYMENT, deployment("svc", version="1.0", app="gated", keys=keys), ns
    )


async def test_evaluations_pass_and_the_flow_completes(cluster: Cluster) -> None:
    await metrics(cluster, {"latency": "312"})
    await app_with_gate(cluster, "<500")
    av = await cluster.wait_for(model.KEPTN_APP_VERSION, "gated-1.0-6b86b273", finished, within=30)
    assert state(av) == "Succeeded", av["status"]
    assert [e["status"] for e in av["status"]["preDeploymentEvaluationTaskStatus"]] == ["Succeeded"]
    wv = await cluster.wait_for(model.KEPTN_WORKLOAD_VERSION, "gated-svc-1.0", succeeded)
    assert [e["status"] for e in wv["status"]["postDeploymentEvaluationTaskStatus"]] == [
        "Succeeded"
    ]
    await cluster.wait_list(model.POD, running, label_selector="app=svc")


async def test_failing_app_evaluation_keeps_every_workload_gated(cluster: Cluster) -> None:
    await metrics(cluster, {"latency": "312"})
    await app_with_gate(cluster, "<100")
    av = await cluster.wait_for(model.KEPTN_APP_VERSION, "gated-1.0-6b86b273", finished, within=30)
    assert state(av) == "Failed"
    assert state(av, "preDeploymentEvaluationStatus") == "Failed"
    assert state(av, "workloadOverallStatus") == "Deprecated"
    evaluations, _ = await cluster.client.list(model.KEPTN_EVALUATION, cluster.namespace)
    assert len(evaluations) == 1
    result = evaluations[0]["status"]["evaluationStatus"]["latency"]
    assert result["value"].startswith("312") and result["status"] == "Failed"
    await cluster.wait_events("gated-1.0-6b86b273", "AppPreDeployEvaluationsErrored")
    await cluster.wait_events("gated-svc-1.0", "AppPreDeployEvaluationsFailed")
    await asyncio.sleep(0.3)
    pods, _ = await cluster.client.list(model.POD, cluster.namespace, label_selector="app=svc")
    assert len(pods) == 1 and gated(pods[0])
    wv = await cluster.get(model.KEPTN_WORKLOAD_VERSION, "gated-svc-1.0")
    assert wv is not None and not (wv.get("status") or {}).get("currentPhase")
