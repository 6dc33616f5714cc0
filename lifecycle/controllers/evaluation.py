"""KeptnEvaluation controller: objectives against KeptnMetric values, with retries (keptn.md §10.1).

A thin shell around the pure ``lifecycle.core.evaluationcore.decide`` (the rules are in its
docstring): read the evaluation and its KeptnEvaluationDefinition (here, else in the Keptn
namespace) from the caches, read the KeptnMetric of every objective still to judge -- a metric
whose value is older than its ``fetchIntervalSeconds`` is fetched fresh first, by the KeptnMetric
controller's own code (``flow.providers.MetricFetcher``, which counts provider failures) --,
decide, and carry the decision out (``flow.children.ChildShell``). Telemetry
``evaluation_started``/``evaluation_finished`` once, by the reconcile that committed it; a failed
status write (not a lost race) emits KLT's ``ReconcileEvaluationReconcileError``.

Wake-ups: creation, spec changes and a definition appearing (``spec_changes`` ignores our own
status writes, which would otherwise start the next attempt at once) plus the retry timer. After
an operator restart the first attempt runs at once, possibly before ``retryInterval`` elapsed.
"""

from __future__ import annotations

from typing import Final

from lifecycle.core import evaluationcore, model
from lifecycle.core.bodies import KeptnMetricStatus
from lifecycle.core.evaluationcore import Pending, Reading
from lifecycle.core.metriccore import is_fresh
from lifecycle.flow.children import ChildShell
from lifecycle.flow.context import OperatorContext
from lifecycle.flow.providers import (
    ClosingController,
    MetricFetcher,
    ProviderSessions,
    spec_changes,
)
from lifecycle.flow.wakeups import children_waiting_on
from lifecycle.kube import Controller, KubeError, ObjectKey, Result

__all__ = ["COMPONENT", "setup"]

COMPONENT: Final = "keptnevaluation-controller"


def setup(ctx: OperatorContext) -> Controller[ObjectKey]:
    """The KeptnEvaluation controller: woken by evaluations and their definitions appearing."""
    sessions = ProviderSessions(ctx.settings.max_provider_queries)
    fetcher = MetricFetcher(ctx, sessions)
    evaluations = ctx.cache(model.KEPTN_EVALUATION)
    definitions = ctx.informer(model.KEPTN_EVALUATION_DEFINITION)
    keptn_namespace = ctx.settings.keptn_namespace
    shell = ChildShell(
        ctx,
        model.KEPTN_EVALUATION,
        COMPONENT,
        source=evaluationcore.event_source,
        started=ctx.telemetry.evaluation_started,
        finished=ctx.telemetry.evaluation_finished,
        span_parent=True,
        write_error=evaluationcore.WRITE_ERROR,
    )

    async def read(objective: Pending) -> Reading:
        """The objective's KeptnMetric status, fetched fresh when stale."""
        metric = ctx.find_here_or_keptn(model.KEPTN_METRIC, objective.namespace, objective.name)
        if metric is None:
            return Reading(None)
        if is_fresh(metric, ctx.now()):
            return Reading(metric.get("status") or KeptnMetricStatus())
        try:
            return Reading(await fetcher.refresh(metric))
        except KubeError as err:
            return Reading(KeptnMetricStatus(), error=str(err))

    async def reconcile(key: ObjectKey) -> Result:
        ev = evaluations.get(key.namespace, key.name)
        if ev is None:
            return Result()
        name = (ev.get("spec") or {}).get("evaluationDefinition") or ""
        definition = ctx.find_here_or_keptn(model.KEPTN_EVALUATION_DEFINITION, key.namespace, name)
        readings: dict[tuple[str, str], Reading] = {}
        if definition is not None and not evaluationcore.done(ev):
            for objective in evaluationcore.pending(ev, definition, keptn_namespace):
                if not objective.refused:
                    readings[objective.namespace, objective.name] = await read(objective)
        wait = ctx.config().definition_wait
        decision = evaluationcore.decide(ev, definition, readings, keptn_namespace, ctx.now(), wait)
        return await shell.run(ev, decision)

    controller = ClosingController(
        "keptnevaluation", reconcile, ctx.settings.workers, sessions=sessions
    )
    ctx.watch(controller, model.KEPTN_EVALUATION, spec_changes)

    controller.watch(
        definitions,
        children_waiting_on(ctx, model.KEPTN_EVALUATION, "evaluationDefinition", "overallStatus"),
    )
    return controller
