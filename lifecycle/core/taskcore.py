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
said within seconds, failed after the definition wait), ``no_slot`` (``--max-jobs``),
``job_rejected`` (the API server refuses the Job as invalid: the task fails, no endless retry)
and ``job_running`` once the Job exists.

Must not: do I/O, read a clock, or import asyncio.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from lifecycle.core.bodies import JobBody, KeptnTaskBody, KeptnTaskStatus
from lifecycle.core.childcore import (
    Decision,
    Emit,
    EventSource,
    Step,
    finish,
    wait_or_fail,
)
from lifecycle.core.meta import metadata_of, name_of
from lifecycle.core.naming import format_time
from lifecycle.core.phases import Phase, State
from lifecycle.core.runtimes import job_name
from lifecycle.core.windows import created

__all__ = [
    "REF_RETRY_SECONDS",
    "create_failed",
    "decide",
    "done",
    "event_source",
    "fail",
    "invalid_definition",
    "job_outcome",
    "job_rejected",
    "job_running",
    "no_slot",
    "recorded_job",
    "references_missing",
]

_SUCCESS_CONDITIONS: Final = ("Complete", "SuccessCriteriaMet")
_FAILURE_CONDITIONS: Final = ("Failed", "FailureTarget")
_PHASE: Final = Phase.CREATE_TASK
REF_RETRY_SECONDS: Final = 2.0
"""How soon a task waiting for a ConfigMap/Secret its Job mounts looks again."""


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


def decide(
    task: KeptnTaskBody, has_definition: bool, job: JobBody | None, now: datetime, wait: timedelta
) -> Decision:
    """The next step of a task (the module docstring's rules, in order); ``job`` from the cache,
    else the API server for a recorded one, None when not found."""
    if done(task):
        return Decision(actions=(Step.EXPORT_SPAN,))
    if not has_definition:
        text = f"could not find KeptnTaskDefinition: {(task.get('spec') or {}).get('taskDefinition', '')}"
        waiting = Decision(
            fields={"reason": "DefinitionNotFound", "message": f"{text}; waiting"},
            actions=(Emit("CreateTaskNotFound", _PHASE, f"{text} ", "CreateTaskNotFound"),),
        )
        failed = fail(task, "DefinitionNotFound", text, now)
        return wait_or_fail(task, now, wait, waiting, failed)
    name, recorded = recorded_job(task)
    if job is None:
        if recorded:
            return fail(task, "JobNotFound", f"Job {name} was deleted before it finished", now)
        return Decision(actions=(Step.START_JOB,))
    if (outcome := job_outcome(job)) is None:
        return job_running(task, name, now)
    state, reason, message = outcome
    ended = finish(_started(task), "status", state, now, reason=reason, message=message)
    return Decision(ended.fields, (Step.RELEASE_SLOT, *ended.actions))


def fail(task: KeptnTaskBody, reason: str, message: str, now: datetime, *events: Emit) -> Decision:
    """Fail the task with ``reason`` and ``message`` (``events`` before the write)."""
    return finish(
        _started(task), "status", State.FAILED, now, *events, reason=reason, message=message
    )


def job_running(task: KeptnTaskBody, name: str, now: datetime) -> Decision:
    """Record a running Job (created now, or before a crash or before the status write landed)."""
    fields: dict[str, object] = {"jobName": name, "status": State.PROGRESSING.value}
    if _started(task):
        return Decision(fields=fields)
    return Decision(fields | {"startTime": format_time(now)}, (Step.COUNT_STARTED,))


def invalid_definition(task: KeptnTaskBody, error: str, now: datetime) -> Decision:
    """The definition cannot make a Job (a bad functionRef ...): the task fails at once."""
    event = Emit("CreateTaskFailed", _PHASE, f"could not merge KeptnTaskDefinition: {error} ")
    return fail(task, "InvalidTaskDefinition", error, now, event)


def references_missing(
    task: KeptnTaskBody, missing: list[str], now: datetime, wait: timedelta
) -> Decision:
    """Say which ConfigMap/Secret is missing within seconds; fail after the definition wait."""
    reason = f"{missing[0].split(' ', 1)[0]}NotFound"
    text = f"could not find {', '.join(missing)} the task's Job needs"
    if now >= created(task, now) + wait:
        return fail(task, reason, text, now)
    fields = {"reason": reason, "message": f"{text}; waiting"}
    return Decision(
        fields, (Emit(reason, _PHASE, f"{text} ", reason),), requeue_after=REF_RETRY_SECONDS
    )


def no_slot(limit: int) -> Decision:
    """Every Job slot is taken: say so; no timer, the shell wakes the task when a slot frees."""
    message = f"{limit} Jobs already running (--max-jobs)"
    return Decision({"reason": "WaitingForJobSlot", "message": message})


def job_rejected(task: KeptnTaskBody, error: str, now: datetime) -> Decision:
    """The API server refused the Job as invalid: retrying cannot help, the task fails and says why."""
    message = f"the API server rejected its Job: {error}"
    return fail(task, "InvalidTaskDefinition", message, now, create_failed(task))


def create_failed(task: KeptnTaskBody) -> Emit:
    """The Event of a Job the API server refused to create."""
    return Emit("CreateTaskFailed", _PHASE, f"could not create Job: {name_of(task)} ")


def event_source(task: KeptnTaskBody) -> EventSource:
    """What an Event on the task says about it."""
    spec = task.get("spec") or {}
    c = spec.get("context") or {}
    return EventSource(
        "task", metadata_of(task), c.get("appName", ""), c.get("appVersion", ""),
        c.get("workloadName", ""), c.get("workloadVersion", ""), spec.get("taskDefinition", ""),
    )  # fmt: skip


def _started(task: KeptnTaskBody) -> bool:
    return bool((task.get("status") or KeptnTaskStatus()).get("startTime"))
