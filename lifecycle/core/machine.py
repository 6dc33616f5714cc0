"""The deployment flow as one pure, table-driven function: `decide(snapshot, now, config)`.

Role: given a KeptnAppVersion or KeptnWorkloadVersion body, its children (KeptnTasks,
KeptnEvaluations found by their deterministic names), its related objects (an AppVersion's
WorkloadVersions; a WorkloadVersion's AppVersion and rollout) and `now`, return the merge
patch of `.status`, the side effects, and the one real deadline to look again at. The walks
are lifecycle.core.phases.APP_PHASES / WORKLOAD_PHASES in KLT order; a WorkloadVersion first passes
the app gate (its AppVersion's pre-deployment evaluations passed). Like KLT, a decision runs
through as many phases as are already done (empty phases pass at once).

Invariants:
- Failed, Succeeded, Deprecated (and Warning) objects are absorbing: decide() returns EMPTY.
- Phases only move forward; every phase that starts emits `<Phase>Started` once and ends with
  exactly one `<Phase>Succeeded` or `<Phase>Errored` (event keys name the transition).
- A failed phase (blocking mode) fails the object, deprecates the later phases (KLT §2.5) and
  leaves currentPhase on the failed phase; in non-blocking mode it becomes Warning and the
  flow goes on.
- Pods are schedulable (`gate_open`) once the pre-deployment phases passed: deploymentStatus
  Progressing, Succeeded or Warning, or Failed (WorkloadDeploy timeout) after passed
  pre-deployment phases; a failed or deprecated pre-deployment keeps them gated (KLT #3920
  releases them).
- Span data lives in status.phaseTraceIDs: per phase and under "root" a W3C traceparent derived
  from the uid, startTime, and once ended endTime and state (and reason on failure); a
  WorkloadVersion's root carries its app's AppDeploy traceparent as "parent" and shares its trace.

Must not: await, read a clock, log, draw random numbers, or call an API.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from lifecycle.core.actions import Action, EventType, Finished, PhaseEnded
from lifecycle.core.bodies import (
    JSON,
    KeptnAppVersionBody,
    KeptnEvaluationBody,
    KeptnTaskBody,
    KeptnWorkloadVersionBody,
)
from lifecycle.core.machine_draft import StatusDraft, apply_merge_patch, read_time
from lifecycle.core.machine_steps import Context, Outcome, Rollout, VersionBody, run_phase
from lifecycle.core.meta import metadata_of
from lifecycle.core.naming import (
    format_time,
    parse_traceparent,
    span_id_for,
    trace_id_for,
    traceparent,
)
from lifecycle.core.phases import (
    APP_PHASES,
    WORKLOAD_PHASES,
    Phase,
    PhaseSpec,
    State,
    phases_after,
    walk,
)

__all__ = [
    "EMPTY",
    "ROOT_KEY",
    "AppVersionSnapshot",
    "Decision",
    "MachineConfig",
    "Rollout",
    "Snapshot",
    "WorkloadVersionSnapshot",
    "apply_merge_patch",
    "decide",
    "deprecate",
    "gate_open",
]

_PHASE_NAMES = frozenset(str(p) for p in Phase)
ROOT_KEY = "root"
"""phaseTraceIDs key of the object's own (root) span."""


@dataclass(frozen=True, slots=True)
class MachineConfig:
    """The settings of the flow (KeptnConfig plus the operator's flags)."""

    block_deployment: bool = True
    """KeptnConfig.spec.blockDeployment: False turns failed task/evaluation phases into Warning."""
    observability_timeout: timedelta = timedelta(minutes=5)
    """KeptnConfig.spec.observabilityTimeout: how long WorkloadDeploy waits for the rollout."""
    definition_wait: timedelta = timedelta(seconds=30)
    """How long a phase waits for a missing task/evaluation definition before it errors (KLT: forever)."""
    promotion_tasks_enabled: bool = False
    """PROMOTION_TASKS_ENABLED: run the AppVersion's PromotionTasks phase."""


