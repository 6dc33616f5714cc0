"""Status changes drive spans and metrics the way the operator does it (the flow executor's
``_record``, the task controller's ``finish``, the span marks after a restart): each ended phase
exports and counts exactly once, and a restart neither re-counts nor re-exports what had ended."""

from __future__ import annotations

import copy
from typing import Any

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry

from lifecycle.observability.spanmarks import EXPORTED, unmarked_carriers
from lifecycle.observability.telemetry import Telemetry
from tests.observability.samples import app_flow
from tracing.setup import Tracing
from tracing.spans import export_child_span, export_phase_span


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


def record(telemetry: Telemetry, tracing: Tracing, before: Any, after: dict[str, Any]) -> None:
    """What the flow executor does after a committed write (spans without marks, as in tests)."""
    status, old = after["status"], before["status"]
    if status.get("startTime") and not old.get("startTime"):
        telemetry.object_started(after)
    for phase, carrier in status["phaseTraceIDs"].items():
        if (
            phase != "root"
            and carrier.get("endTime")
            and telemetry.phase_ended(
                after, phase, carrier["state"], carrier["startTime"], carrier["endTime"]
            )
        ):
            export_phase_span(tracing, after, phase)
    if status.get("endTime") and telemetry.object_finished(after):
        export_phase_span(tracing, after, "root")


def test_each_step_exports_and_counts_once() -> None:
    memory = InMemorySpanExporter()
    tracing = Tracing(exporter=memory, batch=False)
    registry = CollectorRegistry()
    telemetry = Telemetry(registry, process_metrics=False)
    wv = app_flow().workload_versions[1]  # backend: post-deploy evaluation fails
    steps = snapshots(wv)
    before: dict[str, Any] = {"status": {}}
    for step in [*steps, steps[-1]]:  # the final status seen twice (a no-op reconcile)
        record(telemetry, tracing, before, step)
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


def test_after_restart_only_unmarked_spans_are_exported_again() -> None:
    flow = app_flow()
    finished = copy.deepcopy(flow.workload_versions[1])
    carriers = finished["status"]["phaseTraceIDs"]
    phases = [p for p in carriers if p not in ("root", "parent")]
    assert unmarked_carriers(finished) == [*phases, "root"]  # nothing delivered yet
    for phase in [*phases[:-1], "root"]:  # the previous process delivered these and marked them
        carriers[phase][EXPORTED] = "true"
    assert unmarked_carriers(finished) == [phases[-1]]
    in_flight = snapshots(flow.workload_versions[0])[2]
    for carrier in in_flight["status"]["phaseTraceIDs"].values():
        if carrier.get("endTime"):
            carrier[EXPORTED] = "true"
    assert unmarked_carriers(in_flight) == []  # it goes on: only phases ending later are new


def test_task_span_exported_when_its_end_time_appears() -> None:
    memory = InMemorySpanExporter()
    tracing = Tracing(exporter=memory, batch=False)
    registry = CollectorRegistry()
    telemetry = Telemetry(registry, process_metrics=False)
    task = app_flow().tasks[0]
    running = copy.deepcopy(task)
    running["status"] = {"status": "Progressing", "startTime": task["status"]["startTime"]}
    assert telemetry.task_started(running)
    assert export_child_span(tracing, running) is None
    exported = export_child_span(tracing, task)
    assert exported is not None and exported.name == "pre-notify-podtato"
    assert telemetry.task_finished(task)
    assert not telemetry.task_finished(task)  # seen again: counted once
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
