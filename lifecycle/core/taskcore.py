"""The KeptnTask rules as pure functions: task + definition + Job + ``now`` in, a Decision out.

Role (keptn.md §9), in this order:
1. a task whose ``status.status`` is final is done: no Job lookup, no new Job (KLT #3921 looks
   up the Job first and reruns a completed task whose Job was TTL-deleted);
2. a missing KeptnTaskDefinition (task namespace, then the Keptn namespace) is waited for until
   ``creationTimestamp + definition_wait`` (``CreateTaskNotFound``, once), then fails the task
   with ``could not find KeptnTaskDefinition: <def>``;
3. a recorded Job that disappeared before finishing fails the task (``JobNotFound``) instead of
   running it again (KLT recreates it); no Job yet -> ``StartJob``;
4. Job conditions: Complete or SuccessCriteriaMet -> Succeeded; Failed or FailureTarget -> Failed
   with the condition's reason and message (BackoffLimitExceeded, DeadlineExceeded); a running
   Job not yet recorded (crash before the status write) is adopted.

Starting a Job takes I/O between its steps, so the shell asks again at each: ``invalid_definition``
(the Job cannot be built), ``references_missing`` (a ConfigMap/Secret the Job mounts is missing:
said within seconds, failed after the definition wait), ``no_slot`` (``--max-jobs``) and
``job_running`` once the Job exists.

Must not: do I/O, read a clock, or import asyncio.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from lifecycle.core.bodies import KeptnTaskBody, KeptnTaskStatus, ObjectMeta
from lifecycle.core.childbodies import JobBody
from lifecycle.core.childcore import (
    ChildAction,
    CountFinished,
    CountStarted,
    Decision,
    Emit,
    ExportSpan,
    base_annotations,
    definition_deadline,
    finish_fields,
    versioned,
)
from lifecycle.core.naming import format_time
from lifecycle.core.phases import Phase, State
from lifecycle.core.runtimes import job_name

__all__ = [
    "REF_RETRY_SECONDS",
    "ReleaseSlot",
    "StartJob",
    "TaskAction",
    "TaskInput",
    "create_failed",
    "decide",
    "done",
    "event_annotations",
    "invalid_definition",
    "job_outcome",
    "job_running",
    "no_slot",
    "recorded_job",
    "references_missing",
    "version",
]

_SUCCESS_CONDITIONS: Final = ("Complete", "SuccessCriteriaMet")
_FAILURE_CONDITIONS: Final = ("Failed", "FailureTarget")
REF_RETRY_SECONDS: Final = 2.0
"""How soon a task waiting for a Job slot or a ConfigMap/Secret looks again."""


@dataclass(frozen=True, slots=True)
class StartJob:
    """Build the task's Job and create it (the shell checks references and slots on the way)."""


@dataclass(frozen=True, slots=True)
class ReleaseSlot:
    """The task's Job finished: its ``--max-jobs`` slot is free."""


TaskAction = ChildAction | StartJob | ReleaseSlot


@dataclass(frozen=True, slots=True)
class TaskInput:
    """What one reconcile of a KeptnTask reads."""

    task: KeptnTaskBody
    has_definition: bool
    """Whether its KeptnTaskDefinition exists (here or in the Keptn namespace)."""
    job: JobBody | None
    """Its Job (cache, else the API server for a recorded one); None when not found."""
    now: datetime
    definition_wait: timedelta


def recorded_job(task: KeptnTaskBody) -> tuple[str, bool]:
    """The name of the task's Job and whether the task already recorded it."""
    recorded = (task.get("status") or KeptnTaskStatus()).get("jobName")
    return str(recorded or job_name(task)), bool(recorded)


def job_outcome(job: JobBody) -> tuple[State, str, str] | None:
    """(state, reason, message) from a Job's true conditions, or None while it runs."""
    conditions = [
        c for c in (job.get("status") or {}).get("conditions") or () if c.get("status") == "True"
    ]
    for cond in conditions:
        if cond.get("type") in _FAILURE_CONDITIONS:
            return State.FAILED, str(cond.get("reason") or ""), str(cond.get("message") or "")
    for cond in conditions:
        if cond.get("type") in _SUCCESS_CONDITIONS:
            return State.SUCCEEDED, "", ""
    return None


def done(task: KeptnTaskBody) -> bool:
    """Whether the task's ``status.status`` is final (nothing is looked up for it any more)."""
    return State.parse((task.get("status") or KeptnTaskStatus()).get("status")).is_completed


