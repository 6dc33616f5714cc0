"""Phases, states, the phase tables and aggregate_state (KLT GetOverallState, keptn.md §2.1, §2.4)."""

from __future__ import annotations

import pytest

from lifecycle.core.phases import (
    APP_PHASES,
    LONG_NAMES,
    WORKLOAD_PHASES,
    CheckType,
    Phase,
    PhaseKind,
    State,
    aggregate_state,
    phases_after,
    walk,
)

S, F, P, G, U, D, W = (
    State.SUCCEEDED,
    State.FAILED,
    State.PENDING,
    State.PROGRESSING,
    State.UNKNOWN,
    State.DEPRECATED,
    State.WARNING,
)


@pytest.mark.parametrize(
    ("states", "expected", "blocking", "result"),
    [
        ((), 0, True, S),  # an empty phase passes at once
        ((S, S), 2, True, S),
        ((S,), 2, True, P),  # fewer children known than expected
        ((S, G), 2, True, G),
        ((S, P), 2, True, P),
        ((S, U), 2, True, U),
        ((G, P), 2, True, G),
        ((F, G), 2, True, F),  # blocking: fail fast
        ((D, S), 2, True, F),
        ((S, W), 2, True, W),
        ((F, S), 2, False, W),  # non-blocking: a failure is a warning...
        ((F, G), 2, False, G),  # ...once every sibling has finished
        ((F,), 2, False, P),
        ((D, S), 2, False, W),
    ],
)
def test_aggregate_state(
    states: tuple[State, ...], expected: int, blocking: bool, result: State
) -> None:
    assert aggregate_state(states, expected, block_deployment=blocking) is result


@pytest.mark.parametrize(
    ("state", "completed", "passes"),
    [(S, True, True), (W, True, True), (F, True, False), (D, True, False),
     (P, False, False), (G, False, False), (U, False, False)],
)  # fmt: skip
def test_state_predicates(state: State, completed: bool, passes: bool) -> None:
    assert state.is_completed is completed
    assert state.passes is passes


@pytest.mark.parametrize(
    ("raw", "state"),
    [(None, P), ("", P), ("Succeeded", S), ("Cancelled", U), (3, U), ("Warning", W)],
)
def test_state_parse(raw: object, state: State) -> None:
    assert State.parse(raw) is state


def test_every_phase_has_a_long_name() -> None:
    assert set(LONG_NAMES) == set(Phase)
    assert LONG_NAMES[Phase.APP_PRE_DEPLOY_TASKS] == "App Pre-Deployment Tasks"
    assert LONG_NAMES[Phase.WORKLOAD_DEPLOY] == "Workload Deployment"
    assert LONG_NAMES[Phase.RECONCILE_WORKLOAD] == "Reconcile Workloads"
    assert len(Phase) == 26


def test_app_table_is_klt_order_with_its_fields() -> None:
    assert [(r.phase, r.status_field, r.items_field, r.spec_field, r.kind, r.check_type)
            for r in APP_PHASES] == [
        (Phase.APP_PRE_DEPLOY_TASKS, "preDeploymentStatus", "preDeploymentTaskStatus",
         "preDeploymentTasks", PhaseKind.TASKS, CheckType.PRE),
        (Phase.APP_PRE_DEPLOY_EVALUATIONS, "preDeploymentEvaluationStatus",
         "preDeploymentEvaluationTaskStatus", "preDeploymentEvaluations", PhaseKind.EVALUATIONS,
         CheckType.PRE_EVAL),
        (Phase.APP_DEPLOY, "workloadOverallStatus", "workloadStatus", "workloads",
         PhaseKind.WORKLOADS, None),
        (Phase.APP_POST_DEPLOY_TASKS, "postDeploymentStatus", "postDeploymentTaskStatus",
         "postDeploymentTasks", PhaseKind.TASKS, CheckType.POST),
        (Phase.APP_POST_DEPLOY_EVALUATIONS, "postDeploymentEvaluationStatus",
         "postDeploymentEvaluationTaskStatus", "postDeploymentEvaluations",
         PhaseKind.EVALUATIONS, CheckType.POST_EVAL),
        (Phase.PROMOTION_TASKS, "promotionStatus", "promotionTaskStatus", "promotionTasks",
         PhaseKind.TASKS, CheckType.PROMOTION),
    ]  # fmt: skip


def test_workload_table_is_klt_order() -> None:
    assert [r.phase for r in WORKLOAD_PHASES] == [
        Phase.WORKLOAD_PRE_DEPLOY_TASKS,
        Phase.WORKLOAD_PRE_DEPLOY_EVALUATIONS,
        Phase.WORKLOAD_DEPLOY,
        Phase.WORKLOAD_POST_DEPLOY_TASKS,
        Phase.WORKLOAD_POST_DEPLOY_EVALUATIONS,
    ]
    assert WORKLOAD_PHASES[2].status_field == "deploymentStatus"
    assert all(r.phase is not Phase.PROMOTION_TASKS for r in WORKLOAD_PHASES)


def test_walk_drops_promotion_unless_enabled() -> None:
    assert walk(APP_PHASES, promotion_tasks_enabled=True) == APP_PHASES
    assert walk(APP_PHASES, promotion_tasks_enabled=False) == APP_PHASES[:-1]
    assert walk(WORKLOAD_PHASES, promotion_tasks_enabled=True) == WORKLOAD_PHASES


@pytest.mark.parametrize(
    ("phase", "remaining"),
    [
        (Phase.APP_PRE_DEPLOY_TASKS, 5),
        (Phase.APP_PRE_DEPLOY_EVALUATIONS, 4),
        (Phase.APP_DEPLOY, 3),
        (Phase.APP_POST_DEPLOY_TASKS, 2),
        (Phase.APP_POST_DEPLOY_EVALUATIONS, 1),
        (Phase.PROMOTION_TASKS, 0),
        (None, 6),
        (Phase.WORKLOAD_DEPLOY, 0),  # not in this table
    ],
)
def test_phases_after_is_the_deprecation_table(phase: Phase | None, remaining: int) -> None:
    rows = phases_after(APP_PHASES, phase)
    assert len(rows) == remaining
    assert rows == APP_PHASES[len(APP_PHASES) - remaining :] or remaining == 0
