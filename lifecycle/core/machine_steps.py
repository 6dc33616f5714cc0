"""What each kind of phase waits for: children (tasks, evaluations), the rollout, the workloads.

Role: the per-kind step of the walk in lifecycle.core.machine. Each runner reads the object's spec
and its related objects from a `Context`, writes the phase's item list through the
`StatusDraft`, queues create/event actions, and returns the phase's `Outcome`.

Invariants: a child is looked up by its deterministic name (naming.child_name), so a child
requested once is found again after a restart; a child is requested in every decision until
it is seen (creating is idempotent, its event key the same). Events for a child's state change
carry the new state in their key: one event per transition. Deadlines are the only requeues:
a missing definition's bounded wait and WorkloadDeploy's observability timeout.

Must not: read a clock, log, or import anything but the standard library and lifecycle's pure modules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import assert_never

from lifecycle.core.actions import CreateEvaluation, CreateTask, EventType
from lifecycle.core.bodies import (
    KeptnAppVersionBody,
    KeptnAppVersionSpec,
    KeptnEvaluationBody,
    KeptnTaskBody,
    KeptnWorkloadVersionBody,
    KeptnWorkloadVersionSpec,
    TaskContext,
)
from lifecycle.core.children import Child, text
from lifecycle.core.machine_draft import StatusDraft, read_time
from lifecycle.core.naming import child_name, workload_name, workload_version_name
from lifecycle.core.phases import Phase, PhaseKind, PhaseSpec, State, aggregate_state

__all__ = ["Context", "Outcome", "Rollout", "VersionBody", "run_phase"]

VersionBody = KeptnAppVersionBody | KeptnWorkloadVersionBody
"""What the machine walks: a KeptnAppVersion or a KeptnWorkloadVersion."""


@dataclass(frozen=True, slots=True)
class Rollout:
    """The rollout of a WorkloadVersion's ReplicaSet/StatefulSet/DaemonSet, reduced to two numbers.

    Ready as KLT has it: desired (spec.replicas / desiredNumberScheduled) equals available
    (status.availableReplicas / numberReady).
    """

    desired: int
    available: int

    @property
    def ready(self) -> bool:
        """True when every desired replica is available."""
        return self.desired == self.available


@dataclass(frozen=True, slots=True)
class Outcome:
    """A phase's state after this decision and, when it failed, why."""

    state: State
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Context:
    """Everything a runner may read: the object, its related objects, the settings and `now`."""

    app: KeptnAppVersionSpec | None
    """The spec of the AppVersion walked; None for a WorkloadVersion (exactly one is set)."""
    workload: KeptnWorkloadVersionSpec | None
    uid: str
    now: datetime
    block_deployment: bool
    observability_timeout: timedelta
    definition_wait: timedelta
    tasks: Mapping[str, KeptnTaskBody]
    evaluations: Mapping[str, KeptnEvaluationBody]
    missing_definitions: frozenset[str]
    workload_versions: Mapping[str, KeptnWorkloadVersionBody] = field(default_factory=dict)
    rollout: Rollout | None = None

    @property
    def is_app(self) -> bool:
        return self.app is not None

    @property
    def spec(self) -> KeptnAppVersionSpec | KeptnWorkloadVersionSpec:
        return self.app if self.app is not None else (self.workload or {})

    def identity(self) -> tuple[str, str, str, str]:
        """(appName, appVersion, workloadName, workloadVersion) as KLT fills a child's fields."""
        if self.app is not None:
            return text(self.app.get("appName")), text(self.app.get("version")), "", ""
        spec = self.workload or {}
        workload = text(spec.get("workloadName"))
        return text(spec.get("app")), "", workload, text(spec.get("version"))


def _names(value: object) -> list[str]:
    """The definition names of a spec list, in order, without duplicates or blanks."""
    if not isinstance(value, list):
        return []
    seen: dict[str, None] = {}
    for item in value:
        if isinstance(item, str) and item.strip():
            seen.setdefault(item.strip(), None)
    return list(seen)


def _duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    return f"{seconds // 60}m{seconds % 60}s" if seconds >= 60 else f"{seconds}s"


def run_phase(row: PhaseSpec, draft: StatusDraft, ctx: Context, phase_start: datetime) -> Outcome:
    """Advance one phase as far as the snapshot allows and return its state."""
    match row.kind:
        case PhaseKind.TASKS | PhaseKind.EVALUATIONS:
            return _run_children(row, draft, ctx, phase_start)
        case PhaseKind.DEPLOY:
            return _run_deploy(draft, ctx)
        case PhaseKind.WORKLOADS:
            return _run_workloads(row, draft, ctx)
        case _:  # pragma: no cover - mypy proves the match exhaustive
            assert_never(row.kind)


