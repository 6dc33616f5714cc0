"""Table-driven tests of the pure machine: each test is one rule of keptn.md §2 or the seed."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from lifecycle.core.actions import (
    CreateEvaluation,
    CreateTask,
    EmitEvent,
    EventType,
    Finished,
    PhaseEnded,
)
from lifecycle.core.machine import (
    EMPTY,
    AppVersionSnapshot,
    MachineConfig,
    Rollout,
    WorkloadVersionSnapshot,
    apply_merge_patch,
    decide,
    deprecate,
    gate_open,
)
from lifecycle.core.naming import (
    child_name,
    format_time,
    parse_traceparent,
    span_id_for,
    trace_id_for,
)
from lifecycle.core.phases import State
from tests.core.test_machine_world import (
    T0,
    World,
    app_version,
    passed_app,
    workload_version,
)

APP_FLOW = [
    "AppPreDeployTasks",
    "AppPreDeployEvaluations",
    "AppDeploy",
    "AppPostDeployTasks",
    "AppPostDeployEvaluations",
]
WL_FLOW = [
    "WorkloadPreDeployTasks",
    "WorkloadPreDeployEvaluations",
    "WorkloadDeploy",
    "WorkloadPostDeployTasks",
    "WorkloadPostDeployEvaluations",
]


def flow_events(world: World) -> list[str]:
    return [
        e.reason
        for e in world.events
        if e.reason.endswith(("Started", "Succeeded", "Errored")) or e.reason == "Completed"
    ]


def ready_workload_world(**kwargs: Any) -> World:
    world = World(workload_version(**kwargs), app=passed_app())
    world.rollout = Rollout(desired=1, available=1)
    return world


# --- the seed's flow -------------------------------------------------------------------------


def test_empty_app_walks_every_phase_in_one_decision_in_klt_order() -> None:
    world = World(app_version())
    decision = world.step()
    expected = [f"{p}{s}" for p in APP_FLOW for s in ("Started", "Succeeded")] + ["Completed"]
    assert flow_events(world) == expected
    assert world.status["status"] == "Succeeded"
    assert world.status["currentPhase"] == "Completed"
    assert world.status["endTime"] == format_time(T0)
    assert decision.requeue_at is None
    ended = [a.phase for a in decision.actions if isinstance(a, PhaseEnded)]
    assert ended == APP_FLOW
    assert [a for a in decision.actions if isinstance(a, Finished)] == [
        Finished(State.SUCCEEDED, T0, T0)
    ]


def test_empty_workload_walks_every_phase_once_the_rollout_is_ready() -> None:
    world = ready_workload_world()
    world.step()
    expected = [f"{p}{s}" for p in WL_FLOW for s in ("Started", "Succeeded")] + ["Completed"]
    assert flow_events(world) == expected
    assert world.status["status"] == "Succeeded"
    assert world.events[-1].phase == "WorkloadCompleted"


def test_app_walk_with_children_follows_the_seed() -> None:
    world = World(
        app_version(
            pre_tasks=["notify"],
            pre_evals=["cpu"],
            post_tasks=["smoke"],
            post_evals=["slo"],
            workloads=[("frontend", "0.1.0")],
        )
    )
    world.step()
    assert world.status["currentPhase"] == "AppPreDeployTasks"
    world.set_task("notify", "Succeeded")
    world.step(T0 + timedelta(seconds=1))
    assert world.status["currentPhase"] == "AppPreDeployEvaluations"
    world.set_evaluation("cpu", "Succeeded")
    world.step(T0 + timedelta(seconds=2))
    assert world.status["currentPhase"] == "AppDeploy"
    world.set_workload("podtato-frontend-0.1.0", "Progressing")
    world.step(T0 + timedelta(seconds=3))
    assert world.status["workloadOverallStatus"] == "Progressing"
    world.set_workload("podtato-frontend-0.1.0", "Succeeded")
    world.step(T0 + timedelta(seconds=4))
    world.set_task("smoke", "Succeeded")
    world.step(T0 + timedelta(seconds=5))
    world.set_evaluation("slo", "Succeeded")
    world.step(T0 + timedelta(seconds=6))
    expected = [f"{p}{s}" for p in APP_FLOW for s in ("Started", "Succeeded")] + ["Completed"]
    assert flow_events(world) == expected
    assert world.status["status"] == "Succeeded"
    assert world.status["workloadStatus"] == [
        {"workload": {"name": "frontend", "version": "0.1.0"}, "status": "Succeeded"}
    ]


def test_all_children_of_a_phase_are_requested_in_the_same_decision() -> None:
    world = World(app_version(pre_tasks=["a", "b", "c", "a"]))
    decision = world.step()
    created = [a for a in decision.actions if isinstance(a, CreateTask)]
    assert [c.definition for c in created] == ["a", "b", "c"]
    assert {c.name for c in created} == {
        child_name("pre", d, "uid-app-1", "AppPreDeployTasks") for d in "abc"
    }
    assert [i["status"] for i in world.status["preDeploymentTaskStatus"]] == ["Pending"] * 3
    assert world.status["preDeploymentStatus"] == "Pending"
    assert world.status["status"] == "Progressing"
    assert decision.requeue_at is None  # event-driven: the children's changes wake us


@pytest.mark.parametrize(
    ("states", "phase_state", "object_state"),
    [
        (("Succeeded", "Progressing"), "Progressing", "Progressing"),
        (("Succeeded", "Pending"), "Pending", "Progressing"),
        (("Succeeded", "Succeeded"), "Succeeded", "Progressing"),
        (("Failed", "Progressing"), "Failed", "Failed"),
        (("Succeeded", "Unknown"), "Unknown", "Progressing"),
    ],
)
def test_phase_folds_its_children(
    states: tuple[str, str], phase_state: str, object_state: str
) -> None:
    world = World(app_version(pre_tasks=["a", "b"], pre_evals=["e"]))
    world.step()
    world.set_task("a", states[0])
    world.set_task("b", states[1])
    world.step(T0 + timedelta(seconds=1))
    assert world.status["preDeploymentStatus"] == phase_state
    assert world.status["status"] == object_state


def test_task_context_and_evaluation_fields_for_an_app() -> None:
    world = World(app_version(pre_tasks=["notify"], pre_evals=["cpu"], metadata={"k": "v"}))
    first = world.step()
    task = next(a for a in first.actions if isinstance(a, CreateTask))
    tp = world.status["phaseTraceIDs"]["AppPreDeployTasks"]["traceparent"]
    assert task.context == {
        "workloadName": "",
        "appName": "podtato",
        "appVersion": "0.1.0",
        "workloadVersion": "",
        "taskType": "pre",
        "objectType": "App",
        "metadata": {"k": "v", "traceparent": tp},
    }
    world.set_task("notify", "Succeeded")
    second = world.step(T0 + timedelta(seconds=1))
    evaluation = next(a for a in second.actions if isinstance(a, CreateEvaluation))
    assert (evaluation.app_name, evaluation.app_version, evaluation.check_type) == (
        "podtato",
        "0.1.0",
        "pre-eval",
    )
    assert (
        evaluation.traceparent
        == world.status["phaseTraceIDs"]["AppPreDeployEvaluations"]["traceparent"]
    )
    assert evaluation.name.startswith("pre-eval-cpu-")


def test_task_context_for_a_workload_merges_app_context_metadata() -> None:
    world = ready_workload_world(pre_tasks=["migrate"], metadata={"team": "a"})
    decision = world.step()
    task = next(a for a in decision.actions if isinstance(a, CreateTask))
    assert task.context["objectType"] == "Workload"
    assert task.context["workloadName"] == "podtato-frontend"
    assert task.context["workloadVersion"] == "0.1.0"
    assert task.context["appName"] == "podtato"
    assert task.context["metadata"] == {
        "commit": "abc",
        "team": "a",
        "traceparent": world.status["phaseTraceIDs"]["WorkloadPreDeployTasks"]["traceparent"],
    }


def test_child_state_changes_emit_reconcile_events_once_per_transition() -> None:
    world = World(app_version(pre_tasks=["notify"], pre_evals=["cpu"]))
    world.step()
    world.step(T0 + timedelta(seconds=1))  # child seen Pending: no change, no event
    world.set_task("notify", "Progressing")
    world.step(T0 + timedelta(seconds=2))
    world.step(T0 + timedelta(seconds=3))
    world.set_task("notify", "Succeeded")
    world.step(T0 + timedelta(seconds=4))
    world.set_evaluation("cpu", "Progressing")
    world.step(T0 + timedelta(seconds=5))
    reconcile = [
        (e.reason, e.text.split(" status ")[1]) for e in world.events if "Reconcile" in e.reason
    ]
    assert reconcile == [
        ("ReconcileTask", "changed from Pending to Progressing"),
        ("ReconcileTask", "changed from Progressing to Succeeded"),
        ("ReconcileEvaluation", "changed from Pending to Progressing"),
    ]
    assert len({e.key for e in world.events}) == len(world.events)


# --- failure ---------------------------------------------------------------------------------

APP_FAILURES = [
    ("pre_tasks", "AppPreDeployTasks", "preDeploymentStatus",
     ["preDeploymentEvaluationStatus", "workloadOverallStatus", "postDeploymentStatus",
      "postDeploymentEvaluationStatus", "promotionStatus"]),
    ("pre_evals", "AppPreDeployEvaluations", "preDeploymentEvaluationStatus",
     ["workloadOverallStatus", "postDeploymentStatus", "postDeploymentEvaluationStatus",
      "promotionStatus"]),
    ("post_tasks", "AppPostDeployTasks", "postDeploymentStatus",
     ["postDeploymentEvaluationStatus", "promotionStatus"]),
    ("post_evals", "AppPostDeployEvaluations", "postDeploymentEvaluationStatus",
     ["promotionStatus"]),
]  # fmt: skip


@pytest.mark.parametrize(("field", "phase", "status_field", "deprecated"), APP_FAILURES)
def test_failed_app_phase_deprecates_the_rest(
    field: str, phase: str, status_field: str, deprecated: list[str]
) -> None:
    world = World(app_version(**{field: ["check"]}))
    world.step()
    for definition in ("check",):
        world.set_task(definition, "Failed", "BackoffLimitExceeded")
        world.set_evaluation(definition, "Failed")
    decision = world.step(T0 + timedelta(minutes=1))
    status = world.status
    assert status["status"] == "Failed"
    assert status["currentPhase"] == phase
    assert status[status_field] == "Failed"
    assert all(status[f] == "Deprecated" for f in deprecated)
    assert status["endTime"] == format_time(T0 + timedelta(minutes=1))
    errored = [e for e in world.events if e.reason == f"{phase}Errored"]
    assert len(errored) == 1 and errored[0].type is EventType.WARNING
    assert errored[0].text.startswith("has failed: ")
    assert "Deprecated" in world.reasons()
    assert Finished(State.FAILED, T0, T0 + timedelta(minutes=1)) in decision.actions
    assert status["phaseTraceIDs"][phase]["state"] == "Failed"
    assert status["phaseTraceIDs"]["root"]["state"] == "Failed"
    assert decide(world.snapshot(), T0 + timedelta(hours=1), world.config) is EMPTY


def test_failed_task_message_reaches_the_errored_event() -> None:
    world = World(app_version(pre_tasks=["notify"]))
    world.step()
    world.set_task("notify", "Failed", "BackoffLimitExceeded")
    world.step(T0 + timedelta(seconds=1))
    text = next(e.text for e in world.events if e.reason == "AppPreDeployTasksErrored")
    assert "notify" in text and "BackoffLimitExceeded" in text
    assert world.status["phaseTraceIDs"]["AppPreDeployTasks"]["reason"] in text


def test_failed_workload_fails_app_deploy() -> None:
    world = World(app_version(workloads=[("frontend", "0.1.0"), ("backend", "0.2.0")]))
    world.step()
    world.set_workload("podtato-frontend-0.1.0", "Succeeded")
    world.workload_versions["podtato-backend-0.2.0"] = {
        "status": {"status": "Failed", "currentPhase": "WorkloadDeploy"}
    }
    world.step(T0 + timedelta(seconds=1))
    assert world.status["workloadOverallStatus"] == "Failed"
    assert world.status["postDeploymentStatus"] == "Deprecated"
    text = next(e.text for e in world.events if e.reason == "AppDeployErrored")
    assert "podtato-backend-0.2.0 Failed in WorkloadDeploy" in text


def test_missing_workload_version_is_reported_once_and_keeps_app_deploy_pending() -> None:
    world = World(app_version(workloads=[("frontend", "0.1.0")]))
    world.step()
    world.step(T0 + timedelta(seconds=1))
    assert world.reasons().count("ReconcileWorkloadNotFound") == 1
    assert world.status["workloadOverallStatus"] == "Pending"


@pytest.mark.parametrize(
    ("field", "phase"),
    [("pre_tasks", "WorkloadPreDeployTasks"), ("pre_evals", "WorkloadPreDeployEvaluations")],
)
def test_failed_workload_pre_deployment_keeps_pods_gated(field: str, phase: str) -> None:
    world = ready_workload_world(**{field: ["check"]})
    world.step()
    world.set_task("check", "Failed")
    world.set_evaluation("check", "Failed")
    world.step(T0 + timedelta(seconds=1))
    assert world.status["status"] == "Failed"
    assert world.status["currentPhase"] == phase
    assert world.status["deploymentStatus"] == "Deprecated"
    assert not gate_open(world.obj)  # KLT #3920 releases these pods; we keep them pending


# --- non-blocking ----------------------------------------------------------------------------


def test_non_blocking_failure_becomes_warning_and_the_flow_goes_on() -> None:
    world = World(app_version(pre_tasks=["a", "b"]), config=MachineConfig(block_deployment=False))
    world.step()
    world.set_task("a", "Failed")
    world.step(T0 + timedelta(seconds=1))
    # the sibling still runs: the phase waits for it instead of completing early (KLT would not)
    assert world.status["preDeploymentStatus"] == "Pending"
    assert world.status["status"] == "Progressing"
    world.set_task("b", "Succeeded")
    world.step(T0 + timedelta(seconds=2))
    assert world.status["preDeploymentStatus"] == "Warning"
    assert world.status["status"] == "Succeeded"
    errored = next(e for e in world.events if e.reason == "AppPreDeployTasksErrored")
    assert errored.type is EventType.WARNING and "non-blocking" in errored.text
    assert world.status["phaseTraceIDs"]["AppPreDeployTasks"]["state"] == "Warning"


def test_non_blocking_workload_pre_failure_still_deploys() -> None:
    world = World(
        workload_version(pre_tasks=["check"]),
        app=passed_app(),
        config=MachineConfig(block_deployment=False),
    )
    world.step()
    world.set_task("check", "Failed")
    world.step(T0 + timedelta(seconds=1))
    assert world.status["preDeploymentStatus"] == "Warning"
    assert world.status["deploymentStatus"] == "Progressing"
    assert gate_open(world.obj)


# --- the app gate of a WorkloadVersion --------------------------------------------------------


def test_workload_waits_for_its_app_version_and_warns_once() -> None:
    world = World(workload_version())
    first = world.step()
    world.step(T0 + timedelta(seconds=10))
    assert world.reasons() == ["AppPreDeployEvaluationsAppVersionNotFound"]
    assert first.requeue_at is None  # the AppVersion's creation wakes the workload
    assert "currentPhase" not in world.status
    assert world.status["startTime"] == format_time(T0)


@pytest.mark.parametrize(
    ("app_pre_eval", "warned"),
    [("Pending", False), ("Progressing", False), ("Failed", True), ("Deprecated", True)],
)
def test_workload_stays_at_the_gate_until_app_pre_evaluations_pass(
    app_pre_eval: str, warned: bool
) -> None:
    app = passed_app()
    app["status"]["preDeploymentEvaluationStatus"] = app_pre_eval
    world = World(workload_version(), app=app)
    world.step()
    world.step(T0 + timedelta(seconds=1))
    assert "currentPhase" not in world.status
    assert not gate_open(world.obj)
    assert world.reasons() == (["AppPreDeployEvaluationsFailed"] if warned else [])


def test_passing_the_gate_copies_app_metadata_and_joins_the_app_trace() -> None:
    world = World(workload_version(pre_tasks=["t"]), app=passed_app())
    world.step()
    status = world.status
    assert status["appContextMetadata"] == {"commit": "abc"}
    root = status["phaseTraceIDs"]["root"]
    assert root["parent"] == "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    parsed = parse_traceparent(root["traceparent"])
    assert parsed == ("0af7651916cd43dd8448eb211c80319c", span_id_for("uid-wv-1", "root"))
    phase_tp = parse_traceparent(status["phaseTraceIDs"]["WorkloadPreDeployTasks"]["traceparent"])
    assert phase_tp is not None and phase_tp[0] == "0af7651916cd43dd8448eb211c80319c"


def test_warning_app_pre_evaluations_pass_the_gate() -> None:
    app = passed_app()
    app["status"]["preDeploymentEvaluationStatus"] = "Warning"  # KLT waits forever here
    world = World(workload_version(), app=app)
    world.step()
    assert world.status["currentPhase"] == "WorkloadDeploy"


def test_app_without_app_deploy_carrier_gives_the_workload_its_own_trace() -> None:
    app = passed_app()
    app["status"]["phaseTraceIDs"] = {}
    world = World(workload_version(), app=app)
    world.step()
    root = world.status["phaseTraceIDs"]["root"]
    assert "parent" not in root
    assert root["traceparent"].split("-")[1] == trace_id_for("uid-wv-1")


# --- WorkloadDeploy ---------------------------------------------------------------------------


def test_deploy_opens_the_gate_and_waits_for_the_rollout_with_a_deadline() -> None:
    world = World(workload_version(), app=passed_app())
    assert not gate_open(world.obj)
    decision = world.step()
    assert world.status["deploymentStatus"] == "Progressing"
    assert world.status["deploymentStartTime"] == format_time(T0)
    assert gate_open(world.obj)
    assert decision.requeue_at == T0 + timedelta(minutes=5)
    world.rollout = Rollout(desired=3, available=1)
    later = world.step(T0 + timedelta(seconds=5))
    assert gate_open(world.obj)
    assert "WorkloadDeployReconcile" in world.reasons()
    assert later.requeue_at == T0 + timedelta(minutes=5)
    world.rollout = Rollout(desired=3, available=3)
    world.step(T0 + timedelta(seconds=9))
    assert world.status["deploymentStatus"] == "Succeeded"
    assert world.status["status"] == "Succeeded"
    assert gate_open(world.obj)


@pytest.mark.parametrize(
    ("rollout", "detail"),
    [(None, "ReplicaSet frontend-abc was not found"), (Rollout(2, 1), "1 of 2 replicas")],
)
def test_deploy_times_out_after_the_observability_timeout(
    rollout: Rollout | None, detail: str
) -> None:
    world = World(
        workload_version(post_tasks=["smoke"]),
        app=passed_app(),
        config=MachineConfig(observability_timeout=timedelta(minutes=2)),
    )
    world.rollout = rollout
    world.step()
    decision = world.step(T0 + timedelta(minutes=2))
    assert world.status["deploymentStatus"] == "Failed"
    assert world.status["postDeploymentStatus"] == "Deprecated"
    assert world.status["status"] == "Failed"
    assert decision.requeue_at is None
    errored = [
        e for e in world.events if e.reason.startswith("WorkloadDeploy") and "Errored" in e.reason
    ]
    assert [e.reason for e in errored] == [
        "WorkloadDeployReconcileErrored",
        "WorkloadDeployErrored",
    ]
    assert detail in errored[0].text and "2m0s" in errored[0].text
    assert gate_open(world.obj) is True  # the pre-deployment phases passed: pods may start


# --- missing definitions ----------------------------------------------------------------------


def test_missing_definition_waits_then_errors_naming_it() -> None:
    world = World(app_version(pre_tasks=["ghost", "real"]))
    world.missing = {"ghost"}
    first = world.step()
    assert [a.definition for a in first.actions if isinstance(a, CreateTask)] == ["real"]
    assert first.requeue_at == T0 + timedelta(seconds=30)
    world.set_task("real", "Succeeded")
    middle = world.step(T0 + timedelta(seconds=10))
    assert middle.requeue_at == T0 + timedelta(seconds=30)
    assert world.status["preDeploymentStatus"] == "Pending"
    world.step(T0 + timedelta(seconds=30))
    assert world.status["status"] == "Failed"
    text = next(e.text for e in world.events if e.reason == "AppPreDeployTasksErrored")
    assert "KeptnTaskDefinition ghost was not found within 30s" in text


def test_missing_evaluation_definition_names_the_evaluation_kind() -> None:
    world = World(app_version(pre_evals=["ghost"]))
    world.missing = {"ghost"}
    world.step()
    world.step(T0 + timedelta(minutes=2))
    text = next(e.text for e in world.events if e.reason == "AppPreDeployEvaluationsErrored")
    assert "KeptnEvaluationDefinition ghost was not found within 30s" in text


def test_definition_that_appears_in_time_is_used() -> None:
    world = World(app_version(pre_tasks=["late"]))
    world.missing = {"late"}
    world.step()
    world.missing = set()
    decision = world.step(T0 + timedelta(seconds=5))
    assert [a.definition for a in decision.actions if isinstance(a, CreateTask)] == ["late"]


# --- promotion, deprecation, absorbing states ---------------------------------------------------


@pytest.mark.parametrize("enabled", [False, True])
def test_promotion_tasks_run_only_when_enabled(enabled: bool) -> None:
    world = World(
        app_version(promotion=["promote"]),
        config=MachineConfig(promotion_tasks_enabled=enabled),
    )
    decision = world.step()
    created = [a for a in decision.actions if isinstance(a, CreateTask)]
    if enabled:
        assert [c.check_type for c in created] == ["promotion"]
        assert world.status["currentPhase"] == "PromotionTasks"
        world.set_task("promote", "Succeeded")
        world.step(T0 + timedelta(seconds=1))
        assert "PromotionTasksSucceeded" in world.reasons()
    else:
        assert created == []
        assert "promotionStatus" not in world.status
    assert world.status["status"] == "Succeeded"


def test_deprecate_marks_remaining_phases_and_is_absorbing() -> None:
    world = World(app_version(pre_tasks=["t"], post_tasks=["p"]))
    world.step()
    decision = deprecate(world.obj, T0 + timedelta(seconds=3))
    assert decision.status["status"] == "Deprecated"
    for status_field in (
        "preDeploymentStatus",
        "preDeploymentEvaluationStatus",
        "workloadOverallStatus",
        "postDeploymentStatus",
        "postDeploymentEvaluationStatus",
        "promotionStatus",
    ):
        assert decision.status[status_field] == "Deprecated"
    events = [a for a in decision.actions if isinstance(a, EmitEvent)]
    assert [e.reason for e in events] == ["Deprecated"]
    assert (
        PhaseEnded(
            "AppPreDeployTasks",
            State.DEPRECATED,
            T0,
            T0 + timedelta(seconds=3),  # type: ignore[arg-type]
        )
        in decision.actions
    )
    assert decision.status["phaseTraceIDs"]["AppPreDeployTasks"]["state"] == "Deprecated"
    deprecated = apply_merge_patch(world.obj, {"status": decision.status})
    assert deprecated["status"]["phaseTraceIDs"]["root"]["state"] == "Deprecated"
    assert (
        decide(AppVersionSnapshot(obj=deprecated), T0 + timedelta(hours=1), MachineConfig())
        is EMPTY
    )
    assert deprecate(deprecated, T0 + timedelta(hours=1)) is EMPTY


def test_deprecate_keeps_completed_phases_and_outcomes() -> None:
    world = World(app_version(workloads=[("frontend", "0.1.0")]))
    world.step()
    decision = deprecate(world.obj, T0 + timedelta(seconds=1))
    assert "preDeploymentStatus" not in decision.status  # Succeeded stays Succeeded
    assert decision.status["workloadOverallStatus"] == "Deprecated"
    world.set_workload("podtato-frontend-0.1.0", "Succeeded")
    world.step(T0 + timedelta(seconds=2))
    assert deprecate(world.obj, T0 + timedelta(seconds=3)) is EMPTY


def test_deprecate_a_workload_version_uses_the_workload_table() -> None:
    obj = workload_version()
    decision = deprecate(obj, T0)
    assert decision.status["deploymentStatus"] == "Deprecated"
    assert "workloadOverallStatus" not in decision.status
    assert Finished(State.DEPRECATED, T0, T0) in decision.actions


@pytest.mark.parametrize("state", ["Succeeded", "Failed", "Deprecated", "Warning"])
def test_completed_objects_are_absorbing(state: str) -> None:
    for obj in (app_version(), workload_version()):
        obj["status"] = {"status": state}
        snapshot: AppVersionSnapshot | WorkloadVersionSnapshot
        if obj["kind"] == "KeptnAppVersion":
            snapshot = AppVersionSnapshot(obj=obj)
        else:
            snapshot = WorkloadVersionSnapshot(obj=obj, app_version=passed_app())
        assert decide(snapshot, T0, MachineConfig()) is EMPTY


@pytest.mark.parametrize(
    ("deployment", "open_"),
    [
        (None, False),
        ("Pending", False),
        ("Progressing", True),
        ("Succeeded", True),
        ("Warning", True),
        ("Failed", False),
        ("Deprecated", False),
        ("Unknown", False),
    ],
)
def test_gate_open(deployment: str | None, open_: bool) -> None:
    obj: dict[str, Any] = {"status": {} if deployment is None else {"deploymentStatus": deployment}}
    assert gate_open(obj) is open_


@pytest.mark.parametrize(
    ("pre", "pre_eval", "open_"),
    [
        ("Succeeded", "Succeeded", True),
        ("Warning", "Succeeded", True),
        ("Succeeded", "Failed", False),
        ("Failed", "Deprecated", False),
    ],
)
def test_gate_follows_pre_deployment_after_deploy_timeout(
    pre: str, pre_eval: str, open_: bool
) -> None:
    status = {
        "preDeploymentStatus": pre,
        "preDeploymentEvaluationStatus": pre_eval,
        "deploymentStatus": "Failed",
    }
    assert gate_open({"status": status}) is open_


# --- span data --------------------------------------------------------------------------------


def test_span_data_is_written_as_phases_start_and_end() -> None:
    world = World(app_version(pre_tasks=["t"]))
    world.step()
    traces = world.status["phaseTraceIDs"]
    trace = trace_id_for("uid-app-1")
    assert traces["root"] == {
        "traceparent": f"00-{trace}-{span_id_for('uid-app-1', 'root')}-01",
        "startTime": format_time(T0),
    }
    assert traces["AppPreDeployTasks"] == {
        "traceparent": f"00-{trace}-{span_id_for('uid-app-1', 'AppPreDeployTasks')}-01",
        "startTime": format_time(T0),
    }
    world.set_task("t", "Succeeded")
    end = T0 + timedelta(seconds=7)
    decision = world.step(end)
    traces = world.status["phaseTraceIDs"]
    assert traces["AppPreDeployTasks"]["endTime"] == format_time(end)
    assert traces["AppPreDeployTasks"]["state"] == "Succeeded"
    assert traces["root"]["endTime"] == format_time(end)
    assert PhaseEnded("AppPreDeployTasks", State.SUCCEEDED, T0, end) in decision.actions  # type: ignore[arg-type]
    assert world.status["startTime"] == format_time(T0)


def test_ids_are_the_same_after_a_restart() -> None:
    first = World(app_version(pre_tasks=["t"])).step()
    second = World(app_version(pre_tasks=["t"])).step(T0)
    assert first == second


# --- an app and its workload together ---------------------------------------------------------


def test_app_and_workload_walk_the_seed_flow_together() -> None:
    app = World(app_version(pre_tasks=["notify"], workloads=[("frontend", "0.1.0")]))
    wv = World(workload_version(pre_evals=["cpu"]))
    timeline: list[str] = []

    def run(world: World, now: datetime) -> None:
        before = len(world.events)
        world.step(now)
        timeline.extend(e.reason for e in world.events[before:])

    def tick(seconds: int) -> None:
        # the controllers' watches: a WorkloadVersion change wakes its AppVersion and vice versa
        now = T0 + timedelta(seconds=seconds)
        app.workload_versions["podtato-frontend-0.1.0"] = wv.obj
        run(app, now)
        wv.app = app.obj
        run(wv, now)
        app.workload_versions["podtato-frontend-0.1.0"] = wv.obj
        run(app, now)

    tick(0)
    assert wv.status.get("currentPhase") is None  # gated on the app's pre-deployment
    app.set_task("notify", "Succeeded")
    tick(1)
    assert wv.status["currentPhase"] == "WorkloadPreDeployEvaluations"
    assert not gate_open(wv.obj)
    wv.set_evaluation("cpu", "Succeeded")
    tick(2)
    assert gate_open(wv.obj)
    wv.rollout = Rollout(desired=1, available=1)
    tick(3)
    assert app.status["status"] == "Succeeded" and wv.status["status"] == "Succeeded"
    flow = [
        r for r in timeline if r.endswith(("Started", "Succeeded", "Errored")) or r == "Completed"
    ]
    assert flow == [
        "AppPreDeployTasksStarted",
        "AppPreDeployTasksSucceeded",
        "AppPreDeployEvaluationsStarted",
        "AppPreDeployEvaluationsSucceeded",
        "AppDeployStarted",
        "WorkloadPreDeployTasksStarted",
        "WorkloadPreDeployTasksSucceeded",
        "WorkloadPreDeployEvaluationsStarted",
        "WorkloadPreDeployEvaluationsSucceeded",
        "WorkloadDeployStarted",
        "WorkloadDeploySucceeded",
        "WorkloadPostDeployTasksStarted",
        "WorkloadPostDeployTasksSucceeded",
        "WorkloadPostDeployEvaluationsStarted",
        "WorkloadPostDeployEvaluationsSucceeded",
        "Completed",
        "AppDeploySucceeded",
        "AppPostDeployTasksStarted",
        "AppPostDeployTasksSucceeded",
        "AppPostDeployEvaluationsStarted",
        "AppPostDeployEvaluationsSucceeded",
        "Completed",
    ]
    app_deploy = app.status["phaseTraceIDs"]["AppDeploy"]["traceparent"]
    assert wv.status["phaseTraceIDs"]["root"]["parent"] == app_deploy
    assert wv.status["phaseTraceIDs"]["root"]["traceparent"].split("-")[1] == trace_id_for(
        "uid-app-1"
    )
