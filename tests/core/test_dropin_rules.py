"""The small pure rules behind issue 12 (drop-in correctness), table-driven, no event loop."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lifecycle.core.runtimes import task_metadata
from lifecycle.core.windows import window_end
from lifecycle.flow.argo import rollout_health
from lifecycle.flow.contextintake import wanted_patch

Body = dict[str, Any]
NOW = datetime(2026, 12, 7, 8, 0, 0, 500000, tzinfo=UTC)


def test_window_ends_after_the_creation_second() -> None:
    objects = [
        {"metadata": {"creationTimestamp": "2026-12-07T08:00:00Z"}},
        {"metadata": {"creationTimestamp": "2026-12-07T08:00:03Z"}},
    ]
    assert window_end(objects, timedelta(seconds=1), NOW) == datetime(
        2026, 12, 7, 8, 0, 5, tzinfo=UTC
    )
    unstored = window_end([{"metadata": {}}], timedelta(seconds=0.3), NOW)
    assert unstored == datetime(2026, 12, 7, 8, 0, 1, 300000, tzinfo=UTC)


CONTEXT = {
    "preDeploymentTasks": ["check"],
    "postDeploymentTasks": ["notify"],
    "metadata": {"commit": "abc"},
}


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ({}, {"preDeploymentTasks", "postDeploymentTasks", "metadata"}),
        ({"startTime": "t", "phaseTraceIDs": {"AppPreDeployTasks": {}}}, {"postDeploymentTasks"}),
        ({"startTime": "t", "phaseTraceIDs": {"AppPostDeployTasks": {}}}, {"preDeploymentTasks"}),
        ({"status": "Succeeded"}, set()),
    ],
)
def test_a_late_context_reaches_only_phases_not_started(status: Body, expected: set[str]) -> None:
    app_version = {"spec": {"appName": "shop"}, "status": status}
    assert set(wanted_patch(app_version, CONTEXT)) == expected


def test_an_unchanged_context_patches_nothing() -> None:
    app_version = {"spec": dict(CONTEXT), "status": {}}
    assert wanted_patch(app_version, CONTEXT) == {}


@pytest.mark.parametrize(
    ("status", "ready"),
    [
        ({"phase": "Healthy", "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3}, True),
        ({"phase": "Healthy", "replicas": 4, "updatedReplicas": 3, "availableReplicas": 4}, False),
        ({"phase": "Paused", "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3}, False),
        ({"phase": "Progressing", "replicas": 3, "updatedReplicas": 1}, False),
        ({}, False),
    ],
)
def test_a_rollout_is_deployed_when_healthy_and_fully_updated(status: Body, ready: bool) -> None:
    assert rollout_health({"spec": {"replicas": 3}, "status": status}).ready is ready


def test_task_metadata_inherits_the_definition_and_the_operator_keys_win() -> None:
    definition = {
        "metadata": {
            "labels": {"cost-center": "payments", "keptn.sh/app": "other"},
            "annotations": {
                "sidecar.istio.io/inject": "false",
                "kubectl.kubernetes.io/last-applied-configuration": "{}",
            },
        }
    }
    labels, annotations = task_metadata(definition, {"keptn.sh/app": "shop"}, {"traceparent": "x"})
    assert labels == {"cost-center": "payments", "keptn.sh/app": "shop"}
    assert annotations == {"sidecar.istio.io/inject": "false", "traceparent": "x"}
    assert task_metadata(None, {"a": "b"}, {}) == ({"a": "b"}, {})