@dataclass(frozen=True, slots=True)
class AppVersionSnapshot:
    """A KeptnAppVersion and what its walk reads; children keyed by their names."""

    obj: KeptnAppVersionBody
    tasks: Mapping[str, KeptnTaskBody] = field(default_factory=dict)
    evaluations: Mapping[str, KeptnEvaluationBody] = field(default_factory=dict)
    workload_versions: Mapping[str, KeptnWorkloadVersionBody] = field(default_factory=dict)
    missing_definitions: frozenset[str] = frozenset()
    """Definition names the controller looked up and did not find (object and Keptn namespace)."""


@dataclass(frozen=True, slots=True)
class WorkloadVersionSnapshot:
    """A KeptnWorkloadVersion and what its walk reads."""

    obj: KeptnWorkloadVersionBody
    tasks: Mapping[str, KeptnTaskBody] = field(default_factory=dict)
    evaluations: Mapping[str, KeptnEvaluationBody] = field(default_factory=dict)
    missing_definitions: frozenset[str] = frozenset()
    app_version: KeptnAppVersionBody | None = None
    """The newest non-Deprecated KeptnAppVersion listing this workload and version (the controller picks it)."""
    rollout: Rollout | None = None
    """The referenced ReplicaSet/StatefulSet/DaemonSet's replicas; None when not found (yet)."""


Snapshot = AppVersionSnapshot | WorkloadVersionSnapshot


@dataclass(frozen=True, slots=True)
class Decision:
    """What to write (merge patch of .status; {} = no write), what to do, when to look again."""

    status: JSON = field(default_factory=dict)
    actions: tuple[Action, ...] = ()
    requeue_at: datetime | None = None


EMPTY = Decision()


def gate_open(workload_version: KeptnWorkloadVersionBody) -> bool:
    """True when the WorkloadVersion's pods may be scheduled: its pre-deployment phases passed.

    Deployment Progressing, Succeeded or Warning; or Failed (the WorkloadDeploy timeout) with
    both pre-deployment phases Succeeded or Warning, so pods created after a timeout (evicted,
    scaled up) still start. A failed pre-deployment phase deprecates the deployment: gated.
    """
    status = workload_version.get("status", {})
    deployment = State.parse(status.get("deploymentStatus"))
    if deployment in (State.PROGRESSING, State.SUCCEEDED, State.WARNING):
        return True
    passed = (State.SUCCEEDED, State.WARNING)
    return deployment is State.FAILED and all(
        State.parse(status.get(field)) in passed
        for field in ("preDeploymentStatus", "preDeploymentEvaluationStatus")
    )


def _finish(draft: StatusDraft) -> Decision:
    return Decision(
        status=draft.patch,
        actions=tuple(draft.actions),
        requeue_at=min(draft.deadlines) if draft.deadlines else None,
    )


def _is_workload(obj: VersionBody) -> bool:
    spec = obj.get("spec", {})
    return obj.get("kind") == "KeptnWorkloadVersion" or "workloadName" in spec


def _start_carrier(
    draft: StatusDraft, key: str, trace: str, uid: str, now: datetime, parent: str = ""
) -> None:
    """Start the span of ``key`` (``parent``: the traceparent it continues) unless it started."""
    if not draft.carrier(key):
        carrier = {
            "traceparent": traceparent(trace, span_id_for(uid, key)),
            "startTime": format_time(now),
        }
        draft.set_carrier(key, carrier | ({"parent": parent} if parent else {}))


def _end_carrier(
    draft: StatusDraft, key: str, state: State, now: datetime, reason: str = ""
) -> datetime | None:
    """Close a started carrier; returns its start time (None if it was never started or already ended)."""
    carrier = draft.carrier(key)
    if not carrier or "endTime" in carrier:
        return None
    carrier.update(endTime=format_time(now), state=str(state))
    if reason:
        carrier["reason"] = reason
    draft.set_carrier(key, carrier)
    return read_time(carrier.get("startTime")) or now


def _trace_of(carrier_traceparent: str, uid: str) -> str:
    """The trace id of a traceparent, else the one derived from the object's uid."""
    parsed = parse_traceparent(carrier_traceparent)
    return parsed[0] if parsed else trace_id_for(uid)