def _task_context(row: PhaseSpec, draft: StatusDraft, ctx: Context, tp: str) -> TaskContext:
    """KeptnTask spec.context as KLT's GenerateTask fills it, plus the phase span's traceparent."""
    from_app = {} if ctx.is_app else _string_map(draft.get("appContextMetadata"))
    metadata = {**from_app, **_string_map(ctx.spec.get("metadata")), "traceparent": tp}
    app, app_version, workload, workload_version = ctx.identity()
    return {
        "workloadName": workload,
        "appName": app,
        "appVersion": app_version,
        "workloadVersion": workload_version,
        "taskType": str(row.check_type),
        "objectType": "App" if ctx.is_app else "Workload",
        "metadata": metadata,
    }


def _string_map(value: object) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): str(v) for k, v in value.items()}


def _request_child(
    row: PhaseSpec, draft: StatusDraft, ctx: Context, name: str, definition: str, announce: bool
) -> None:
    """Ask for a child; its event only the first time (the action repeats until the child is seen)."""
    assert row.check_type is not None
    tp = draft.carrier(row.phase).get("traceparent", "")
    app, app_version, workload, workload_version = ctx.identity()
    if row.kind is PhaseKind.TASKS:
        draft.act(
            CreateTask(
                name=name,
                definition=definition,
                phase=row.phase,
                check_type=row.check_type,
                context=_task_context(row, draft, ctx, tp),
            )
        )
        reason, phase, noun = "CreateTask", Phase.CREATE_TASK, "KeptnTask"
    else:
        draft.act(
            CreateEvaluation(
                name=name,
                definition=definition,
                phase=row.phase,
                check_type=row.check_type,
                workload=workload,
                workload_version=workload_version,
                app_name=app,
                app_version=app_version,
                traceparent=tp,
            )
        )
        reason, phase, noun = "CreateEvaluation", Phase.CREATE_EVALUATION, "KeptnEvaluation"
    if announce:
        draft.emit(
            reason,
            EventType.NORMAL,
            phase,
            f"created {noun} {name} for definition {definition} ({row.phase})",
            f"{reason}/{name}",
        )


def _run_children(
    row: PhaseSpec, draft: StatusDraft, ctx: Context, phase_start: datetime
) -> Outcome:
    assert row.items_field is not None and row.spec_field is not None
    assert row.check_type is not None
    is_task = row.kind is PhaseKind.TASKS
    children = (
        {n: Child.of_task(t) for n, t in ctx.tasks.items()}
        if is_task
        else {n: Child.of_evaluation(e) for n, e in ctx.evaluations.items()}
    )
    previous = {
        text(item.get("definitionName")): item
        for item in draft.items(row.items_field)
        if isinstance(item, Mapping)
    }
    definitions = _names(ctx.spec.get(row.spec_field))
    items: list[dict[str, object]] = []
    states: list[State] = []
    problems: list[str] = []
    for definition in definitions:
        name = child_name(row.check_type, definition, ctx.uid, row.phase)
        item: dict[str, object] = {"definitionName": definition, "name": name}
        child = children.get(name) or _child_named_otherwise(children, definition, row.check_type)
        if child is not None:
            item["name"] = name = child.name or name
        if child is None:
            first = definition not in previous
            state = _await_child(row, draft, ctx, name, definition, phase_start, problems, first)
        else:
            state = child.state
            item.update(child.times)
            before = State.parse((previous.get(definition) or {}).get("status"))
            if definition not in previous or before != state:
                noun = "task" if is_task else "evaluation"
                reason = "ReconcileTask" if is_task else "ReconcileEvaluation"
                draft.emit(
                    reason,
                    EventType.NORMAL,
                    Phase.RECONCILE_TASK if is_task else Phase.RECONCILE_EVALUATION,
                    f"{noun} {name} status changed from {before} to {state}",
                    f"{reason}/{name}/{state}",
                )
            if state in (State.FAILED, State.DEPRECATED):
                problems.append(
                    f"{name} (definition {definition}) {state}"
                    + (f": {child.message}" if child.message else "")
                )
        item["status"] = str(state)
        items.append(item)
        states.append(state)
    draft.set(row.items_field, items)
    state = aggregate_state(states, len(definitions), block_deployment=ctx.block_deployment)
    return Outcome(state, "; ".join(problems))


def _child_named_otherwise(
    children: Mapping[str, Child], definition: str, check_type: str
) -> Child | None:
    """Our child of `definition` and `check_type` under an alternate name (its first name was
    taken by another parent's child: naming.alternate_child_name)."""
    for child in children.values():
        if child.definition == definition and child.check_type == check_type:
            return child
    return None


