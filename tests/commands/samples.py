"""Sample KeptnAppVersion / KeptnWorkloadVersion bodies with phaseTraceIDs as the machine writes them.

One app version `podtato-head-0.1.0-abc` (namespace podtato-kubectl) whose AppDeploy holds two
workload versions: `frontend` passes, `hat` fails its post-deployment evaluation (so AppDeploy and
the app fail). Times are offsets in seconds from BASE; ids are fixed so spans built from these are
deterministic.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tracing.context import derive_span_id, format_traceparent

__all__ = ["BASE", "app_version", "at", "workload_versions"]

BASE = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)
TRACE = 0x0AF7651916CD43DD8448EB211C80319C
ROOT_SPAN = 0xB7AD6B7169203331


def at(seconds: float) -> str:
    return (BASE + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _carrier(
    span: int, start: float, end: float | None, state: str, **extra: str
) -> dict[str, str]:
    carrier = {"traceparent": format_traceparent(TRACE, span), "startTime": at(start), **extra}
    if end is not None:
        carrier.update(endTime=at(end), state=state)
    return carrier


def _phase(
    name: str, start: float, end: float | None, state: str = "Succeeded", **extra: str
) -> dict[str, str]:
    return _carrier(derive_span_id(ROOT_SPAN, name), start, end, state, **extra)


def app_version(*, running: bool = False) -> dict[str, Any]:
    """The app version; `running=True` stops the story in the middle of AppDeploy."""
    traces: dict[str, Any] = {
        "root": _carrier(ROOT_SPAN, 0.0, None if running else 9.0, "Failed"),
        "AppPreDeployTasks": _phase("AppPreDeployTasks", 0.0, 1.5),
        "AppPreDeployEvaluations": _phase("AppPreDeployEvaluations", 1.5, 2.0),
        "AppDeploy": _phase(
            "AppDeploy", 2.0, None if running else 9.0, "Failed", reason="workload hat failed"
        ),
    }
    return {
        "apiVersion": "lifecycle.keptn.sh/v1",
        "kind": "KeptnAppVersion",
        "metadata": {"name": "podtato-head-0.1.0-abc", "namespace": "podtato-kubectl", "uid": "u1"},
        "spec": {"appName": "podtato-head", "version": "0.1.0"},
        "status": {
            "status": "Progressing" if running else "Failed",
            "currentPhase": "AppDeploy",
            "startTime": at(0.0),
            **({} if running else {"endTime": at(9.0)}),
            "phaseTraceIDs": traces,
            "preDeploymentTaskStatus": [
                {
                    "definitionName": "check-entry-config",
                    "name": "pre-podtato-head-0.1.0-check-entry-config",
                    "status": "Succeeded",
                    "startTime": at(0.1),
                    "endTime": at(1.4),
                }
            ],
            "preDeploymentEvaluationTaskStatus": [
                {
                    "definitionName": "availability-ok",
                    "name": "pre-eval-podtato-head-0.1.0-availability-ok",
                    "status": "Succeeded",
                    "startTime": at(1.5),
                    "endTime": at(1.9),
                }
            ],
        },
    }


def _workload(name: str, offset: float, fail: bool) -> dict[str, Any]:
    root = derive_span_id(ROOT_SPAN, f"wl-{name}")
    end = offset + 6.0

    def phase(p: str, s: float, e: float, state: str = "Succeeded", **extra: str) -> dict[str, str]:
        return _carrier(derive_span_id(root, p), offset + s, offset + e, state, **extra)

    return {
        "apiVersion": "lifecycle.keptn.sh/v1",
        "kind": "KeptnWorkloadVersion",
        "metadata": {"name": f"podtato-head-{name}-0.1.0", "namespace": "podtato-kubectl"},
        "spec": {
            "app": "podtato-head",
            "workloadName": f"podtato-head-{name}",
            "version": "0.1.0",
            "resourceReference": {"uid": f"uid-{name}", "kind": "ReplicaSet", "name": f"{name}-rs"},
        },
        "status": {
            "status": "Failed" if fail else "Succeeded",
            "startTime": at(offset),
            "endTime": at(end),
            "phaseTraceIDs": {
                "root": _carrier(root, offset, end, "Failed" if fail else "Succeeded"),
                "parent": {
                    "traceparent": format_traceparent(TRACE, derive_span_id(ROOT_SPAN, "AppDeploy"))
                },
                "WorkloadPreDeployTasks": phase("WorkloadPreDeployTasks", 0.0, 1.0),
                # nothing to evaluate: passes in the same instant (compact mode drops it)
                "WorkloadPreDeployEvaluations": phase("WorkloadPreDeployEvaluations", 1.0, 1.0),
                "WorkloadDeploy": phase("WorkloadDeploy", 1.0, 3.0),
                "WorkloadPostDeployTasks": phase("WorkloadPostDeployTasks", 3.0, 3.0),
                "WorkloadPostDeployEvaluations": phase(
                    "WorkloadPostDeployEvaluations",
                    3.0,
                    6.0,
                    "Failed" if fail else "Succeeded",
                    **({"reason": "error-rate-ok: value 0.2 target <0.05"} if fail else {}),
                ),
            },
            "preDeploymentTaskStatus": [
                {
                    "definitionName": "wait-for-dependencies",
                    "name": f"pre-{name}-wait-for-dependencies",
                    "status": "Succeeded",
                    "startTime": at(offset + 0.1),
                    "endTime": at(offset + 0.9),
                }
            ],
            "postDeploymentEvaluationTaskStatus": [
                {
                    "definitionName": "error-rate-ok",
                    "name": f"post-eval-{name}-error-rate-ok",
                    "status": "Failed" if fail else "Succeeded",
                    "startTime": at(offset + 3.0),
                    "endTime": at(offset + 6.0),
                }
            ],
        },
    }


def workload_versions() -> list[dict[str, Any]]:
    return [_workload("hat", 3.0, True), _workload("frontend", 2.0, False)]
