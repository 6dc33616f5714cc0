"""Sample status bodies of a full multi-workload flow, as the pure machine writes them.

Deterministic: the same call returns equal bodies, so spans built from them must be identical.
Phase span ids are derived from the root span id (as the machine may do); only the contract
fields (phaseTraceIDs carriers, start/end times, states) matter to the code under test.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from tracing.context import derive_span_id, format_traceparent

__all__ = ["BASE", "Flow", "app_flow", "rfc3339"]

BASE = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
APP_PHASES = ("AppPreDeployTasks", "AppPreDeployEvaluations", "AppDeploy", "AppPostDeployTasks")
WL_PHASES = (
    "WorkloadPreDeployTasks",
    "WorkloadPreDeployEvaluations",
    "WorkloadDeploy",
    "WorkloadPostDeployTasks",
    "WorkloadPostDeployEvaluations",
)


def rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _ids(seed: str) -> tuple[int, int]:
    digest = hashlib.sha256(seed.encode()).hexdigest()
    return int(digest[:32], 16), int(digest[32:48], 16)


class Flow:
    """An AppVersion, its WorkloadVersions, tasks and evaluations, all finished."""

    def __init__(self) -> None:
        self.app_version: dict[str, Any] = {}
        self.workload_versions: list[dict[str, Any]] = []
        self.tasks: list[dict[str, Any]] = []
        self.evaluations: list[tuple[dict[str, Any], str]] = []  # (body, parent traceparent)


def _carrier(
    trace_id: int, span_id: int, start: datetime, end: datetime, state: str
) -> dict[str, str]:
    return {
        "traceparent": format_traceparent(trace_id, span_id),
        "startTime": rfc3339(start),
        "endTime": rfc3339(end),
        "state": state,
    }


def app_flow(
    *,
    app: str = "podtato",
    version: str = "0.1.0",
    namespace: str = "demo",
    workloads: tuple[str, ...] = ("frontend", "backend"),
    failing_workload: str | None = "backend",
    span_links: tuple[str, ...] = (),
) -> Flow:
    """A finished flow; ``failing_workload``'s post-deploy evaluation fails (so does the app)."""
    flow = Flow()
    av_name = f"{app}-{version}-6b86b273"
    trace_id, root_span = _ids(f"{namespace}/{av_name}")
    clock = BASE
    carriers: dict[str, Any] = {}
    app_failed = failing_workload is not None
    for phase in APP_PHASES:
        start, end = clock, clock + timedelta(seconds=10)
        state = "Failed" if (phase == "AppDeploy" and app_failed) else "Succeeded"
        span = derive_span_id(root_span, phase)
        carriers[phase] = _carrier(trace_id, span, start, end, state)
        if phase == "AppPreDeployTasks":
            flow.tasks.append(
                _task(
                    f"pre-notify-{app}",
                    namespace,
                    app,
                    version,
                    "",
                    "",
                    carriers[phase],
                    start,
                    end,
                )
            )
        if phase == "AppPreDeployEvaluations":
            flow.evaluations.append(
                (
                    _evaluation(
                        f"pre-eval-slo-{app}", namespace, app, version, "", "", start, end, True
                    ),
                    carriers[phase]["traceparent"],
                )
            )
        if phase == "AppDeploy":
            for index, workload in enumerate(workloads):
                flow.workload_versions.append(
                    _workload_version(
                        app,
                        workload,
                        version,
                        namespace,
                        carriers[phase]["traceparent"],
                        start + timedelta(seconds=index),
                        workload == failing_workload,
                        flow,
                    )
                )
        if phase == "AppDeploy" and app_failed:
            clock = end
            break
        clock = end
    carriers["root"] = _carrier(
        trace_id, root_span, BASE, clock, "Failed" if app_failed else "Succeeded"
    )
    flow.app_version = {
        "apiVersion": "lifecycle.keptn.sh/v1",
        "kind": "KeptnAppVersion",
        "metadata": {"name": av_name, "namespace": namespace, "uid": f"uid-{av_name}"},
        "spec": {
            "appName": app,
            "version": version,
            "previousVersion": "0.0.9",
            "metadata": {"commitTime": rfc3339(BASE - timedelta(hours=2)), "stage": "staging"},
            "spanLinks": list(span_links),
            "workloads": [{"name": w, "version": version} for w in workloads],
        },
        "status": {
            "status": "Failed" if app_failed else "Succeeded",
            "currentPhase": "AppDeploy" if app_failed else "Completed",
            "startTime": rfc3339(BASE),
            "endTime": rfc3339(clock),
            "phaseTraceIDs": carriers,
        },
    }
    return flow


