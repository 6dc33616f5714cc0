"""Telemetry: KLT names/labels, transitions counted once, incremental gauges, DORA, promtool lint."""

from __future__ import annotations

import copy
import subprocess
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from lifecycle.observability.telemetry import Telemetry
from tests.observability.samples import app_flow

T = "2026-01-02T03:10:00Z"


def value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    got = registry.get_sample_value(name, labels)
    return 0.0 if got is None else got


def exercise(telemetry: Telemetry) -> None:
    """Call every public method once with a realistic flow (also used by the dashboard test)."""
    telemetry.operator_started()
    flow = app_flow()
    av = flow.app_version
    telemetry.object_started(av)
    for phase, carrier in av["status"]["phaseTraceIDs"].items():
        if phase != "root":
            telemetry.phase_ended(
                av, phase, carrier["state"], carrier["startTime"], carrier["endTime"]
            )
    for wv in flow.workload_versions:
        telemetry.object_started(wv)
        for phase, carrier in wv["status"]["phaseTraceIDs"].items():
            if phase != "root":
                telemetry.phase_ended(
                    wv, phase, carrier["state"], carrier["startTime"], carrier["endTime"]
                )
        telemetry.object_finished(wv)
    for task in flow.tasks:
        telemetry.task_started(task)
        telemetry.task_finished(task)
    for evaluation, _ in flow.evaluations:
        telemetry.evaluation_started(evaluation)
        telemetry.evaluation_finished(evaluation)
    telemetry.object_finished(av)
    fixed = app_flow(version="0.1.1", failing_workload=None)
    fixed.app_version["spec"]["previousVersion"] = "0.1.0"
    telemetry.object_started(fixed.app_version)
    telemetry.phase_ended(
        fixed.app_version,
        "PromotionTasks",
        "Succeeded",
        "2026-01-02T03:10:00Z",
        "2026-01-02T03:10:05Z",
    )
    for wv in fixed.workload_versions:
        wv["spec"]["previousVersion"] = "0.1.0"
        telemetry.object_started(wv)
        telemetry.object_finished(wv)
    telemetry.object_finished(fixed.app_version, previous=av)
    telemetry.cloudevents_sent.inc()
    telemetry.cloudevents_failed.inc()
    telemetry.cloudevents_dropped.labels("queue_full").inc()
    telemetry.cloudevents_queue.set(3)
    telemetry.set_metric_value("demo", "available-cpus", 4.0)
    telemetry.set_metric_value("demo", "gone", 1.0)
    telemetry.remove_metric_value("demo", "gone")
    telemetry.reconcile_finished("keptnappversion", "ok", 0.003)
    telemetry.set_queue_depth("keptnappversion", 0)
    telemetry.ops.webhook_request("/mutate-v1-pod", 200, 0.004)
    telemetry.ops.webhook_request("/mutate-v1-pod", 500, 0.002)
    telemetry.ops.set_leader(True)
    telemetry.ops.set_certificate_expiry("webhook", datetime(2027, 1, 1, tzinfo=UTC))
    telemetry.ops.provider_ok("demo", "prometheus")
    telemetry.ops.provider_failed("demo", "prometheus")


def test_klt_counters_count_each_transition_once() -> None:
    registry = CollectorRegistry()
    telemetry = Telemetry(registry)
    av = app_flow().app_version
    labels = {
        "keptn_deployment_app_name": "podtato",
        "keptn_deployment_app_version": "0.1.0",
        "keptn_deployment_app_namespace": "demo",
    }
    assert telemetry.object_started(av)
    assert not telemetry.object_started(copy.deepcopy(av))  # resync after a restart / retry
    assert value(registry, "keptn_app_active", **labels) == 1
    assert telemetry.object_finished(av)
    assert not telemetry.object_finished(av)
    assert value(registry, "keptn_app_active", **labels) == 0
    assert (
        value(registry, "keptn_app_count_total", **labels, keptn_deployment_app_status="Failed")
        == 1
    )
    assert (
        value(
            registry,
            "keptn_app_duration_seconds_count",
            **labels,
            keptn_deployment_app_status="Failed",
        )
        == 1
    )
    duration = value(
        registry,
        "keptn_app_deploymentduration",
        keptn_deployment_app_name="podtato",
        keptn_deployment_app_namespace="demo",
        keptn_deployment_app_version="0.1.0",
        keptn_deployment_app_previousversion="0.0.9",
    )
    assert duration == 30.0


def test_phase_metrics_and_errored_counter() -> None:
    registry = CollectorRegistry()
    telemetry = Telemetry(registry)
    wv = app_flow().workload_versions[1]  # backend: post-deploy evaluation fails
    for phase, carrier in wv["status"]["phaseTraceIDs"].items():
        if phase != "root":
            telemetry.phase_ended(
                wv, phase, carrier["state"], carrier["startTime"], carrier["endTime"]
            )
            telemetry.phase_ended(
                wv, phase, carrier["state"], carrier["startTime"], carrier["endTime"]
            )
    scope = {"namespace": "demo", "app": "podtato", "workload": "podtato-backend"}
    assert (
        value(registry, "keptn_phase_errored_total", phase="WorkloadPostDeployEvaluations", **scope)
        == 1
    )
    assert value(registry, "keptn_phase_errored_total", phase="WorkloadDeploy", **scope) == 0
    assert (
        value(
            registry,
            "keptn_phase_duration_seconds_count",
            phase="WorkloadDeploy",
            result="Succeeded",
            **scope,
        )
        == 1
    )
    assert (
        value(
            registry,
            "keptn_phase_duration_seconds_sum",
            phase="WorkloadDeploy",
            result="Succeeded",
            **scope,
        )
        == 1.0
    )


