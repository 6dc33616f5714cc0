"""KeptnEvaluation controller: objectives against KeptnMetric values, retries, stale refresh."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from lifecycle.core import model
from lifecycle.core.naming import format_time
from tests.evaluator.promlauncher import Prometheus, Series, push
from tests.support.waiting import eventually

from .conftest import Env, OperatorFactory, flush_events

Body = dict[str, Any]
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def provider(name: str, url: str) -> Body:
    return {
        "apiVersion": model.KEPTN_METRICS_PROVIDER.api_version,
        "kind": "KeptnMetricsProvider",
        "metadata": {"name": name},
        "spec": {"type": "prometheus", "targetServer": url},
    }


def keptn_metric(name: str, query: str, provider_name: str = "prom", **spec: Any) -> Body:
    return {
        "apiVersion": model.KEPTN_METRIC.api_version,
        "kind": "KeptnMetric",
        "metadata": {"name": name},
        "spec": {
            "provider": {"name": provider_name},
            "query": query,
            "fetchIntervalSeconds": 3600,
            **spec,
        },
    }


def evaluation_definition(name: str, objectives: dict[str, str]) -> Body:
    return {
        "apiVersion": model.KEPTN_EVALUATION_DEFINITION.api_version,
        "kind": "KeptnEvaluationDefinition",
        "metadata": {"name": name},
        "spec": {
            "objectives": [
                {"keptnMetricRef": {"name": metric}, "evaluationTarget": target}
                for metric, target in objectives.items()
            ]
        },
    }


def keptn_evaluation(name: str, definition: str, **spec: Any) -> Body:
    return {
        "apiVersion": model.KEPTN_EVALUATION.api_version,
        "kind": "KeptnEvaluation",
        "metadata": {"name": name},
        "spec": {
            "appName": "shop",
            "appVersion": "1.0",
            "workload": "shop-cart",
            "workloadVersion": "0.4",
            "evaluationDefinition": definition,
            "checkType": "pre-eval",
            **spec,
        },
    }


async def set_value(env: Env, name: str, value: str) -> None:
    """What a test (or another metrics source) writes: a fresh value."""
    await env.client.patch_status(
        model.KEPTN_METRIC,
        name,
        {
            "status": {
                "value": value,
                "rawValue": base64.b64encode(value.encode()).decode(),
                "lastUpdated": format_time(datetime.now(UTC)),
            }
        },
        env.namespace,
    )


def final(obj: Body | None) -> bool:
    return obj is not None and (obj.get("status") or {}).get("overallStatus") in (
        "Succeeded",
        "Failed",
    )


async def test_evaluation_passes_on_metric_values_set_by_the_test(
    env: Env, operator_factory: OperatorFactory
) -> None:
    op = await operator_factory(["evaluation"])
    await env.create(model.KEPTN_METRICS_PROVIDER, provider("prom", "http://127.0.0.1:1"))
    for name, value in (("latency", "312"), ("errors", "0")):
        await env.create(model.KEPTN_METRIC, keptn_metric(name, "unused"))
        await set_value(env, name, value)
    await env.create(
        model.KEPTN_EVALUATION_DEFINITION,
        evaluation_definition("slo", {"latency": "<500", "errors": "<1"}),
    )
    await env.create(model.KEPTN_EVALUATION, keptn_evaluation("pre-eval-slo", "slo"))
    done = await env.wait_for(model.KEPTN_EVALUATION, "pre-eval-slo", final)
    status = done["status"]
    assert status["overallStatus"] == "Succeeded", status
    assert status["retryCount"] == 1
    assert status["evaluationStatus"] == {
        "latency": {
            "value": "312",
            "status": "Succeeded",
            "message": "value '312' met objective '<500'",
            "target": "<500",
        },
        "errors": {
            "value": "0",
            "status": "Succeeded",
            "message": "value '0' met objective '<1'",
            "target": "<1",
        },
    }
    assert status["startTime"] <= status["endTime"]

    def counts() -> list[tuple[str | None, float]]:
        return [
            (s.labels.get("keptn_deployment_evaluation_status"), s.value)
            for m in op.registry.collect()
            for s in m.samples
            if s.name == "keptn_evaluation_count_total"
            and s.labels.get("keptn_deployment_evaluation_name") == "pre-eval-slo"
        ]

    await eventually(lambda: counts() == [("Succeeded", 1.0)])


async def test_evaluation_fails_after_its_retries_with_value_and_target(
    env: Env, operator_factory: OperatorFactory
) -> None:
    op = await operator_factory(["evaluation"])
    await env.create(model.KEPTN_METRICS_PROVIDER, provider("prom", "http://127.0.0.1:1"))
    await env.create(model.KEPTN_METRIC, keptn_metric("p95", "unused"))
    await set_value(env, "p95", "580")
    await env.create(
        model.KEPTN_EVALUATION_DEFINITION, evaluation_definition("p95", {"p95": "<500"})
    )
    started = time.monotonic()
    body = keptn_evaluation("post-eval-p95", "p95", retries=3, retryInterval="1s")
    body["metadata"]["annotations"] = {"traceparent": TRACEPARENT}
    await env.create(model.KEPTN_EVALUATION, body)
    done = await env.wait_for(model.KEPTN_EVALUATION, "post-eval-p95", final)
    elapsed = time.monotonic() - started
    status = done["status"]
    assert status["overallStatus"] == "Failed"
    assert status["retryCount"] == 3
    assert elapsed >= 2.0  # two waits of retryInterval between three attempts
    item = status["evaluationStatus"]["p95"]
    assert item == {
        "value": "580",
        "status": "Failed",
        "message": "value '580' did not meet objective '<500'",
        "target": "<500",
    }
    await flush_events(op)
    events, _ = await env.client.list(model.EVENT, env.namespace)
    failed = [e for e in events if e["reason"] == "ReconcileEvaluationFailed"]
    assert len(failed) == 1
    assert failed[0]["involvedObject"]["name"] == "post-eval-p95"
    assert failed[0]["message"].startswith(
        "Reconcile Evaluation: evaluation failed: evaluation of 'p95' failed with value: '580' "
        "and reason: 'value '580' did not meet objective '<500''"
    )
    assert "\n" not in failed[0]["message"]  # one line: `kubectl get events` stays a table
    await eventually(lambda: any(sp.name == "post-eval-p95" for sp in op.spans.spans))
    (span,) = [sp for sp in op.spans.spans if sp.name == "post-eval-p95"]
    assert span.parent is not None and span.context.trace_id == span.parent.trace_id
    assert [e.name for e in span.events] == [
        "evaluation of 'p95' failed with value: '580' and reason: "
        "'value '580' did not meet objective '<500''"
    ]


async def test_missing_evaluation_definition_fails_after_the_wait(
    env: Env, operator_factory: OperatorFactory
) -> None:
    op = await operator_factory(["evaluation"], definition_wait=1.0)
    await env.create(model.KEPTN_EVALUATION, keptn_evaluation("pre-eval-ghost", "ghost"))
    done = await env.wait_for(model.KEPTN_EVALUATION, "pre-eval-ghost", final, within=10)
    assert done["status"]["overallStatus"] == "Failed"
    await flush_events(op)
    events, _ = await env.client.list(model.EVENT, env.namespace)
    assert any("could not find KeptnEvaluationDefinition: ghost" in e["message"] for e in events), [
        e["message"] for e in events
    ]


async def test_stale_metric_is_fetched_fresh_from_prometheus_first(
    env: Env, operator_factory: OperatorFactory, prometheus: Prometheus
) -> None:
    await operator_factory(["evaluation"])
    push(
        prometheus.url, [Series({"__name__": "klt_eval_live", "t": "stale"}, [(time.time(), 7.0)])]
    )
    await env.create(model.KEPTN_METRICS_PROVIDER, provider("prom", prometheus.url))
    await env.create(
        model.KEPTN_METRIC,
        keptn_metric("fresh", 'klt_eval_live{t="stale"}', fetchIntervalSeconds=60),
    )
    # an old value that would pass; the fresh one (7) does not
    old = format_time(datetime.now(UTC) - timedelta(minutes=5))
    await env.client.patch_status(
        model.KEPTN_METRIC,
        "fresh",
        {"status": {"value": "1", "rawValue": "MQ==", "lastUpdated": old}},
        env.namespace,
    )
    await env.create(
        model.KEPTN_EVALUATION_DEFINITION, evaluation_definition("fresh", {"fresh": "<5"})
    )
    await env.create(model.KEPTN_EVALUATION, keptn_evaluation("pre-eval-fresh", "fresh", retries=1))
    done = await env.wait_for(model.KEPTN_EVALUATION, "pre-eval-fresh", final)
    assert done["status"]["overallStatus"] == "Failed"
    assert done["status"]["evaluationStatus"]["fresh"]["value"] == "7"
    metric = await env.get(model.KEPTN_METRIC, "fresh")
    assert metric is not None and metric["status"]["value"] == "7"
    assert metric["status"]["lastUpdated"] > old


async def test_evaluation_with_the_metric_controller_on_prometheus_passes(
    env: Env, operator_factory: OperatorFactory, prometheus: Prometheus
) -> None:
    await operator_factory(["metric", "evaluation"])
    push(
        prometheus.url, [Series({"__name__": "klt_eval_live", "t": "both"}, [(time.time(), 0.25)])]
    )
    await env.create(model.KEPTN_METRICS_PROVIDER, provider("prom", prometheus.url))
    await env.create(
        model.KEPTN_METRIC,
        keptn_metric("error-rate", 'klt_eval_live{t="both"}', fetchIntervalSeconds=30),
    )
    await env.create(
        model.KEPTN_EVALUATION_DEFINITION, evaluation_definition("errors", {"error-rate": "<1"})
    )
    await env.create(model.KEPTN_EVALUATION, keptn_evaluation("post-eval-errors", "errors"))
    done = await env.wait_for(model.KEPTN_EVALUATION, "post-eval-errors", final)
    assert done["status"]["overallStatus"] == "Succeeded", done["status"]
    assert done["status"]["evaluationStatus"]["error-rate"]["value"] == "0.25"
