"""AppVersion pacing (lifecycle.flow.pacing): items written at most every ITEMS_WINDOW, no
ReconcileWorkloadNotFound while the AppVersion is young and its WorkloadVersions are on the way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from lifecycle.core.actions import EmitEvent, EventType
from lifecycle.core.machine import Decision
from lifecycle.core.phases import Phase
from lifecycle.flow.pacing import ITEMS_WINDOW, WORKLOADS_GRACE, AppVersionPacing

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def app_version(items: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "shop-1-abc",
            "namespace": "demo",
            "creationTimestamp": "2026-01-01T12:00:00Z",
        },
        "spec": {"appName": "shop"},
        "status": {"workloadStatus": items or []},
    }


def item(name: str, status: str) -> dict[str, Any]:
    return {"workload": {"name": name, "version": "1"}, "status": status}


def not_found(name: str) -> EmitEvent:
    return EmitEvent(
        "ReconcileWorkloadNotFound",
        EventType.WARNING,
        Phase.RECONCILE_WORKLOAD,
        f"could not find KeptnWorkloadVersion for KeptnWorkload: {name} (yet)",
        f"ReconcileWorkloadNotFound/shop-{name}-1",
    )


def test_item_changes_wait_for_the_window_and_other_changes_take_them_at_once() -> None:
    pacing = AppVersionPacing()
    obj = app_version([item("web", "Progressing"), item("db", "Progressing")])
    items_only = Decision(
        status={"workloadStatus": [item("web", "Succeeded"), item("db", "Progressing")]}
    )
    assert pacing.pace(obj, items_only, T0) == T0 + ITEMS_WINDOW
    assert pacing.pace(obj, items_only, T0 + ITEMS_WINDOW / 2) == T0 + ITEMS_WINDOW
    assert pacing.pace(obj, items_only, T0 + ITEMS_WINDOW) == items_only  # due: written
    assert pacing.pace(obj, items_only, T0 + ITEMS_WINDOW + timedelta(seconds=1)) == (
        T0 + 2 * ITEMS_WINDOW + timedelta(seconds=1)  # a new window after the write
    )
    finished = Decision(status={"workloadOverallStatus": "Succeeded", **items_only.status})
    assert pacing.pace(obj, finished, T0 + ITEMS_WINDOW + timedelta(seconds=2)) == finished
    # the write dropped the due time: the next item change opens a fresh window
    later = T0 + ITEMS_WINDOW + timedelta(seconds=3)
    assert pacing.pace(obj, items_only, later) == later + ITEMS_WINDOW
    machine_deadline = later + ITEMS_WINDOW / 2
    early = Decision(status=items_only.status, requeue_at=machine_deadline)
    assert pacing.pace(obj, early, later) == machine_deadline


def test_missing_workload_versions_are_quiet_during_the_grace_then_warned() -> None:
    pacing = AppVersionPacing()
    obj = app_version()
    decided = Decision(
        status={
            "currentPhase": "AppDeploy",
            "workloadStatus": [item("web", "Progressing"), item("db", "Pending")],
        },
        actions=(not_found("db"),),
    )
    early = T0 + timedelta(seconds=2)
    paced = pacing.pace(obj, decided, early)
    assert isinstance(paced, Decision)
    assert paced.actions == ()
    assert paced.status == {
        "currentPhase": "AppDeploy",
        "workloadStatus": [item("web", "Progressing")],
    }
    assert paced.requeue_at == T0 + WORKLOADS_GRACE  # warned then if the db never comes
    assert pacing.pace(obj, decided, T0 + WORKLOADS_GRACE) == decided


def test_the_aggregate_waits_with_the_items_until_it_is_final() -> None:
    pacing = AppVersionPacing()
    obj = app_version([item("web", "Pending")])
    progressing = Decision(
        status={
            "workloadOverallStatus": "Progressing",
            "workloadStatus": [item("web", "Progressing")],
        }
    )
    assert pacing.pace(obj, progressing, T0) == T0 + ITEMS_WINDOW
    failed = Decision(
        status={"workloadOverallStatus": "Failed", "workloadStatus": [item("web", "Failed")]}
    )
    assert pacing.pace(obj, failed, T0 + timedelta(seconds=1)) == failed
