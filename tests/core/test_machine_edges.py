"""Edge cases of the machine's input handling: odd bodies, merge patches, child timestamps."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from lifecycle.core.actions import (
    CreateTask,
    Creation,
    EmitEvent,
    EventType,
    PhaseEnded,
    creation_event,
)
from lifecycle.core.machine import (
    AppVersionSnapshot,
    MachineConfig,
    apply_merge_patch,
    decide,
    deprecate,
)
from lifecycle.core.machine_draft import StatusDraft, read_time
from lifecycle.core.naming import child_name
from tests.core.test_machine_world import T0, World, app_version


@pytest.mark.parametrize(
    ("target", "patch", "result"),
    [
        ({"a": 1}, {"a": None}, {}),
        ({"a": {"b": 1, "c": 2}}, {"a": {"b": None, "d": 3}}, {"a": {"c": 2, "d": 3}}),
        ({"a": 1}, {"a": {"b": 2}}, {"a": {"b": 2}}),
        ({"a": [1, 2]}, {"a": [3]}, {"a": [3]}),
        ({}, {}, {}),
    ],
)
def test_apply_merge_patch(
    target: dict[str, Any], patch: dict[str, Any], result: dict[str, Any]
) -> None:
    original = repr(target)
    assert apply_merge_patch(target, patch) == result
    assert repr(target) == original


@pytest.mark.parametrize("value", [None, "", 5, "not a time"])
def test_read_time_tolerates_garbage(value: object) -> None:
    assert read_time(value) is None


def test_draft_writes_only_changes_and_replaces_a_broken_trace_map() -> None:
    draft = StatusDraft({"status": "Pending", "phaseTraceIDs": "garbage"})
    draft.set("status", "Pending")
    assert draft.patch == {}
    assert draft.carrier("root") == {}
    draft.set_carrier("root", {"traceparent": "x"})
    draft.set_carrier("root", {"traceparent": "x"})
    assert draft.patch == {"phaseTraceIDs": {"root": {"traceparent": "x"}}}


def test_odd_spec_lists_and_metadata_are_tolerated() -> None:
    obj = app_version()
    obj["spec"]["preDeploymentTasks"] = None
    obj["spec"]["postDeploymentTasks"] = ["", "  ", "ok", 3]
    obj["spec"]["metadata"] = None
    obj["spec"]["workloads"] = None
    world = World(obj)
    world.step()
    created = [a for a in world.created if isinstance(a, CreateTask)]
    assert [c.definition for c in created] == ["ok"]
    assert created[0].context["metadata"] == {
        "traceparent": world.status["phaseTraceIDs"]["AppPostDeployTasks"]["traceparent"]
    }


def test_item_status_mirrors_child_times_and_first_sight_is_reported() -> None:
    obj = app_version(pre_tasks=["t"])
    name = child_name("pre", "t", "uid-app-1", "AppPreDeployTasks")
    tasks = {
        name: {
            "status": {
                "status": "Progressing",
                "startTime": "2026-11-27T11:00:01.000000Z",
            }
        }
    }
    # a child that exists before its item was recorded (e.g. the status write was lost)
    decision = decide(AppVersionSnapshot(obj=obj, tasks=tasks), T0, MachineConfig())
    assert decision.status["preDeploymentTaskStatus"] == [
        {
            "definitionName": "t",
            "name": name,
            "status": "Progressing",
            "startTime": "2026-11-27T11:00:01.000000Z",
        }
    ]
    events = [a for a in decision.actions if isinstance(a, EmitEvent)]
    assert [e.reason for e in events] == ["AppPreDeployTasksStarted", "ReconcileTask"]
    assert not any(isinstance(a, CreateTask) for a in decision.actions)


def test_object_without_uid_falls_back_to_its_name() -> None:
    obj = app_version(pre_tasks=["t"])
    del obj["metadata"]["uid"]
    world = World(obj)
    world.step(T0 + timedelta(seconds=1))
    assert world.created[0].name == child_name(
        "pre", "t", "podtato-0.1.0-6b86b273", "AppPreDeployTasks"
    )


@pytest.mark.parametrize(
    ("what", "phase", "text"),
    [
        (Creation.APP, "CreateAppCreationRequest", "created KeptnApp x"),
        (Creation.APP_VERSION, "CreateAppVersion", "created KeptnAppVersion x"),
        (Creation.WORKLOAD, "CreateWorkload", "created KeptnWorkload x"),
        (Creation.WORKLOAD_INSTANCE, "CreateWorkloadVersion", "created KeptnWorkloadVersion x"),
    ],
)
def test_creation_events_for_other_controllers(what: Creation, phase: str, text: str) -> None:
    event = creation_event(what, "x")
    assert (event.reason, event.phase, event.text, event.key) == (
        str(what),
        phase,
        text,
        f"{what}/x",
    )
    assert event.type is EventType.NORMAL


def test_deprecate_tolerates_an_unknown_current_phase() -> None:
    obj = app_version()
    obj["status"] = {"currentPhase": "SomethingElse", "status": "Progressing"}
    decision = deprecate(obj, T0)
    assert decision.status["status"] == "Deprecated"
    assert not any(isinstance(a, PhaseEnded) for a in decision.actions)