def _await_child(
    row: PhaseSpec,
    draft: StatusDraft,
    ctx: Context,
    name: str,
    definition: str,
    phase_start: datetime,
    problems: list[str],
    first: bool,
) -> State:
    """A child not seen yet: request it, or wait a bounded time for its missing definition."""
    if definition not in ctx.missing_definitions:
        _request_child(row, draft, ctx, name, definition, first)
        return State.PENDING
    deadline = phase_start + ctx.definition_wait
    if ctx.now >= deadline:
        noun = "KeptnTaskDefinition" if row.kind is PhaseKind.TASKS else "KeptnEvaluationDefinition"
        problems.append(
            f"{noun} {definition} was not found within {_duration(ctx.definition_wait)}"
        )
        return State.FAILED
    draft.wake_at(deadline)
    return State.PENDING


def _run_deploy(draft: StatusDraft, ctx: Context) -> Outcome:
    """WorkloadDeploy: open the gate, wait for the rollout, fail after the observability timeout."""
    start = read_time(draft.get("deploymentStartTime"))
    if start is None:
        start = ctx.now
        draft.set_time("deploymentStartTime", start)  # the gate opens (machine.gate_open)
    rollout = ctx.rollout
    if rollout is not None and rollout.ready:
        return Outcome(State.SUCCEEDED)
    deadline = start + ctx.observability_timeout
    reference = (ctx.workload or {}).get("resourceReference", {})
    target = f"{text(reference.get('kind')) or 'workload'} {text(reference.get('name'))}".strip()
    progress = (
        f"{target} was not found"
        if rollout is None
        else f"{rollout.available} of {rollout.desired} replicas of {target} available"
    )
    if ctx.now >= deadline:
        reason = f"has reached timeout ({_duration(ctx.observability_timeout)}): {progress}"
        draft.emit(
            "WorkloadDeployReconcileErrored",
            EventType.WARNING,
            Phase.WORKLOAD_DEPLOY,
            reason,
            "WorkloadDeployReconcileErrored",
        )
        return Outcome(State.FAILED, reason)
    carrier = draft.carrier(str(Phase.WORKLOAD_DEPLOY))
    seen = f"{rollout.available}/{rollout.desired}" if rollout is not None else ""
    if rollout is not None and carrier and carrier.get("replicas") != seen:
        # the carrier remembers the last rollout reported, so each change is reported once
        carrier["replicas"] = seen
        draft.set_carrier(str(Phase.WORKLOAD_DEPLOY), carrier)
        draft.emit(
            "WorkloadDeployReconcile",
            EventType.NORMAL,
            Phase.WORKLOAD_DEPLOY,
            progress,
            f"WorkloadDeployReconcile/{rollout.available}/{rollout.desired}",
        )
    draft.wake_at(deadline)
    return Outcome(State.PROGRESSING)


def _run_workloads(row: PhaseSpec, draft: StatusDraft, ctx: Context) -> Outcome:
    """AppDeploy: fold the states of the app's WorkloadVersions (`<app>-<workload>-<version>`)."""
    assert row.items_field is not None
    spec = ctx.app or {}
    app = text(spec.get("appName"))
    refs = [r for r in spec.get("workloads") or [] if isinstance(r, Mapping)]
    previous = {
        (text(w.get("name")), text(w.get("version")))
        for item in draft.items(row.items_field)
        if isinstance(item, Mapping) and isinstance(w := item.get("workload"), Mapping)
    }
    items: list[dict[str, object]] = []
    states: list[State] = []
    problems: list[str] = []
    for ref in refs:
        wl, version = text(ref.get("name")), text(ref.get("version"))
        name = workload_version_name(workload_name(app, wl), version)
        found = ctx.workload_versions.get(name)
        if found is None:
            state = State.PENDING
            if (wl, version) not in previous:
                draft.emit(
                    "ReconcileWorkloadNotFound",
                    EventType.WARNING,
                    Phase.RECONCILE_WORKLOAD,
                    f"could not find KeptnWorkloadVersion for KeptnWorkload: {wl} (yet)",
                    f"ReconcileWorkloadNotFound/{name}",
                )
        else:
            state = State.parse((found.get("status") or {}).get("status"))
            if state in (State.FAILED, State.DEPRECATED):
                phase = text((found.get("status") or {}).get("currentPhase"))
                problems.append(f"{name} {state}" + (f" in {phase}" if phase else ""))
        items.append({"workload": {"name": wl, "version": version}, "status": str(state)})
        states.append(state)
    draft.set(row.items_field, items)
    state = aggregate_state(states, len(refs), block_deployment=ctx.block_deployment)
    return Outcome(state, "; ".join(problems))
