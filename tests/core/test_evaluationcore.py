"""The pure KeptnEvaluation core (lifecycle.core.evaluationcore): retries, deadlines, tenancy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from lifecycle.core import evaluationcore
from lifecycle.core.bodies import (
    KeptnEvaluationBody,
    KeptnEvaluationDefinitionBody,
    KeptnMetricStatus,
)
from lifecycle.core.childcore import Emit, Step
from lifecycle.core.evaluationcore import Pending, Reading

T0 = datetime(2026, 1, 1, tzinfo=UTC)
WAIT = timedelta(seconds=30)
KEPTN = "keptn-system"


def evaluation(status: dict[str, Any] | None = None, **spec: Any) -> KeptnEvaluationBody:
    body: dict[str, Any] = {
        "kind": "KeptnEvaluation",
        "metadata": {"name": "e1", "namespace": "ns", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"evaluationDefinition": "def", "workloadVersion": "w1", "retries": 3, **spec},
    }
    if status is not None:
        body["status"] = status
    return cast(KeptnEvaluationBody, body)


def definition(*objectives: tuple[str, str, str | None]) -> KeptnEvaluationDefinitionBody:
    items = [
        {"keptnMetricRef": {"name": n, **({"namespace": ns} if ns else {})}, "evaluationTarget": t}
        for n, t, ns in objectives
    ]
    return cast(
        KeptnEvaluationDefinitionBody, {"metadata": {"name": "def"}, "spec": {"objectives": items}}
    )


def value(v: str, err: str = "") -> Reading:
    return Reading(KeptnMetricStatus(value=v, errMsg=err))


def decide(
    ev: KeptnEvaluationBody,
    d: KeptnEvaluationDefinitionBody | None,
    readings: dict[tuple[str, str], Reading] | None = None,
    at: timedelta = timedelta(seconds=1),
) -> evaluationcore.Decision:
    return evaluationcore.decide(ev, d, readings or {}, KEPTN, T0 + at, WAIT)


def test_a_completed_evaluation_only_reexports_its_span() -> None:
    assert decide(evaluation({"overallStatus": "Succeeded"}), None).actions == (Step.EXPORT_SPAN,)


def test_a_missing_definition_waits_then_fails_with_klts_text() -> None:
    waiting = decide(evaluation(), None, at=timedelta(seconds=10))
    assert waiting.requeue_at == T0 + WAIT
    assert waiting.fields == {"message": "could not find KeptnEvaluationDefinition: def; waiting"}
    failed = decide(evaluation(), None, at=WAIT)
    assert failed.fields is not None and failed.fields["overallStatus"] == "Failed"
    assert failed.actions[0] == Emit(
        "ReconcileEvaluationFailed",
        evaluationcore._PHASE,
        "could not find KeptnEvaluationDefinition: def",
        "failed",
    )
    assert failed.actions[1:] == (Step.COUNT_STARTED, Step.COUNT_FINISHED)


@pytest.mark.parametrize(
    ("reading", "status", "message"),
    [
        (value("300"), "Succeeded", None),
        (value("600"), "Failed", None),
        (None, "Failed", "could not find KeptnMetric ns/m"),
        (Reading(None), "Failed", "could not find KeptnMetric ns/m"),
        (
            Reading(KeptnMetricStatus(), error="boom"),
            "Failed",
            "could not refresh KeptnMetric m: boom",
        ),
        (value("", "provider down"), "Failed", "empty value for: m (provider down)"),
    ],
)
def test_judge_each_reading(reading: Reading | None, status: str, message: str | None) -> None:
    item = evaluationcore.judge(Pending("m", "ns", "<500"), reading)
    assert item["status"] == status and item["target"] == "<500"
    if message is not None:
        assert item["message"] == message


def test_progressing_then_retries_exhausted_fail_with_both_events() -> None:
    d = definition(("m", "<500", None))
    first = decide(evaluation(), d, {("ns", "m"): value("600")})
    assert first.fields is not None and first.fields["overallStatus"] == "Progressing"
    assert first.fields["retryCount"] == 1 and "startTime" in first.fields
    assert first.actions == (Step.COUNT_STARTED,)
    assert first.requeue_at == T0 + timedelta(seconds=6)  # the default retryInterval 5s
    last = decide(evaluation({"retryCount": 2, "startTime": "s"}), d, {("ns", "m"): value("600")})
    assert last.fields is not None and last.fields["overallStatus"] == "Failed"
    reasons = [a.reason for a in last.actions if isinstance(a, Emit)]
    assert reasons == ["ReconcileEvaluationReconcileTimeout", "ReconcileEvaluationFailed"]
    assert last.actions[-1] == Step.COUNT_FINISHED and Step.COUNT_STARTED not in last.actions
    assert last.requeue_at is None


def test_passed_objectives_are_not_judged_again() -> None:
    d = definition(("a", "<500", None), ("b", ">1", None))
    done = {"a": {"value": "1", "status": "Succeeded", "message": "", "target": "<500"}}
    ev = evaluation({"evaluationStatus": done, "retryCount": 1, "startTime": "s"})
    assert [p.name for p in evaluationcore.pending(ev, d, KEPTN)] == ["b"]
    ok = decide(ev, d, {("ns", "b"): value("5")})
    assert ok.fields is not None and ok.fields["overallStatus"] == "Succeeded"
    assert ok.actions == (Step.COUNT_FINISHED,)


def test_a_refused_reference_fails_at_once_whatever_the_retries() -> None:
    d = definition(("m", "<500", "other-team"))
    [pending] = evaluationcore.pending(evaluation(), d, KEPTN)
    assert pending.refused
    failed = decide(evaluation(retries=10), d)
    assert failed.fields is not None and failed.fields["overallStatus"] == "Failed"


@pytest.mark.parametrize(
    ("interval", "seconds"), [("10s", 10), ("1ms", 1), ("garbage", 5), (None, 5)]
)
def test_retry_interval_is_bounded(interval: str | None, seconds: float) -> None:
    ev = evaluation(**({"retryInterval": interval} if interval else {}))
    assert evaluationcore.retry_interval(ev) == timedelta(seconds=seconds)


def test_failure_text_lists_failed_objectives_on_one_line() -> None:
    results: Any = {
        "b": {"value": "7", "status": "Failed", "message": "too high"},
        "a": {"value": "1", "status": "Succeeded", "message": ""},
    }
    assert evaluationcore.failure_text(results) == (
        "evaluation failed: evaluation of 'b' failed with value: '7' and reason: 'too high'"
    )
    assert evaluationcore.failure_text({}) == "evaluation failed"
    source = evaluationcore.event_source(evaluation())
    assert source.version == "w1"
    assert source.annotations(evaluationcore._PHASE)["evaluationDefinitionName"] == "def"
