"""The KeptnEvaluation rules as pure functions: evaluation + definition + metric readings in.

Role (keptn.md §10.1): one attempt per reconcile. Every objective of the
KeptnEvaluationDefinition not yet Succeeded (``pending``) is judged with
``evaluator.objectives.check_evaluation_target`` (KLT targets: ``<500``, ``>1``) against its
KeptnMetric's ``status.value``, which the shell read (and refreshed when stale) into a
``Reading``. ``retryCount`` counts attempts; all Succeeded -> ``overallStatus`` Succeeded;
attempts exhausted (``retryCount >= retries``, at least one attempt) -> Failed; else Progressing
and another look at ``now + retryInterval``. A reference the tenancy rule refuses fails the
evaluation at once (retrying cannot change the rule).

Status per objective (``status.evaluationStatus[<metric>]``): ``value``, ``status``, ``target``
and a ``message`` holding the value, the target and the reason. A failed evaluation emits
``ReconcileEvaluationReconcileTimeout`` and ``ReconcileEvaluationFailed`` with KLT's text
(``failure_text``). A missing definition is waited for until creation + the definition wait
(``EvaluationWaiting``), then fails with ``could not find KeptnEvaluationDefinition: <def>``.

Must not: do I/O, read a clock, or import asyncio.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from evaluator.durations import parse_duration
from evaluator.objectives import ObjectiveError, check_evaluation_target
from lifecycle.core.bodies import (
    EvaluationStatusItem,
    KeptnEvaluationBody,
    KeptnEvaluationDefinitionBody,
    KeptnEvaluationStatus,
    KeptnMetricStatus,
)
from lifecycle.core.bounds import bounded_interval, bounded_retries
from lifecycle.core.childcore import Decision, Emit, EventSource, Step, finish, wait_or_fail
from lifecycle.core.meta import metadata_of, namespace_of
from lifecycle.core.naming import format_time
from lifecycle.core.phases import Phase, State
from lifecycle.core.tenancy import RefusedReference, reference_namespace

__all__ = [
    "WRITE_ERROR",
    "Pending",
    "Reading",
    "decide",
    "done",
    "event_source",
    "failure_text",
    "pending",
    "retry_interval",
]

_DEFAULT_RETRIES: Final = 10
_DEFAULT_INTERVAL: Final = timedelta(seconds=5)
_PHASE: Final = Phase.RECONCILE_EVALUATION
_FIELD: Final = "overallStatus"
_FAILED: Final = State.FAILED.value


@dataclass(frozen=True, slots=True)
class Pending:
    """An objective still to judge: its KeptnMetric and target."""

    name: str
    namespace: str
    """Where its KeptnMetric is looked up (here, else the Keptn namespace); "" when refused."""
    target: str
    refused: str = ""
    """The tenancy rule's text when the reference is refused."""


@dataclass(frozen=True, slots=True)
class Reading:
    """What the shell found for one pending objective's KeptnMetric."""

    status: KeptnMetricStatus | None
    """Its status (refreshed when it was stale); None when there is no such KeptnMetric."""
    error: str = ""
    """Why refreshing a stale value failed."""


def failure_text(results: Mapping[str, EvaluationStatusItem]) -> str:
    """KLT's ReconcileEvaluationFailed text, on one line (KLT puts each failed objective on a
    line of its own, which breaks `kubectl get events` and every other one-line view):
    ``evaluation failed: evaluation of '<m>' failed with value: '<v>' and reason: '<r>'; ...``."""
    failed = [
        f"evaluation of '{metric}' failed with value: '{results[metric].get('value', '')}'"
        f" and reason: '{results[metric].get('message', '')}'"
        for metric in sorted(results)
        if results[metric].get("status") == _FAILED
    ]
    return "evaluation failed: " + "; ".join(failed) if failed else "evaluation failed"


def retry_interval(evaluation: KeptnEvaluationBody) -> timedelta:
    """``retryInterval``, never below ``bounds.MIN_RETRY_INTERVAL`` whatever the spec says."""
    text = (evaluation.get("spec") or {}).get("retryInterval") or "5s"
    try:
        return bounded_interval(parse_duration(str(text)))
    except ValueError:
        return _DEFAULT_INTERVAL


def pending(
    evaluation: KeptnEvaluationBody,
    definition: KeptnEvaluationDefinitionBody,
    keptn_namespace: str,
) -> list[Pending]:
    """The objectives not yet Succeeded (KLT skips those), with where their metric lives."""
    done = (evaluation.get("status") or KeptnEvaluationStatus()).get("evaluationStatus") or {}
    own = namespace_of(evaluation)
    found: list[Pending] = []
    for objective in (definition.get("spec") or {}).get("objectives") or ():
        ref = objective.get("keptnMetricRef") or {}
        name = str(ref.get("name") or "")
        if (done.get(name) or EvaluationStatusItem()).get("status") == State.SUCCEEDED.value:
            continue
        target = str(objective.get("evaluationTarget") or "")
        try:
            ns = reference_namespace(
                "KeptnMetric", name, ref.get("namespace"), own, keptn_namespace
            )
        except RefusedReference as err:  # never retried: the rule will not change
            found.append(Pending(name, "", target, refused=str(err)))
            continue
        found.append(Pending(name, ns, target))
    return found


