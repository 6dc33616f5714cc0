"""The pure KeptnTask core (lifecycle.core.taskcore) and the shared child rules (core.childcore)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from lifecycle.core import taskcore, windows
from lifecycle.core.bodies import JobBody, KeptnTaskBody
from lifecycle.core.childcore import Decision, Emit, Step, wait_or_fail
from lifecycle.core.phases import Phase

T0 = datetime(2026, 1, 1, tzinfo=UTC)
WAIT = timedelta(seconds=30)


def task(
    status: dict[str, Any] | None = None, created: str = "2026-01-01T00:00:00Z"
) -> KeptnTaskBody:
    body: dict[str, Any] = {
        "kind": "KeptnTask",
        "metadata": {"name": "t1", "namespace": "ns", "uid": "u1", "creationTimestamp": created},
        "spec": {
            "taskDefinition": "def",
            "context": {"appName": "a", "appVersion": "1", "workloadVersion": "w2"},
        },
    }
    if status is not None:
        body["status"] = status
    return cast(KeptnTaskBody, body)


def job(*conditions: tuple[str, str]) -> JobBody:
    conds = [
        {"type": t, "status": s, "reason": f"{t}Reason", "message": f"{t} msg"}
        for t, s in conditions
    ]
    return cast(JobBody, {"metadata": {"name": "j"}, "status": {"conditions": conds}})


def given(
    body: KeptnTaskBody,
    *,
    definition: bool = True,
    the_job: JobBody | None = None,
    at: timedelta = timedelta(),
) -> tuple[KeptnTaskBody, bool, JobBody | None, datetime, timedelta]:
    return body, definition, the_job, T0 + at, WAIT


@pytest.mark.parametrize(
    ("created", "expected"),
    [
        ("2026-01-01T00:00:10Z", T0 + timedelta(seconds=10)),
        ("", T0 + timedelta(hours=1)),
        ("garbage", T0 + timedelta(hours=1)),
    ],
)
def test_created_falls_back_to_now(created: str, expected: datetime) -> None:
    obj = {"metadata": {"creationTimestamp": created} if created else {}}
    assert windows.created(obj, T0 + timedelta(hours=1)) == expected
    waiting, failed = Decision(fields={"w": 1}), Decision(fields={"f": 1})
    assert wait_or_fail(obj, expected, WAIT, waiting, failed).requeue_at == expected + WAIT
    late = T0 + timedelta(seconds=40) + WAIT  # past the deadline only when the stamp is readable
    readable = created.startswith("2026")
    assert (wait_or_fail(obj, late, WAIT, waiting, failed) is failed) == readable


@pytest.mark.parametrize("state", ["Succeeded", "Failed", "Deprecated"])
def test_a_completed_task_only_reexports_its_span(state: str) -> None:
    decision = taskcore.decide(*given(task({"status": state, "jobName": "gone"}), the_job=None))
    assert decision.actions == (Step.EXPORT_SPAN,) and decision.fields is None


def test_a_missing_definition_waits_until_the_deadline_then_fails() -> None:
    waiting = taskcore.decide(*given(task(), definition=False, at=timedelta(seconds=29)))
    assert waiting.requeue_at == T0 + WAIT
    assert waiting.fields == {
        "reason": "DefinitionNotFound",
        "message": "could not find KeptnTaskDefinition: def; waiting",
    }
    assert waiting.actions == (
        Emit(
            "CreateTaskNotFound",
            Phase.CREATE_TASK,
            "could not find KeptnTaskDefinition: def ",
            "CreateTaskNotFound",
        ),
    )
    failed = taskcore.decide(*given(task(), definition=False, at=WAIT))
    assert failed.fields is not None and failed.requeue_at is None
    assert failed.fields["status"] == "Failed" and failed.fields["reason"] == "DefinitionNotFound"
    assert failed.fields["startTime"] == failed.fields["endTime"] == "2026-01-01T00:00:30.000000Z"
    assert failed.actions == (Step.COUNT_STARTED, Step.COUNT_FINISHED)


def test_no_job_starts_one_and_a_vanished_recorded_job_fails_the_task() -> None:
    assert taskcore.decide(*given(task())).actions == (Step.START_JOB,)
    gone = taskcore.decide(
        *given(task({"status": "Progressing", "jobName": "j1", "startTime": "x"}))
    )
    assert gone.fields is not None and gone.fields["reason"] == "JobNotFound"
    assert gone.fields["message"] == "Job j1 was deleted before it finished"
    assert gone.actions == (Step.COUNT_FINISHED,)  # it had started: counted once, not twice


@pytest.mark.parametrize(
    ("conditions", "outcome"),
    [
        ((), None),
        ((("Complete", "False"),), None),
        ((("Complete", "True"),), ("Succeeded", "", "")),
        ((("SuccessCriteriaMet", "True"),), ("Succeeded", "", "")),
        ((("Failed", "True"),), ("Failed", "FailedReason", "Failed msg")),
        (
            (("Complete", "True"), ("FailureTarget", "True")),
            ("Failed", "FailureTargetReason", "FailureTarget msg"),
        ),
    ],
)
def test_job_outcome_reads_true_conditions_failure_first(
    conditions: tuple[tuple[str, str], ...], outcome: tuple[str, str, str] | None
) -> None:
    assert taskcore.job_outcome(job(*conditions)) == outcome


def test_a_running_job_is_recorded_once_and_a_finished_one_frees_its_slot() -> None:
    running = taskcore.decide(*given(task(), the_job=job()))
    name = taskcore.recorded_job(task())[0]
    assert running.fields == {
        "jobName": name,
        "status": "Progressing",
        "startTime": "2026-01-01T00:00:00.000000Z",
    }
    assert running.actions == (Step.COUNT_STARTED,)
    again = taskcore.decide(
        *given(task({"status": "Progressing", "jobName": name, "startTime": "s"}), the_job=job())
    )
    assert again.actions == () and again.fields == {"jobName": name, "status": "Progressing"}
    done = taskcore.decide(*given(task({"startTime": "s"}), the_job=job(("Complete", "True"))))
    assert done.actions == (Step.RELEASE_SLOT, Step.COUNT_FINISHED)
    assert done.fields is not None and done.fields["status"] == "Succeeded"


def test_missing_references_are_said_at_once_then_fail_after_the_wait() -> None:
    missing = ["ConfigMap cm1", "Secret s1"]
    waiting = taskcore.references_missing(task(), missing, T0 + timedelta(seconds=5), WAIT)
    assert waiting.requeue_after == taskcore.REF_RETRY_SECONDS
    assert waiting.fields is not None and waiting.fields["reason"] == "ConfigMapNotFound"
    assert waiting.actions[0] == Emit(
        "ConfigMapNotFound", Phase.CREATE_TASK,
        "could not find ConfigMap cm1, Secret s1 the task's Job needs ", "ConfigMapNotFound",
    )  # fmt: skip
    failed = taskcore.references_missing(task(), missing, T0 + WAIT, WAIT)
    assert failed.fields is not None and failed.fields["status"] == "Failed"
    assert failed.requeue_after is None


def test_invalid_definition_and_no_slot() -> None:
    invalid = taskcore.invalid_definition(task(), "bad functionRef", T0)
    assert invalid.fields is not None and invalid.fields["reason"] == "InvalidTaskDefinition"
    assert isinstance(invalid.actions[0], Emit) and invalid.actions[0].reason == "CreateTaskFailed"
    slot = taskcore.no_slot(3)
    assert slot.fields == {
        "reason": "WaitingForJobSlot",
        "message": "3 Jobs already running (--max-jobs)",
    }


def test_event_annotations_and_version() -> None:
    source = taskcore.event_source(task())
    annotations = source.annotations(Phase.CREATE_TASK)
    assert annotations["taskName"] == "t1" and annotations["taskDefinitionName"] == "def"
    assert annotations["appName"] == "a" and annotations["traceparent"] == ""
    assert annotations["phase"] == Phase.CREATE_TASK.value
    assert source.version == "w2"


def test_a_rejected_job_fails_the_task_with_the_api_servers_reason() -> None:
    decision = taskcore.job_rejected(
        task({"startTime": "s"}), "spec.containers[0].image: Required", T0
    )
    assert decision.fields is not None and decision.fields["reason"] == "InvalidTaskDefinition"
    assert decision.fields["message"] == (
        "the API server rejected its Job: spec.containers[0].image: Required"
    )
    assert (
        isinstance(decision.actions[0], Emit) and decision.actions[0].reason == "CreateTaskFailed"
    )
    assert decision.actions[1:] == (Step.COUNT_FINISHED,)