def _workload_version(
    app: str,
    workload: str,
    version: str,
    namespace: str,
    parent: str,
    begin: datetime,
    failing: bool,
    flow: Flow,
) -> dict[str, Any]:
    name = f"{app}-{workload}-{version}"
    trace_id = int(parent.split("-")[1], 16)
    root_span = derive_span_id(int(parent.split("-")[2], 16), name)
    carriers: dict[str, Any] = {}
    clock = begin
    for phase in WL_PHASES:
        start, end = clock, clock + timedelta(seconds=1)
        state = "Failed" if (failing and phase == "WorkloadPostDeployEvaluations") else "Succeeded"
        carriers[phase] = _carrier(trace_id, derive_span_id(root_span, phase), start, end, state)
        if failing and phase == "WorkloadPostDeployEvaluations":
            carriers[phase]["reason"] = "evaluation post-eval-latency failed"
        if phase == "WorkloadPreDeployTasks":
            flow.tasks.append(
                _task(
                    f"pre-check-{workload}",
                    namespace,
                    app,
                    version,
                    f"{app}-{workload}",
                    version,
                    carriers[phase],
                    start,
                    end,
                )
            )
        if phase == "WorkloadPostDeployEvaluations":
            flow.evaluations.append(
                (
                    _evaluation(
                        f"post-eval-latency-{workload}",
                        namespace,
                        app,
                        version,
                        f"{app}-{workload}",
                        version,
                        start,
                        end,
                        not failing,
                    ),
                    carriers[phase]["traceparent"],
                )
            )
        clock = end
    root = _carrier(trace_id, root_span, begin, clock, "Failed" if failing else "Succeeded")
    root["parent"] = parent
    carriers["root"] = root
    return {
        "apiVersion": "lifecycle.keptn.sh/v1",
        "kind": "KeptnWorkloadVersion",
        "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}"},
        "spec": {
            "app": app,
            "workloadName": f"{app}-{workload}",
            "version": version,
            "metadata": {"commitTime": rfc3339(begin - timedelta(hours=1))},
        },
        "status": {
            "status": "Failed" if failing else "Succeeded",
            "startTime": rfc3339(begin),
            "endTime": rfc3339(clock),
            "appContextMetadata": {"stage": "staging"},
            "phaseTraceIDs": carriers,
        },
    }


def _task(
    name: str,
    namespace: str,
    app: str,
    app_version: str,
    workload: str,
    workload_version: str,
    phase_carrier: dict[str, str],
    start: datetime,
    end: datetime,
) -> dict[str, Any]:
    return {
        "apiVersion": "lifecycle.keptn.sh/v1",
        "kind": "KeptnTask",
        "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}"},
        "spec": {
            "taskDefinition": name.rsplit("-", 1)[0],
            "checkType": "pre",
            "context": {
                "appName": app,
                "appVersion": app_version,
                "workloadName": workload,
                "workloadVersion": workload_version,
                "taskType": "pre",
                "objectType": "Workload" if workload else "App",
                "metadata": {"traceparent": phase_carrier["traceparent"], "stage": "staging"},
            },
        },
        "status": {
            "status": "Succeeded",
            "startTime": rfc3339(start + timedelta(milliseconds=100)),
            "endTime": rfc3339(end - timedelta(milliseconds=100)),
        },
    }


def _evaluation(
    name: str,
    namespace: str,
    app: str,
    app_version: str,
    workload: str,
    workload_version: str,
    start: datetime,
    end: datetime,
    passing: bool,
) -> dict[str, Any]:
    metric_status = "Passed" if passing else "Failed"
    return {
        "apiVersion": "lifecycle.keptn.sh/v1",
        "kind": "KeptnEvaluation",
        "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}"},
        "spec": {
            "appName": app,
            "appVersion": app_version,
            "workload": workload,
            "workloadVersion": workload_version,
            "evaluationDefinition": name.rsplit("-", 1)[0],
            "checkType": "post-eval" if name.startswith("post") else "pre-eval",
        },
        "status": {
            "overallStatus": "Succeeded" if passing else "Failed",
            "startTime": rfc3339(start + timedelta(milliseconds=100)),
            "endTime": rfc3339(end - timedelta(milliseconds=100)),
            "evaluationStatus": {
                "latency-p95": {
                    "value": "120" if passing else "900",
                    "status": metric_status,
                    "message": "" if passing else "value 900 not <500",
                    "target": "<500",
                },
            },
        },
    }