def test_a_finished_version_keeps_one_dedupe_key_and_counts_no_repeat() -> None:
    registry = CollectorRegistry()
    telemetry = Telemetry(registry)
    wv = app_flow().workload_versions[1]
    carriers = {p: c for p, c in wv["status"]["phaseTraceIDs"].items() if p != "root"}
    assert telemetry.object_started(wv)
    for phase, carrier in carriers.items():
        assert telemetry.phase_ended(wv, phase, carrier["state"], carrier["startTime"], T)
    assert len(telemetry._seen) == 1 + len(carriers)
    assert telemetry.object_finished(wv)
    assert len(telemetry._seen) == 1  # the finish stands for the object's transitions
    # a replay after the finish (a resync) counts nothing again
    assert not telemetry.object_started(wv)
    for phase, carrier in carriers.items():
        assert not telemetry.phase_ended(wv, phase, carrier["state"], carrier["startTime"], T)
    assert not telemetry.object_finished(wv)
    scope = {"namespace": "demo", "app": "podtato", "workload": "podtato-backend"}
    errored = "keptn_phase_errored_total"
    assert value(registry, errored, phase="WorkloadPostDeployEvaluations", **scope) == 1
    task = app_flow().tasks[0]
    assert telemetry.task_started(task) and telemetry.task_finished(task)
    assert not telemetry.task_started(task) and not telemetry.task_finished(task)
    assert len(telemetry._seen) == 2


def test_dora_metrics() -> None:
    registry = CollectorRegistry()
    telemetry = Telemetry(registry)
    failed = app_flow().app_version  # ends BASE+30s, Failed
    fixed: dict[str, Any] = app_flow(version="0.1.1", failing_workload=None).app_version
    fixed["metadata"]["uid"] = "uid-fixed"
    fixed["status"]["startTime"] = "2026-01-02T04:00:00Z"
    fixed["status"]["endTime"] = "2026-01-02T04:04:35Z"
    telemetry.object_finished(failed)
    telemetry.object_finished(fixed)
    scope = {"namespace": "demo", "app": "podtato", "workload": ""}
    assert value(registry, "keptn_dora_deployments_total", result="Failed", **scope) == 1
    assert value(registry, "keptn_dora_deployments_total", result="Succeeded", **scope) == 1
    # failure ended 03:04:35, success 04:04:35 -> one hour to restore
    assert value(registry, "keptn_dora_time_to_restore_seconds_sum", **scope) == 3600
    # commitTime = BASE - 2h = 01:04:05 -> lead time 3h0m30s
    assert value(registry, "keptn_dora_lead_time_seconds_sum", **scope) == 3 * 3600 + 30
    # a restart forgets the failure; the caller can pass it from status
    fresh = Telemetry(CollectorRegistry())
    fresh.object_finished(fixed, failed_since="2026-01-02T04:00:00Z")
    assert value(fresh.registry, "keptn_dora_time_to_restore_seconds_sum", **scope) == 275


def test_deployment_interval_from_previous_version() -> None:
    registry = CollectorRegistry()
    telemetry = Telemetry(registry)
    first = app_flow(failing_workload=None).app_version
    second = app_flow(version="0.2.0", failing_workload=None).app_version
    second["spec"]["previousVersion"] = "0.1.0"
    second["status"]["endTime"] = "2026-01-02T05:04:45Z"
    telemetry.object_finished(first)
    telemetry.object_finished(second)  # predecessor remembered in memory
    labels = {
        "keptn_deployment_app_name": "podtato",
        "keptn_deployment_app_namespace": "demo",
        "keptn_deployment_app_version": "0.2.0",
        "keptn_deployment_app_previousversion": "0.1.0",
    }
    assert value(registry, "keptn_app_deploymentinterval", **labels) == 2 * 3600


def test_promtool_check_metrics_passes(promtool: str) -> None:
    registry = CollectorRegistry()
    exercise(Telemetry(registry))
    text = generate_latest(registry)
    result = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, timeout=30
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert b"keptn_metric_value{" in text and b'name="gone"' not in text


def test_phase_duration_carries_the_phase_spans_trace_as_exemplar() -> None:
    registry = CollectorRegistry()
    telemetry = Telemetry(registry, process_metrics=False)
    av = app_flow().app_version
    carrier = av["status"]["phaseTraceIDs"]["AppDeploy"]
    telemetry.phase_ended(
        av, "AppDeploy", carrier["state"], carrier["startTime"], carrier["endTime"]
    )
    trace_id, span_id = carrier["traceparent"].split("-")[1:3]
    exemplars = [
        sample.exemplar
        for family in text_string_to_metric_families(openmetrics(registry).decode())
        if family.name == "keptn_phase_duration_seconds"
        for sample in family.samples
        if sample.exemplar is not None
    ]
    assert len(exemplars) == 1
    assert exemplars[0].labels == {"trace_id": trace_id, "span_id": span_id}
    assert "trace_id" not in generate_latest(registry).decode()  # the text format has none