def decide(given: TaskInput) -> Decision[TaskAction]:
    """The next step of a task (see the module docstring for the rules, in order)."""
    task, now = given.task, given.now
    if done(task):
        return Decision(actions=(ExportSpan(),))
    if not given.has_definition:
        name = (task.get("spec") or {}).get("taskDefinition", "")
        text = f"could not find KeptnTaskDefinition: {name}"
        deadline = definition_deadline(_meta(task), now, given.definition_wait)
        if now >= deadline:
            return finish(task, State.FAILED, "DefinitionNotFound", text, now)
        return Decision(
            fields={"reason": "DefinitionNotFound", "message": f"{text}; waiting"},
            actions=(
                Emit("CreateTaskNotFound", Phase.CREATE_TASK, f"{text} ", "CreateTaskNotFound"),
            ),
            requeue_at=deadline,
        )
    name, recorded = recorded_job(task)
    if given.job is None and recorded:
        text = f"Job {name} was deleted before it finished"
        return finish(task, State.FAILED, "JobNotFound", text, now)
    if given.job is None:
        return Decision(actions=(StartJob(),))
    outcome = job_outcome(given.job)
    if outcome is None:
        return job_running(task, name, now)
    ended = finish(task, *outcome, now)
    return Decision(fields=ended.fields, actions=(ReleaseSlot(), *ended.actions))


def finish(
    task: KeptnTaskBody, state: State, reason: str, message: str, now: datetime
) -> Decision[TaskAction]:
    """End the task: state, reason, message, endTime (startTime too if it never started)."""
    started = bool((task.get("status") or KeptnTaskStatus()).get("startTime"))
    fields = finish_fields(started, "status", state, now, reason=reason, message=message)
    counts: tuple[TaskAction, ...] = (
        (CountFinished(),) if started else (CountStarted(), CountFinished())
    )
    return Decision(fields=fields, actions=counts)


def job_running(task: KeptnTaskBody, name: str, now: datetime) -> Decision[TaskAction]:
    """Record a running Job (created now, or before a crash or before the status write landed)."""
    fields: dict[str, object] = {"jobName": name, "status": State.PROGRESSING.value}
    if (task.get("status") or KeptnTaskStatus()).get("startTime"):
        return Decision(fields=fields)
    fields["startTime"] = format_time(now)
    return Decision(fields=fields, actions=(CountStarted(),))


def invalid_definition(task: KeptnTaskBody, error: str, now: datetime) -> Decision[TaskAction]:
    """The definition cannot make a Job (a bad functionRef ...): the task fails at once."""
    failed = finish(task, State.FAILED, "InvalidTaskDefinition", error, now)
    text = f"could not merge KeptnTaskDefinition: {error} "
    return Decision(
        fields=failed.fields,
        actions=(Emit("CreateTaskFailed", Phase.CREATE_TASK, text), *failed.actions),
    )


def references_missing(
    task: KeptnTaskBody, missing: list[str], now: datetime, wait: timedelta
) -> Decision[TaskAction]:
    """Say which ConfigMap/Secret is missing within seconds; fail after the definition wait."""
    reason = f"{missing[0].split(' ', 1)[0]}NotFound"
    text = f"could not find {', '.join(missing)} the task's Job needs"
    if now >= definition_deadline(_meta(task), now, wait):
        return finish(task, State.FAILED, reason, text, now)
    return Decision(
        fields={"reason": reason, "message": f"{text}; waiting"},
        actions=(Emit(reason, Phase.CREATE_TASK, f"{text} ", reason),),
        requeue_after=REF_RETRY_SECONDS,
    )


def no_slot(limit: int) -> Decision[TaskAction]:
    """Every Job slot is taken: say so and look again shortly."""
    return Decision(
        fields={
            "reason": "WaitingForJobSlot",
            "message": f"{limit} Jobs already running (--max-jobs)",
        },
        requeue_after=REF_RETRY_SECONDS,
    )


def create_failed(task: KeptnTaskBody) -> Emit:
    """The Event of a Job the API server refused to create."""
    return Emit(
        "CreateTaskFailed",
        Phase.CREATE_TASK,
        f"could not create Job: {_meta(task).get('name', '')} ",
    )


def event_annotations(task: KeptnTaskBody, phase: Phase) -> dict[str, str]:
    """KLT's annotations of an Event on a KeptnTask."""
    spec = task.get("spec") or {}
    context = spec.get("context") or {}
    return base_annotations(_meta(task), phase) | {
        "appName": str(context.get("appName", "")),
        "appVersion": str(context.get("appVersion", "")),
        "workloadName": str(context.get("workloadName", "")),
        "workloadVersion": str(context.get("workloadVersion", "")),
        "taskName": str(_meta(task).get("name", "")),
        "taskDefinitionName": str(spec.get("taskDefinition", "")),
    }


def version(task: KeptnTaskBody) -> str:
    """The version a task's Event names."""
    context = (task.get("spec") or {}).get("context") or {}
    return versioned(context.get("workloadVersion"), context.get("appVersion"))


def _meta(task: KeptnTaskBody) -> ObjectMeta:
    return task.get("metadata") or ObjectMeta()
