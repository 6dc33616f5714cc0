"""Analysis controller: resolve an Analysis into plain data, run the evaluator, write the verdict.

A thin shell around the pure ``core.analysiscore`` (what each step writes, the retries, the
previous results of relative objectives): freeze the window, resolve the AnalysisDefinition (ref
namespace, else the Analysis's), each objective's AnalysisValueTemplate (ref namespace, else the
definition's) and KeptnMetricsProvider (ref namespace, else the template's, else the
definition's) plus its Secret into an ``evaluator.analysis.AnalysisRequest``, run it
(``run_analysis``: queries rendered from ``spec.args``, each distinct query fetched once, every
objective judged and scored as KLT) and write the verdict. References outside the Analysis's
namespace and the Keptn namespace are refused (lifecycle.core.tenancy).

Wake-ups: creation, a spec change, a missing dependency appearing or the retry timer -- never
our own status writes (``spec_changes``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from evaluator.analysis import (
    AnalysisOutcome,
    AnalysisRequest,
    ObjectiveQuery,
    TimeframeError,
    resolve_timeframe,
    run_analysis,
)
from evaluator.metrics import AnalysisMetrics
from evaluator.objectives import ObjectiveError
from evaluator.providers import ConfigError
from evaluator.scoring import parse_objective, parse_total_score
from lifecycle.core import analysiscore, model
from lifecycle.core.analysiscore import COMPLETED, Verdict
from lifecycle.core.bodies import AnalysisBody, AnalysisDefinitionBody
from lifecycle.core.childcore import Step
from lifecycle.core.meta import name_of, namespace_of, uid_of
from lifecycle.core.tenancy import RefusedReference, reference_namespace
from lifecycle.flow.children import ChildShell
from lifecycle.flow.context import OperatorContext
from lifecycle.flow.providers import (
    ClosingController,
    ProviderSessions,
    provider_config,
    spec_changes,
)
from lifecycle.kube import Controller, ObjectKey, Result

__all__ = ["COMPONENT", "setup"]

COMPONENT: Final = "analysis-controller"
Providers = dict[str, tuple[str, str]]


class _Waiting(Exception):
    """A referenced object is not there yet; its creation wakes the Analysis."""


def _verdict(outcome: AnalysisOutcome) -> Verdict:
    return Verdict(
        raw=outcome.raw_json,
        passed=outcome.score.passed,
        warning=outcome.score.warning,
        retryable=outcome.retryable,
        stored_values=outcome.stored_values,
    )


def setup(ctx: OperatorContext) -> Controller[ObjectKey]:
    """The Analysis controller: woken by Analyses and by their definitions/templates/providers."""
    sessions = ProviderSessions(ctx.settings.max_provider_queries)
    analyses = ctx.cache(model.ANALYSIS)
    definitions = ctx.cache(model.ANALYSIS_DEFINITION)
    templates = ctx.cache(model.ANALYSIS_VALUE_TEMPLATE)
    providers = ctx.cache(model.KEPTN_METRICS_PROVIDER)
    gauges = AnalysisMetrics(ctx.telemetry.registry)
    attempts: dict[ObjectKey, int] = {}
    # uids completed by this process: the cache may still show Progressing right after our write
    completed: dict[str, None] = {}
    keptn_ns = ctx.settings.keptn_namespace
    shell = ChildShell(ctx, model.ANALYSIS, COMPONENT, conditional=False)

    async def objectives(
        own: str, definition: AnalysisDefinitionBody
    ) -> tuple[list[ObjectiveQuery], Providers]:
        """The definition's objectives as queries, and the provider of each (namespace, name)."""
        def_ns = namespace_of(definition)
        queries: list[ObjectiveQuery] = []
        used: Providers = {}
        for body in (definition.get("spec") or {}).get("objectives") or ():
            ref = body.get("analysisValueTemplateRef") or {}
            t_name = str(ref.get("name") or "")
            t_ns = reference_namespace(
                "AnalysisValueTemplate", t_name, str(ref.get("namespace") or def_ns), own, keptn_ns
            )
            template = templates.get(t_ns, t_name)
            if template is None:
                raise _Waiting(f"AnalysisValueTemplate {t_ns}/{ref.get('name')} not found")
            t_spec = template.get("spec") or {}
            p_ref = t_spec.get("provider") or {}
            p_name = str(p_ref.get("name") or "")
            if p_ref.get("namespace"):
                reference_namespace(
                    "KeptnMetricsProvider", p_name, str(p_ref["namespace"]), own, keptn_ns
                )
            provider = next(
                (
                    p
                    for ns in (p_ref.get("namespace"), t_ns, def_ns)
                    if ns and (p := providers.get(ns, p_name)) is not None
                ),
                None,
            )
            if provider is None:
                raise _Waiting(f"KeptnMetricsProvider {p_name} not found")
            spec = parse_objective(body)
            used[spec.name] = (namespace_of(provider), p_name)
            queries.append(
                ObjectiveQuery(
                    spec=spec,
                    template=str(t_spec.get("query") or ""),
                    provider=await provider_config(ctx, provider),
                    body=dict(body),
                    reference={"name": str(ref.get("name") or ""), "namespace": t_ns},
                )
            )
        return queries, used

    async def reconcile(key: ObjectKey) -> Result:
        analysis = analyses.get(key.namespace, key.name)
        if (
            analysis is None
            or (analysis.get("status") or {}).get("state") == COMPLETED
            or uid_of(analysis) in completed
        ):
            attempts.pop(key, None)
            return Result()
        try:
            window = analysiscore.frozen_window(analysis) or resolve_timeframe(
                (analysis.get("spec") or {}).get("timeframe") or {}, ctx.now()
            )
        except (TimeframeError, ValueError) as err:
            return await shell.run(analysis, analysiscore.invalid(f"timeframe: {err}"))
        start, end = window
        analysis = await shell.write(analysis, analysiscore.frozen(start, end)) or analysis
        ref_ns, _, ref_name = analysiscore.definition_key(analysis).partition("/")
        try:
            reference_namespace("AnalysisDefinition", ref_name, ref_ns, key.namespace, keptn_ns)
            definition = definitions.get(ref_ns, ref_name)
            if definition is None:  # woken when it is created
                raise _Waiting(f"AnalysisDefinition {ref_ns}/{ref_name} not found")
            queries, used = await objectives(key.namespace, definition)
            total = parse_total_score((definition.get("spec") or {}).get("totalScore") or {})
        except _Waiting as wait:
            waiting = analysiscore.waiting(analysis, "AnalysisWaiting", str(wait))
            return await shell.run(analysis, waiting)
        except (ObjectiveError, RefusedReference) as err:
            return await shell.run(analysis, analysiscore.invalid(str(err)))
        except ConfigError as err:
            unreadable = analysiscore.provider_unreadable(analysis, str(err))
            return await shell.run(analysis, unreadable)
        candidates = analyses.by_index("analysisDefinition", f"{ref_ns}/{ref_name}")
        request = AnalysisRequest(
            objectives=queries,
            total=total,
            start=start,
            end=end,
            args=dict((analysis.get("spec") or {}).get("args") or {}),
            previous=analysiscore.previous_results(analysis, candidates, end),
        )
        outcome = await run_analysis(request, pool=sessions.pool())
        attempts[key] = attempts.get(key, 0) + 1
        decision = analysiscore.judged(_verdict(outcome), attempts[key], used)
        if decision.requeue_after is None:
            attempts.pop(key, None)

        async def record(body: AnalysisBody) -> None:
            gauges.record(
                name=key.name, namespace=key.namespace, start=start, end=end, outcome=outcome
            )

        result = await shell.run(analysis, decision, {Step.RECORD_RESULT: record})
        if decision.requeue_after is None:
            completed[uid_of(analysis)] = None
            while len(completed) > 10_000:
                del completed[next(iter(completed))]
        return result

    controller = ClosingController("analysis", reconcile, ctx.settings.workers, sessions=sessions)
    controller.watch(ctx.informer(model.ANALYSIS), spec_changes)

    def unfinished(event_type: str, obj: Mapping[str, object], old: object) -> list[ObjectKey]:
        # a definition, template or provider appeared or changed: retry the unfinished Analyses
        # that wait on it (their status.message names it) or have not said why yet
        if event_type == "DELETED":
            return []
        name = name_of(obj)
        keys = []
        for a in analyses.list():
            status = a.get("status") or {}
            message = status.get("message") or ""
            if status.get("state") != COMPLETED and (not message or name in message):
                keys.append(ObjectKey(namespace_of(a), name_of(a)))
        return keys

    controller.watch(ctx.informer(model.ANALYSIS_DEFINITION), unfinished)
    controller.watch(ctx.informer(model.ANALYSIS_VALUE_TEMPLATE), unfinished)
    controller.watch(ctx.informer(model.KEPTN_METRICS_PROVIDER), unfinished)
    return controller
