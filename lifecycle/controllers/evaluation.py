"""KeptnEvaluation controller: objectives against KeptnMetric values, with retries (keptn.md §10.1).

One attempt per reconcile: every objective of the KeptnEvaluationDefinition not yet Succeeded is
judged with ``evaluator.objectives.check_evaluation_target`` (KLT targets: ``<500``, ``>1``)
against its KeptnMetric's ``status.value``. A metric whose value is older than its
``fetchIntervalSeconds`` is fetched fresh first, through ``controllers.metric.refresh_metric``
(the KeptnMetric controller's own code). ``retryCount`` counts attempts; all Succeeded ->
``overallStatus`` Succeeded; attempts exhausted (``retryCount >= retries``, at least one attempt)
-> Failed; else Progressing and ``Result(requeue_at=now + retryInterval)``, the only timer.

Status per objective (``status.evaluationStatus[<metric>]``): ``value``, ``status`` and a
``message`` holding the value, the target and the reason (``value '580' did not meet objective
'<500'``). The CRD allows only those three keys, so target and reason live in the message.
A failed evaluation emits ``ReconcileEvaluationFailed`` on the KeptnEvaluation with KLT's text
(``evaluation of '<metric>' failed with value: '<v>' and reason: '<msg>'``), and its span carries
the same text. A missing definition waits ``ctx.config().definition_wait`` (woken when it
appears) and then fails with ``could not find KeptnEvaluationDefinition: <def>``.
Telemetry ``evaluation_started``/``evaluation_finished`` once, by the reconcile that committed it.

Wake-ups: creation, spec changes and a definition appearing (``spec_changes`` ignores our own
status writes, which would otherwise start the next attempt at once) plus the retry timer. After
an operator restart the first attempt runs at once, possibly before ``retryInterval`` elapsed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Final

from evaluator.durations import parse_duration
from evaluator.objectives import ObjectiveError, check_evaluation_target
from lifecycle.controllers.metric import (
    ClosingController,
    ProviderSessions,
    is_fresh,
    refresh_metric,
    spec_changes,
)
from lifecycle.core import model
from lifecycle.core.bounds import bounded_interval, bounded_retries
from lifecycle.core.conditions import with_conditions
from lifecycle.core.naming import format_time, parse_time
from lifecycle.core.phases import LONG_NAMES, Phase, State
from lifecycle.core.tenancy import RefusedReference, reference_namespace
from lifecycle.flow.context import OperatorContext
from lifecycle.flow.wakeups import children_waiting_on
from lifecycle.kube import Controller, KubeError, ObjectKey, Result, format_message
from lifecycle.kube.errors import Conflict, NotFound
from tracing.spans import export_child_span

__all__ = ["COMPONENT", "failure_text", "setup"]

log = logging.getLogger(__name__)

COMPONENT: Final = "keptnevaluation-controller"
Body = dict[str, Any]
_DEFAULT_RETRIES: Final = 10
_DEFAULT_INTERVAL: Final = timedelta(seconds=5)


def failure_text(results: Mapping[str, Mapping[str, Any]]) -> str:
    """KLT's ReconcileEvaluationFailed text, on one line (KLT puts each failed objective on a
    line of its own, which breaks `kubectl get events` and every other one-line view):
    ``evaluation failed: evaluation of '<m>' failed with value: '<v>' and reason: '<r>'; ...``."""
    failed = [
        f"evaluation of '{metric}' failed with value: '{results[metric].get('value', '')}'"
        f" and reason: '{results[metric].get('message', '')}'"
        for metric in sorted(results)
        if results[metric].get("status") == State.FAILED.value
    ]
    return "evaluation failed: " + "; ".join(failed) if failed else "evaluation failed"


def _retry_interval(spec: Mapping[str, Any]) -> timedelta:
    """``retryInterval``, never below ``bounds.MIN_RETRY_INTERVAL`` whatever the spec says."""
    try:
        return bounded_interval(parse_duration(str(spec.get("retryInterval") or "5s")))
    except ValueError:
        return _DEFAULT_INTERVAL


def _created(obj: Body, now: datetime) -> datetime:
    text = (obj.get("metadata") or {}).get("creationTimestamp")
    try:
        return parse_time(str(text)) if text else now
    except ValueError:
        return now


def setup(ctx: OperatorContext) -> Controller[ObjectKey]:
    """The KeptnEvaluation controller: woken by evaluations and their definitions appearing."""
    sessions = ProviderSessions(ctx.settings.max_provider_queries)
    evaluations = ctx.informer(model.KEPTN_EVALUATION)
    definitions = ctx.informer(model.KEPTN_EVALUATION_DEFINITION)

    def emit(ev: Body, reason: str, phase: Phase, text: str, *, key: str | None = None) -> None:
        meta = ev.get("metadata") or {}
        spec = ev.get("spec") or {}
        ctx.recorder(COMPONENT).emit(
            ev,
            "Warning",
            reason,
            format_message(
                LONG_NAMES[phase],
                text,
                namespace=str(meta.get("namespace", "")),
                name=str(meta.get("name", "")),
                version=str(spec.get("workloadVersion") or spec.get("appVersion") or ""),
            ),
            annotations={
                "namespace": str(meta.get("namespace", "")),
                "name": str(meta.get("name", "")),
                "phase": phase.value,
                "traceparent": str((meta.get("annotations") or {}).get("traceparent", "")),
                "appName": str(spec.get("appName", "")),
                "appVersion": str(spec.get("appVersion", "")),
                "workloadName": str(spec.get("workload", "")),
                "workloadVersion": str(spec.get("workloadVersion", "")),
                "evaluationName": str(meta.get("name", "")),
                "evaluationDefinitionName": str(spec.get("evaluationDefinition", "")),
            },
            key=key,
        )

    async def write(ev: Body, fields: Body) -> Body | None:
        """The changed status fields, written conditionally; None if nothing changed.

        A failed write (not a lost race) emits KLT's `ReconcileEvaluationReconcileError`.
        """
        fields = with_conditions(model.KEPTN_EVALUATION.kind, ev, fields, ctx.now())
        try:
            return await ctx.client.write_status_fields(model.KEPTN_EVALUATION, ev, fields)
        except (Conflict, NotFound):
            raise
        except Exception:
            text = "could not update status"
            emit(ev, "ReconcileEvaluationReconcileError", Phase.RECONCILE_EVALUATION, text)
            raise

    async def judge(ev: Body, objective: Mapping[str, Any]) -> tuple[str, Body]:
        """(metric name, {value, status, message}) of one objective."""
        ref = objective.get("keptnMetricRef") or {}
        name = str(ref.get("name") or "")
        own = str((ev.get("metadata") or {}).get("namespace") or "")
        keptn_ns = ctx.settings.keptn_namespace
        ns = reference_namespace("KeptnMetric", name, ref.get("namespace"), own, keptn_ns)
        target = str(objective.get("evaluationTarget") or "")
        metric = ctx.find_here_or_keptn(model.KEPTN_METRIC, ns, name)
        if metric is None:
            return name, _failed("", f"could not find KeptnMetric {ns}/{name}", target)
        status = metric.get("status") or {}
        if not is_fresh(metric, ctx.now()):
            try:
                status = await refresh_metric(ctx, sessions, metric)
            except KubeError as err:
                return name, _failed("", f"could not refresh KeptnMetric {name}: {err}", target)
        value = str(status.get("value") or "")
        if not value:
            why = f"empty value for: {name}"
            if status.get("errMsg"):
                why += f" ({status['errMsg']})"
            return name, _failed("", why, target)
        try:
            check = check_evaluation_target(value, target)
        except ObjectiveError as err:
            return name, _failed(value, f"{err} (target '{target}')", target)
        state = State.SUCCEEDED if check.fulfilled else State.FAILED
        return name, {
            "value": value,
            "status": state.value,
            "message": check.reason,
            "target": target,
        }

    async def finished(done: Body | None, started_now: bool) -> None:
        if done is None:
            return
        if started_now:
            ctx.telemetry.evaluation_started(done)
        ctx.telemetry.evaluation_finished(done)
        export(done)

    def export(ev: Body) -> None:
        """Its span, through the span marks (exported again after a crash until marked)."""
        parent = (ev["metadata"].get("annotations") or {}).get("traceparent") or None
        if ctx.marks is not None:
            ctx.marks.child(model.KEPTN_EVALUATION, ev, parent_traceparent=parent)
        else:
            export_child_span(ctx.spans, ev, parent_traceparent=parent)

    async def reconcile(key: ObjectKey) -> Result:
        ev = evaluations.store.get(key.namespace, key.name)
        if ev is None:
            return Result()
        status = ev.get("status") or {}
        if State.parse(status.get("overallStatus")).is_completed:
            if ctx.marks is not None:  # a span a crash kept undelivered (no-op once marked)
                export(ev)
            return Result()
        spec = ev.get("spec") or {}
        now = ctx.now()
        stamp = format_time(now)
        first = not status.get("startTime")
        definition_name = str(spec.get("evaluationDefinition") or "")
        definition = ctx.find_here_or_keptn(
            model.KEPTN_EVALUATION_DEFINITION, key.namespace, definition_name
        )
        if definition is None:
            deadline = _created(ev, now) + ctx.config().definition_wait
            text = f"could not find KeptnEvaluationDefinition: {definition_name}"
            if now < deadline:
                emit(ev, "EvaluationWaiting", Phase.RECONCILE_EVALUATION, text, key="waiting")
                await write(ev, {"message": f"{text}; waiting"})
                return Result(requeue_at=deadline)
            fields: Body = {"overallStatus": State.FAILED.value, "endTime": stamp}
            if first:
                fields["startTime"] = stamp
            emit(ev, "ReconcileEvaluationFailed", Phase.RECONCILE_EVALUATION, text, key="failed")
            await finished(await write(ev, fields), first)
            return Result()

        results: dict[str, Body] = dict(status.get("evaluationStatus") or {})
        refused = False
        for objective in (definition.get("spec") or {}).get("objectives") or ():
            ref_name = str((objective.get("keptnMetricRef") or {}).get("name") or "")
            if (results.get(ref_name) or {}).get("status") == State.SUCCEEDED.value:
                continue  # KLT skips objectives that already passed
            try:
                name, item = await judge(ev, objective)
            except RefusedReference as err:  # never retried: the rule will not change
                refused = True
                target = str(objective.get("evaluationTarget") or "")
                name, item = ref_name, _failed("", str(err), target)
            results[name] = item
        attempts = int(status.get("retryCount") or 0) + 1
        retries = attempts if refused else bounded_retries(spec.get("retries"), _DEFAULT_RETRIES)
        passed = all(i.get("status") == State.SUCCEEDED.value for i in results.values())
        fields = {"retryCount": attempts, "evaluationStatus": results, "message": None}
        if first:
            fields["startTime"] = stamp
        if passed:
            fields |= {"overallStatus": State.SUCCEEDED.value, "endTime": stamp}
        elif attempts >= retries:
            fields |= {"overallStatus": State.FAILED.value, "endTime": stamp}
        else:
            fields["overallStatus"] = State.PROGRESSING.value
        if fields["overallStatus"] == State.FAILED.value:
            # before the write: keyed, so a retried write cannot emit it twice, and whoever sees
            # the Failed status finds the Event at least in flight
            text = "retryCount exceeded"
            emit(
                ev,
                "ReconcileEvaluationReconcileTimeout",
                Phase.RECONCILE_EVALUATION,
                text,
                key="timeout",
            )
            emit(
                ev,
                "ReconcileEvaluationFailed",
                Phase.RECONCILE_EVALUATION,
                failure_text(results),
                key="failed",
            )
        written = await write(ev, fields)
        if fields["overallStatus"] == State.PROGRESSING.value:
            if written is not None and first:
                ctx.telemetry.evaluation_started(written)
            return Result(requeue_at=now + _retry_interval(spec))
        await finished(written, first)
        return Result()

    controller = ClosingController(
        "keptnevaluation", reconcile, ctx.settings.workers, sessions=sessions
    )
    controller.watch(evaluations, spec_changes)

    controller.watch(
        definitions,
        children_waiting_on(ctx, evaluations.store, "evaluationDefinition", "overallStatus"),
    )
    return controller


def _failed(value: str, message: str, target: str) -> Body:
    return {"value": value, "status": State.FAILED.value, "message": message, "target": target}
