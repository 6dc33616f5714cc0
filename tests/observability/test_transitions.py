"""Status diffs drive spans and metrics: each committed change exports and counts exactly once,
and a restart (first sight, before=None) neither re-counts nor re-exports what had ended."""

from __future__ import annotations

import copy
from typing import Any

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry

from lifecycle.observability.telemetry import Telemetry
from tests.observability.samples import app_flow
from tracing.setup import Tracing
from tracing.spans import export_new_spans, newly_ended_phases


def snapshots(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The successive statuses the machine writes: start, then one phase ending at a time."""
    final = copy.deepcopy(body)
    carriers = final["status"]["phaseTraceIDs"]
    phases = [p for p in carriers if p != "root"]
    steps = []
    for done in range(len(phases) + 1):
        step = copy.deepcopy(final)
        status = step["status"]
        status.pop("endTime")
        status["status"] = "Progressing"
        status["phaseTraceIDs"]["root"].pop("endTime")
        for phase in phases[done:]:
            status["phaseTraceIDs"][phase].pop("endTime")
        steps.append(step)
    steps.append(final)
    return steps


def test_each_step_exports_and_counts_once() -> None:
    memory = InMemorySpanExporter()
    tracing = Tracing(exporter=memory, batch=False)
    registry = CollectorRegistry()
    telemetry = Telemetry(registry, process_metrics=False)
    wv = app_flow().workload_versions[1]  # backend: post-deploy evaluation fails
    steps = snapshots(wv)
    before: dict[str, Any] = {"status": {}}
    for step in [*steps, steps[-1]]:  # the final status seen twice (a no-op reconcile)
        export_new_spans(tracing, before, step)
        telemetry.observe(before, step)
        before = step
    names = [s.name for s in memory.get_finished_spans()]
    assert names == [
        "podtato-backend/WorkloadPreDeployTasks",
        "podtato-backend/WorkloadPreDeployEvaluations",
        "podtato-backend/WorkloadDeploy",
        "podtato-backend/WorkloadPostDeployTasks",
        "podtato-backend/WorkloadPostDeployEvaluations",
        "podtato-backend-0.1.0",
    ]
    labels = {
        "keptn_deployment_app_name": "podtato",
        "keptn_deployment_workload_name": "podtato-backend",
        "keptn_deployment_workload_version": "0.1.0",
        "keptn_deployment_workload_namespace": "demo",
    }
    count = registry.get_sample_value(
        "keptn_deployment_count_total", {**labels, "keptn_deployment_workload_status": "Failed"}
    )
    assert count == 1
    assert registry.get_sample_value("keptn_deployment_active", labels) == 0
    errored = registry.get_sample_value(
        "keptn_phase_errored_total",
        {"phase": "WorkloadPostDeployEvaluations", "namespace": "demo", "app": "podtato",
         "workload": "podtato-backend"},
    )  # fmt: skip
    assert errored == 1


def test_first_sight_after_restart_neither_recounts_nor_reexports() -> None:
    memory = InMemorySpanExporter()
    tracing = Tracing(exporter=memory, batch=False)
    registry = CollectorRegistry()
    telemetry = Telemetry(registry, process_metrics=False)
    flow = app_flow()
    in_flight = snapshots(flow.workload_versions[0])[2]
    finished = flow.workload_versions[1]
    for body in (in_flight, finished, flow.tasks[0]):
        assert export_new_spans(tracing, None, body) == []
        telemetry.observe(None, body)
    assert memory.get_finished_spans() == ()
    total = sum(
        s.value for f in registry.collect() if f.name == "keptn_deployment_count" for s in f.samples
        if s.name.endswith("_total")
    )  # fmt: skip
    assert total == 0
    active = registry.get_sample_value(
        "keptn_deployment_active",
        {"keptn_deployment_app_name": "podtato", "keptn_deployment_workload_name": "podtato-frontend",
         "keptn_deployment_workload_version": "0.1.0", "keptn_deployment_workload_namespace": "demo"},
    )  # fmt: skip
    assert active == 1  # the in-flight version re-entered the gauge
    # the in-flight version goes on: only its newly ended phases count
    later = snapshots(flow.workload_versions[0])[3]
    assert newly_ended_phases(in_flight, later) == ["WorkloadDeploy"]
    telemetry.observe(in_flight, later)
    pre_tasks = registry.get_sample_value(
        "keptn_phase_duration_seconds_count",
        {"phase": "WorkloadPreDeployTasks", "result": "Succeeded", "namespace": "demo",
         "app": "podtato", "workload": "podtato-frontend"},
    )  # fmt: skip
    assert pre_tasks is None  # ended before the restart: counted by the previous process


def test_task_span_exported_when_its_end_time_appears() -> None:
    memory = InMemorySpanExporter()
    tracing = Tracing(exporter=memory, batch=False)
    registry = CollectorRegistry()
    telemetry = Telemetry(registry, process_metrics=False)
    task = app_flow().tasks[0]
    running = copy.deepcopy(task)
    running["status"] = {"status": "Progressing", "startTime": task["status"]["startTime"]}
    telemetry.observe({"status": {}}, running)
    assert export_new_spans(tracing, {"status": {}}, running) == []
    assert [s.name for s in export_new_spans(tracing, running, task)] == ["pre-notify-podtato"]
    telemetry.observe(running, task)
    telemetry.observe(task, task)
    labels = {
        "keptn_deployment_app_name": "podtato", "keptn_deployment_app_version": "0.1.0",
        "keptn_deployment_workload_name": "", "keptn_deployment_workload_version": "",
        "keptn_deployment_task_name": "pre-notify-podtato", "keptn_deployment_task_type": "pre",
    }  # fmt: skip
    assert registry.get_sample_value("keptn_task_active", labels) == 0
    assert (
        registry.get_sample_value(
            "keptn_task_count_total", {**labels, "keptn_deployment_task_status": "Succeeded"}
        )
        == 1
    )
