"""Phases and states of the deployment flow, the phase tables, and the rule that folds child states.

Role: the vocabulary every other module speaks. `State` is KLT's KeptnState, `Phase` every
ShortName of KLT's `phases.go` (used for `currentPhase`, event reasons, span names and
`phaseTraceIDs` keys), `LONG_NAMES` the event-message / CloudEvent prefixes. `APP_PHASES` and
`WORKLOAD_PHASES` are the walks of a KeptnAppVersion and a KeptnWorkloadVersion in KLT order:
each row says which status field the phase drives, which ItemStatus list it fills, which spec
list it reads, what kind of work it is and which check type its children carry.

Invariants: the tables are ordered; a phase's "remaining phases" are the rows after it.
`aggregate_state` is KLT's GetOverallState (+Blocked) with one deliberate fix: in non-blocking
mode a failed child turns the phase into Warning only once every child has finished, instead of
completing the phase while siblings still run.

Must not: import anything but the standard library, read a clock, or log.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum, StrEnum
from types import MappingProxyType

__all__ = [
    "APP_PHASES",
    "LONG_NAMES",
    "WORKLOAD_PHASES",
    "CheckType",
    "Phase",
    "PhaseKind",
    "PhaseSpec",
    "State",
    "aggregate_state",
    "phases_after",
    "walk",
]


class State(StrEnum):
    """KLT's KeptnState: the state of a phase, a child, or a whole object."""

    PENDING = "Pending"
    PROGRESSING = "Progressing"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    UNKNOWN = "Unknown"
    DEPRECATED = "Deprecated"
    WARNING = "Warning"

    @property
    def is_completed(self) -> bool:
        """True for the states KLT's IsCompleted() counts as done: Succeeded, Failed, Deprecated, Warning."""
        return self in _COMPLETED

    @property
    def passes(self) -> bool:
        """True when a phase in this state lets the flow go on (Succeeded, or Warning in non-blocking mode)."""
        return self in (State.SUCCEEDED, State.WARNING)

    @classmethod
    def parse(cls, value: object) -> State:
        """Read a state from a status field: missing or "" is Pending, anything unrecognised Unknown."""
        if value is None or value == "":
            return cls.PENDING
        try:
            return cls(str(value))
        except ValueError:
            return cls.UNKNOWN


_COMPLETED = frozenset({State.SUCCEEDED, State.FAILED, State.DEPRECATED, State.WARNING})


class Phase(StrEnum):
    """Every ShortName of KLT's phases.go, with its LongName (Event messages, CloudEvents)."""

    long_name: str

    def __new__(cls, short_name: str, long_name: str = "") -> Phase:
        # long_name's default only lets a lookup by value, Phase("AppDeploy"), type-check
        member = str.__new__(cls, short_name)
        member._value_ = short_name
        member.long_name = long_name
        return member

    WORKLOAD_PRE_DEPLOY_TASKS = "WorkloadPreDeployTasks", "Workload Pre-Deployment Tasks"
    WORKLOAD_POST_DEPLOY_TASKS = "WorkloadPostDeployTasks", "Workload Post-Deployment Tasks"
    WORKLOAD_PRE_DEPLOY_EVALUATIONS = (
        "WorkloadPreDeployEvaluations",
        "Workload Pre-Deployment Evaluations",
    )
    WORKLOAD_POST_DEPLOY_EVALUATIONS = (
        "WorkloadPostDeployEvaluations",
        "Workload Post-Deployment Evaluations",
    )
    WORKLOAD_DEPLOY = "WorkloadDeploy", "Workload Deployment"
    APP_PRE_DEPLOY_TASKS = "AppPreDeployTasks", "App Pre-Deployment Tasks"
    APP_POST_DEPLOY_TASKS = "AppPostDeployTasks", "App Post-Deployment Tasks"
    APP_PRE_DEPLOY_EVALUATIONS = "AppPreDeployEvaluations", "App Pre-Deployment Evaluations"
    APP_POST_DEPLOY_EVALUATIONS = "AppPostDeployEvaluations", "App Post-Deployment Evaluations"
    PROMOTION_TASKS = "PromotionTasks", "Promotion Tasks"
    APP_DEPLOY = "AppDeploy", "App Deployment"
    RECONCILE_EVALUATION = "ReconcileEvaluation", "Reconcile Evaluation"
    RECONCILE_TASK = "ReconcileTask", "Reconcile Task"
    RECONCILE_WORKLOAD = "ReconcileWorkload", "Reconcile Workloads"
    CREATE_EVALUATION = "CreateEvaluation", "Create Evaluation"
    CREATE_TASK = "CreateTask", "Create Task"
    CREATE_APP_CREATION_REQUEST = "CreateAppCreationRequest", "Create AppCreationRequest"
    CREATE_WORKLOAD = "CreateWorkload", "Create Workload"
    UPDATE_WORKLOAD = "UpdateWorkload", "Update Workload"
    CREATE_WORKLOAD_VERSION = "CreateWorkloadVersion", "Create WorkloadVersion"
    CREATE_APP_VERSION = "CreateAppVersion", "Create AppVersion"
    DEPRECATE_APP_VERSION = "DeprecateAppVersion", "Deprecate AppVersion"
    APP_COMPLETED = "AppCompleted", "App Completed"
    WORKLOAD_COMPLETED = "WorkloadCompleted", "Workload Completed"
    COMPLETED = "Completed", "Completed"
    DEPRECATED = "Deprecated", "Deprecated"


LONG_NAMES: Mapping[Phase, str] = MappingProxyType({phase: phase.long_name for phase in Phase})