def _deprecate_rest(
    draft: StatusDraft, table: tuple[PhaseSpec, ...], after: Phase | None, why: str
) -> None:
    """Mark the not yet completed phases after `after` Deprecated (KLT DeprecateRemainingPhases).

    The Event says `why`; after a failed phase only when it deprecated something, while a
    superseded version (`after` None: the whole walk) always says so."""
    names = []
    for row in phases_after(table, after):
        if not State.parse(draft.get(row.status_field)).is_completed:
            draft.set(row.status_field, str(State.DEPRECATED))
            names.append(str(row.phase))
    if names:
        why += f"; remaining phases deprecated: {', '.join(names)}"
    if names or after is None:
        draft.emit("Deprecated", EventType.NORMAL, Phase.DEPRECATED, why, "Deprecated")


def _end_object(draft: StatusDraft, state: State, now: datetime) -> None:
    draft.set("status", str(state))
    if not draft.get("endTime"):
        draft.set_time("endTime", now)
    root_start = _end_carrier(draft, ROOT_KEY, state, now)
    start = read_time(draft.get("startTime")) or root_start or now
    draft.act(Finished(state=state, start=start, end=now))


def deprecate(obj: VersionBody, now: datetime) -> Decision:
    """Deprecate a version superseded by a newer revision (KLT §2.6): remaining phases Deprecated.

    Completed objects keep their outcome (KLT would overwrite a Succeeded or Failed result).
    """
    status = obj.get("status", {})
    if State.parse(status.get("status")).is_completed:
        return EMPTY
    table = WORKLOAD_PHASES if _is_workload(obj) else APP_PHASES
    draft = StatusDraft(status)
    current = str(draft.get("currentPhase") or "")
    if current in _PHASE_NAMES:
        start = _end_carrier(draft, current, State.DEPRECATED, now)
        if start is not None:
            draft.act(PhaseEnded(Phase(current), State.DEPRECATED, start, now))
    _deprecate_rest(draft, table, None, "superseded by a newer revision")
    _end_object(draft, State.DEPRECATED, now)
    return _finish(draft)


def _context(snapshot: Snapshot, now: datetime, config: MachineConfig) -> Context:
    obj = snapshot.obj
    meta = metadata_of(obj)
    # the uid seeds child names and trace ids; the name is a stand-in for bodies built by hand
    uid = meta.get("uid") or meta.get("name", "")
    app = snapshot if isinstance(snapshot, AppVersionSnapshot) else None
    workload = snapshot if isinstance(snapshot, WorkloadVersionSnapshot) else None
    return Context(
        app=app.obj.get("spec", {}) if app else None,
        workload=workload.obj.get("spec", {}) if workload else None,
        uid=uid,
        now=now,
        block_deployment=config.block_deployment,
        observability_timeout=config.observability_timeout,
        definition_wait=config.definition_wait,
        tasks=snapshot.tasks,
        evaluations=snapshot.evaluations,
        missing_definitions=snapshot.missing_definitions,
        workload_versions=app.workload_versions if app else {},
        rollout=workload.rollout if workload else None,
    )


def _pass_app_gate(snapshot: WorkloadVersionSnapshot, draft: StatusDraft, ctx: Context) -> bool:
    """KLT checkPreEvaluationStatusOfApp: go on only once the app's pre-deployment evaluations passed."""
    app = snapshot.app_version
    if app is None:
        if "startTime" not in draft.patch:
            return False  # reported in the first decision; the AppVersion's creation wakes us
        draft.emit(
            "AppPreDeployEvaluationsAppVersionNotFound",
            EventType.WARNING,
            Phase.APP_PRE_DEPLOY_EVALUATIONS,
            "has failed since app could not be found (waiting for it)",
            "AppGate/NotFound",
        )
        return False
    app_status = app.get("status", {})
    app_meta = metadata_of(app)
    pre_eval = State.parse(app_status.get("preDeploymentEvaluationStatus"))
    if not pre_eval.passes:
        # No status field records this wait, so the event repeats with one key per AppVersion:
        # the recorder turns the repeats into a single Event.
        if pre_eval in (State.FAILED, State.DEPRECATED):
            draft.emit(
                "AppPreDeployEvaluationsFailed",
                EventType.WARNING,
                Phase.APP_PRE_DEPLOY_EVALUATIONS,
                f"has failed since app has failed ({app_meta.get('name', '')}); pods stay gated",
                f"AppGate/Failed/{app_meta.get('uid') or app_meta.get('name', '')}",
            )
        return False
    metadata = app.get("spec", {}).get("metadata") or {}
    draft.set("appContextMetadata", {str(k): str(v) for k, v in metadata.items()})
    traces = app_status.get("phaseTraceIDs") or {}
    parent = traces.get(str(Phase.APP_DEPLOY), {}).get("traceparent", "")
    parent = parent if parse_traceparent(parent) else ""
    _start_carrier(draft, ROOT_KEY, _trace_of(parent, ctx.uid), ctx.uid, ctx.now, parent)
    return True


