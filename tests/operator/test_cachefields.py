"""What the operator's caches hold of versions: completed ones slim, equal parts held once.

A completed KeptnWorkloadVersion/KeptnAppVersion is cached without its conditions, per-item
statuses and exported span carriers; every reader of a completed version must read the same
from the slim copy as from the whole object (the readers are called on both). Equal condition
items and empty containers are one object across cached objects.
"""

from __future__ import annotations

import copy
from typing import Any

from lifecycle.core import model
from lifecycle.core.machine import gate_open
from lifecycle.flow.objects import is_completed
from lifecycle.kube.transforms import Shared
from lifecycle.observability.spanmarks import unmarked_carriers
from lifecycle.observability.telemetry_labels import commit_time_of, scope_of, wl_labels_of
from lifecycle.operator.cachefields import DONE_DROPPED, cache_transform

T1, T2 = "2026-12-07T09:39:19.431243Z", "2026-12-07T09:40:28.635769Z"


def condition(kind: str, status: str, when: str) -> dict[str, Any]:
    return {
        "type": kind,
        "status": status,
        "reason": "Succeeded",
        "message": "WorkloadVersion succeeded",
        "observedGeneration": 1,
        "lastTransitionTime": when,
    }


def carrier(n: int, **extra: str) -> dict[str, str]:
    return {
        "traceparent": f"00-3d33918a4e008f3598b8a83f8bbf16d5-{n:016x}-01",
        "startTime": T1,
        "endTime": T2,
        "state": "Succeeded",
        **extra,
    }


def workload_version(status: str = "Succeeded") -> dict[str, Any]:
    """A KeptnWorkloadVersion as the API server serves it (managedFields included)."""
    return {
        "apiVersion": model.KEPTN_WORKLOAD_VERSION.api_version,
        "kind": "KeptnWorkloadVersion",
        "metadata": {
            "name": "a-a-w-0.1.0",
            "namespace": "bench",
            "uid": "9fa1ceb3-05cc-4d62-93d6-5a6b4ba1fc71",
            "resourceVersion": "40329",
            "annotations": {"traceparent": "00-c8a1f5c79c6260994409b285c5a2025f-17c0-03"},
            "ownerReferences": [
                {"apiVersion": "lifecycle.keptn.sh/v1", "kind": "KeptnWorkload", "uid": "u1"}
            ],
            "managedFields": [{"manager": "klt", "operation": "Update"}],
        },
        "spec": {
            "app": "a",
            "version": "0.1.0",
            "workloadName": "a-a-w",
            "previousVersion": "0.0.9",
            "preDeploymentTasks": ["check"],
            "metadata": {"commitTime": "2026-12-07T09:00:00Z"},
            "resourceReference": {"uid": "rs1", "kind": "ReplicaSet", "name": "a-w-9f"},
        },
        "status": {
            "status": status,
            "currentPhase": "Completed" if status != "Progressing" else "WorkloadDeploy",
            "startTime": T1,
            "endTime": T2,
            "deploymentStatus": "Succeeded",
            "preDeploymentStatus": "Succeeded",
            "preDeploymentEvaluationStatus": "Succeeded",
            "appContextMetadata": {},
            "preDeploymentTaskStatus": [{"definitionName": "check", "status": "Succeeded"}],
            "postDeploymentTaskStatus": [],
            "phaseTraceIDs": {
                "root": carrier(1, exported="true"),
                "WorkloadPreDeployTasks": carrier(2, exported="true"),
                "WorkloadDeploy": carrier(3),  # not exported yet: the sweep needs it
            },
            "conditions": [
                condition("Ready", "True", T2),
                condition("Failed", "False", T1),
            ],
        },
    }


def readers(wv: dict[str, Any]) -> dict[str, object]:
    """What the operator's readers of a completed version read of it (see cachefields)."""
    status = wv["status"]
    return {
        "completed": is_completed(wv),
        "gate_open": gate_open(wv),  # type: ignore[arg-type]
        "unmarked": unmarked_carriers(wv),
        "root": status["phaseTraceIDs"]["root"]["traceparent"],  # the next version's link
        "times": (status.get("startTime"), status.get("endTime")),
        "words": {k: v for k, v in status.items() if isinstance(v, str)},
        "spec": wv["spec"],  # the workload controller compares it, the indexes read it
        "metadata": {k: v for k, v in wv["metadata"].items() if k != "managedFields"},
        "labels": (scope_of(wv), wl_labels_of(wv), commit_time_of(wv)),
    }


def test_a_completed_version_is_cached_slim_with_what_its_readers_read() -> None:
    whole = workload_version()
    cached = cache_transform(model.KEPTN_WORKLOAD_VERSION, Shared())(copy.deepcopy(whole))
    assert readers(cached) == readers(whole)
    assert "managedFields" not in cached["metadata"]
    assert not DONE_DROPPED & set(cached["status"])  # conditions, per-item statuses
    assert set(cached["status"]["phaseTraceIDs"]) == {"root", "WorkloadDeploy"}


def test_an_app_version_keeps_the_app_deploy_carrier_for_the_app_gate() -> None:
    whole = workload_version()
    whole["kind"] = "KeptnAppVersion"
    whole["status"]["phaseTraceIDs"]["AppDeploy"] = carrier(4, exported="true")
    whole["status"]["workloadStatus"] = [{"workload": {"name": "w"}, "status": "Succeeded"}]
    cached = cache_transform(model.KEPTN_APP_VERSION)(copy.deepcopy(whole))
    assert set(cached["status"]["phaseTraceIDs"]) == {"root", "AppDeploy", "WorkloadDeploy"}
    assert "workloadStatus" not in cached["status"]


def test_a_version_not_completed_is_cached_whole() -> None:
    whole = workload_version(status="Progressing")
    cached = cache_transform(model.KEPTN_WORKLOAD_VERSION)(copy.deepcopy(whole))
    del whole["metadata"]["managedFields"]
    assert cached == whole


def test_equal_conditions_and_empty_containers_are_held_once() -> None:
    shared = Shared()
    transform = cache_transform(model.KEPTN_WORKLOAD, shared)
    one, two = (transform(workload_version(status="Progressing")) for _ in range(2))
    for a, b in zip(one["status"]["conditions"], two["status"]["conditions"], strict=True):
        assert a is b
    assert one["status"]["postDeploymentTaskStatus"] is shared.empty_list
    assert two["status"]["postDeploymentTaskStatus"] is shared.empty_list
    assert one["status"]["appContextMetadata"] is two["status"]["appContextMetadata"]
    other = workload_version(status="Progressing")
    other["status"]["conditions"][0]["observedGeneration"] = True  # equal to 1 in Python
    third = transform(other)["status"]["conditions"]
    assert third[0] is not one["status"]["conditions"][0]
    assert third[0]["observedGeneration"] is True
    assert third[1] is one["status"]["conditions"][1]


def test_the_shared_table_is_bounded() -> None:
    shared = Shared(limit=2)
    items = [shared.condition({"type": "Ready", "n": n}) for n in range(5)]
    assert shared.condition({"type": "Ready", "n": 4}) is items[4]
    assert shared.condition({"type": "Ready", "n": 0}) is not items[0]  # evicted, kept as given