class CheckType(StrEnum):
    """`spec.checkType` of a KeptnTask / KeptnEvaluation; also the prefix of its name."""

    PRE = "pre"
    POST = "post"
    PRE_EVAL = "pre-eval"
    POST_EVAL = "post-eval"
    PROMOTION = "promotion"


class PhaseKind(Enum):
    """What a phase waits for."""

    TASKS = "tasks"
    EVALUATIONS = "evaluations"
    DEPLOY = "deploy"
    WORKLOADS = "workloads"


@dataclass(frozen=True, slots=True)
class PhaseSpec:
    """One row of a walk: the phase, the status fields it writes and the spec list it reads."""

    phase: Phase
    status_field: str
    """The `status.<field>` holding the phase's state (preDeploymentStatus, ...)."""
    items_field: str | None
    """The ItemStatus list (preDeploymentTaskStatus, ...) or workloadStatus for AppDeploy; None for WorkloadDeploy."""
    spec_field: str | None
    """The `spec.<field>` naming the definitions to run (preDeploymentTasks, ...); None for deploy phases."""
    kind: PhaseKind
    check_type: CheckType | None


# A phase of tasks or evaluations has the fields of its check type, in both walks:
# check type -> (status field, ItemStatus list, spec list)
_CHILD_FIELDS: Mapping[CheckType, tuple[str, str, str]] = MappingProxyType(
    {
        CheckType.PRE: ("preDeploymentStatus", "preDeploymentTaskStatus", "preDeploymentTasks"),
        CheckType.PRE_EVAL: (
            "preDeploymentEvaluationStatus",
            "preDeploymentEvaluationTaskStatus",
            "preDeploymentEvaluations",
        ),
        CheckType.POST: ("postDeploymentStatus", "postDeploymentTaskStatus", "postDeploymentTasks"),
        CheckType.POST_EVAL: (
            "postDeploymentEvaluationStatus",
            "postDeploymentEvaluationTaskStatus",
            "postDeploymentEvaluations",
        ),
        CheckType.PROMOTION: ("promotionStatus", "promotionTaskStatus", "promotionTasks"),
    }
)


def _children(phase: Phase, check: CheckType) -> PhaseSpec:
    """The row of a phase of tasks or evaluations."""
    status, items, spec = _CHILD_FIELDS[check]
    evaluations = check in (CheckType.PRE_EVAL, CheckType.POST_EVAL)
    kind = PhaseKind.EVALUATIONS if evaluations else PhaseKind.TASKS
    return PhaseSpec(phase, status, items, spec, kind, check)


APP_PHASES: tuple[PhaseSpec, ...] = (
    _children(Phase.APP_PRE_DEPLOY_TASKS, CheckType.PRE),
    _children(Phase.APP_PRE_DEPLOY_EVALUATIONS, CheckType.PRE_EVAL),
    PhaseSpec(
        Phase.APP_DEPLOY,
        "workloadOverallStatus",
        "workloadStatus",
        "workloads",
        PhaseKind.WORKLOADS,
        None,
    ),
    _children(Phase.APP_POST_DEPLOY_TASKS, CheckType.POST),
    _children(Phase.APP_POST_DEPLOY_EVALUATIONS, CheckType.POST_EVAL),
    _children(Phase.PROMOTION_TASKS, CheckType.PROMOTION),
)

WORKLOAD_PHASES: tuple[PhaseSpec, ...] = (
    _children(Phase.WORKLOAD_PRE_DEPLOY_TASKS, CheckType.PRE),
    _children(Phase.WORKLOAD_PRE_DEPLOY_EVALUATIONS, CheckType.PRE_EVAL),
    PhaseSpec(Phase.WORKLOAD_DEPLOY, "deploymentStatus", None, None, PhaseKind.DEPLOY, None),
    _children(Phase.WORKLOAD_POST_DEPLOY_TASKS, CheckType.POST),
    _children(Phase.WORKLOAD_POST_DEPLOY_EVALUATIONS, CheckType.POST_EVAL),
)


def walk(table: tuple[PhaseSpec, ...], *, promotion_tasks_enabled: bool) -> tuple[PhaseSpec, ...]:
    """The phases actually run: PromotionTasks only when promotion tasks are enabled (KLT's env flag)."""
    return tuple(
        row for row in table if promotion_tasks_enabled or row.phase is not Phase.PROMOTION_TASKS
    )


def phases_after(table: tuple[PhaseSpec, ...], phase: Phase | None) -> tuple[PhaseSpec, ...]:
    """The rows after `phase` (all rows when phase is None): what a failure there deprecates (KLT §2.5)."""
    if phase is None:
        return table
    for index, row in enumerate(table):
        if row.phase is phase:
            return table[index + 1 :]
    return ()


def aggregate_state(
    states: Iterable[State], expected: int, *, block_deployment: bool = True
) -> State:
    """Fold the children's states into the phase's state (KLT GetOverallState / ...BlockedDeployment).

    Any Failed or Deprecated child fails the phase at once (blocking mode); otherwise the phase is
    Progressing, Pending or Unknown while any child is; Pending while fewer than `expected` children
    are known; Warning if a child warned; else Succeeded. Zero children expected: Succeeded.
    With `block_deployment=False` a failure becomes Warning once every child has finished.
    """
    seen = list(states)
    failed = any(s in (State.FAILED, State.DEPRECATED) for s in seen)
    if failed and block_deployment:
        return State.FAILED
    for waiting in (State.PROGRESSING, State.PENDING, State.UNKNOWN):
        if waiting in seen:
            return waiting
    if len(seen) < expected:
        return State.PENDING
    if failed or State.WARNING in seen:
        return State.WARNING
    return State.SUCCEEDED