def _close_phase(
    row: PhaseSpec,
    outcome: Outcome,
    draft: StatusDraft,
    ctx: Context,
    phase_start: datetime,
) -> None:
    """Record a completed phase: carrier, PhaseEnded and its single Succeeded/Errored event."""
    state, phase, now = outcome.state, row.phase, ctx.now
    _end_carrier(draft, phase, state, now, outcome.reason)
    draft.act(PhaseEnded(phase=phase, state=state, start=phase_start, end=now))
    if state is State.SUCCEEDED:
        draft.emit(
            f"{phase}Succeeded", EventType.NORMAL, phase, "has succeeded", f"{phase}/Succeeded"
        )
        return
    text = "has failed" + (f": {outcome.reason}" if outcome.reason else "")
    if state is State.WARNING:
        text += " (non-blocking deployment: the flow goes on)"
    draft.emit(f"{phase}Errored", EventType.WARNING, phase, text, f"{phase}/Errored")


def decide(snapshot: Snapshot, now: datetime, config: MachineConfig) -> Decision:
    """Advance an AppVersion or WorkloadVersion as far as its snapshot allows."""
    obj = snapshot.obj
    status = obj.get("status", {})
    if State.parse(status.get("status")).is_completed:
        return EMPTY
    draft = StatusDraft(status)
    ctx = _context(snapshot, now, config)
    table = APP_PHASES if ctx.is_app else WORKLOAD_PHASES
    if not draft.get("startTime"):
        draft.set_time("startTime", now)
    if isinstance(snapshot, WorkloadVersionSnapshot):
        if not draft.get("currentPhase") and not _pass_app_gate(snapshot, draft, ctx):
            return _finish(draft)
    else:
        _start_carrier(draft, ROOT_KEY, trace_id_for(ctx.uid), ctx.uid, now)
    draft.set("status", str(State.PROGRESSING))
    trace = _trace_of(draft.carrier(ROOT_KEY).get("traceparent", ""), ctx.uid)
    for row in walk(table, promotion_tasks_enabled=config.promotion_tasks_enabled):
        if State.parse(draft.get(row.status_field)).passes:
            continue
        if draft.get("currentPhase") != row.phase:
            draft.set("currentPhase", str(row.phase))
            draft.emit(
                f"{row.phase}Started",
                EventType.NORMAL,
                row.phase,
                "has started",
                f"{row.phase}/Started",
            )
        _start_carrier(draft, row.phase, trace, ctx.uid, now)
        phase_start = read_time(draft.carrier(row.phase).get("startTime")) or now
        outcome = run_phase(row, draft, ctx, phase_start)
        draft.set(row.status_field, str(outcome.state))
        if not outcome.state.is_completed:
            return _finish(draft)
        _close_phase(row, outcome, draft, ctx, phase_start)
        if not outcome.state.passes:
            _deprecate_rest(draft, table, row.phase, f"{row.phase} failed")
            _end_object(draft, State.FAILED, now)
            return _finish(draft)
    draft.set("currentPhase", str(Phase.COMPLETED))
    completed = Phase.APP_COMPLETED if ctx.is_app else Phase.WORKLOAD_COMPLETED
    draft.emit("Completed", EventType.NORMAL, completed, "has succeeded", "Completed")
    _end_object(draft, State.SUCCEEDED, now)
    return _finish(draft)