def judge(objective: Pending, reading: Reading | None) -> EvaluationStatusItem:
    """``{value, status, message, target}`` of one objective."""
    name, target = objective.name, objective.target
    if objective.refused:
        return _failed("", objective.refused, target)
    if reading is None or reading.status is None:
        return _failed("", f"could not find KeptnMetric {objective.namespace}/{name}", target)
    if reading.error:
        return _failed("", f"could not refresh KeptnMetric {name}: {reading.error}", target)
    value = str(reading.status.get("value") or "")
    if not value:
        why = f"empty value for: {name}"
        if reading.status.get("errMsg"):
            why += f" ({reading.status['errMsg']})"
        return _failed("", why, target)
    try:
        check = check_evaluation_target(value, target)
    except ObjectiveError as err:
        return _failed(value, f"{err} (target '{target}')", target)
    state = State.SUCCEEDED if check.fulfilled else State.FAILED
    return {"value": value, "status": state.value, "message": check.reason, "target": target}


def done(evaluation: KeptnEvaluationBody) -> bool:
    """Whether the evaluation's ``overallStatus`` is final."""
    status = evaluation.get("status") or KeptnEvaluationStatus()
    return State.parse(status.get("overallStatus")).is_completed


def decide(
    ev: KeptnEvaluationBody,
    definition: KeptnEvaluationDefinitionBody | None,
    readings: Mapping[tuple[str, str], Reading],
    keptn_namespace: str,
    now: datetime,
    wait: timedelta,
) -> Decision:
    """One attempt of an evaluation (the module docstring's rules); ``readings`` by (namespace,
    name) of the pending objectives' KeptnMetrics."""
    status = ev.get("status") or KeptnEvaluationStatus()
    if done(ev):
        return Decision(actions=(Step.EXPORT_SPAN,))
    started = bool(status.get("startTime"))
    if definition is None:
        name = (ev.get("spec") or {}).get("evaluationDefinition", "")
        text = f"could not find KeptnEvaluationDefinition: {name}"
        waiting = Decision(
            {"message": f"{text}; waiting"}, (Emit("EvaluationWaiting", _PHASE, text, "waiting"),)
        )
        failure = Emit("ReconcileEvaluationFailed", _PHASE, text, "failed")
        failed = finish(started, _FIELD, State.FAILED, now, failure)
        return wait_or_fail(ev, now, wait, waiting, failed)
    results: dict[str, EvaluationStatusItem] = dict(status.get("evaluationStatus") or {})
    todo = pending(ev, definition, keptn_namespace)
    for objective in todo:
        results[objective.name] = judge(
            objective, readings.get((objective.namespace, objective.name))
        )
    attempts = int(status.get("retryCount") or 0) + 1
    retries = bounded_retries((ev.get("spec") or {}).get("retries"), _DEFAULT_RETRIES)
    attempt: dict[str, object] = {
        "retryCount": attempts,
        "evaluationStatus": results,
        "message": None,
    }
    if all(item.get("status") == State.SUCCEEDED.value for item in results.values()):
        return finish(started, _FIELD, State.SUCCEEDED, now, **attempt)
    if attempts >= retries or any(objective.refused for objective in todo):
        # the Events before the write: keyed, so a retried write cannot emit them twice, and
        # whoever sees the Failed status finds them at least in flight
        timeout = Emit(
            "ReconcileEvaluationReconcileTimeout", _PHASE, "retryCount exceeded", "timeout"
        )
        failure = Emit("ReconcileEvaluationFailed", _PHASE, failure_text(results), "failed")
        return finish(started, _FIELD, State.FAILED, now, timeout, failure, **attempt)
    if started:
        return Decision(attempt | {_FIELD: "Progressing"}, requeue_at=now + retry_interval(ev))
    fields = attempt | {_FIELD: "Progressing", "startTime": format_time(now)}
    return Decision(fields, (Step.COUNT_STARTED,), requeue_at=now + retry_interval(ev))


WRITE_ERROR: Final = Emit("ReconcileEvaluationReconcileError", _PHASE, "could not update status")
"""KLT's Event when the status write fails (not a lost race)."""


def event_source(ev: KeptnEvaluationBody) -> EventSource:
    """What an Event on the evaluation says about it."""
    spec = ev.get("spec") or {}
    return EventSource(
        "evaluation", metadata_of(ev), spec.get("appName", ""), spec.get("appVersion", ""),
        spec.get("workload", ""), spec.get("workloadVersion", ""), spec.get("evaluationDefinition", ""),
    )  # fmt: skip


def _failed(value: str, message: str, target: str) -> EvaluationStatusItem:
    return {"value": value, "status": _FAILED, "message": message, "target": target}
