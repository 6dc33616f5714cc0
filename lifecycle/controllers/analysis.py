"""Analysis controller: resolve an Analysis into plain data, run the evaluator, write the verdict.

Reconcile (reference keptn.md §10.3): a Completed Analysis is left alone. The timeframe
(``from``/``to``, or ``recent`` = now-d..now) is frozen into ``status.timeframe`` together with
state Progressing before anything is fetched, so a retry judges the same window. The
AnalysisDefinition (ref namespace, else the Analysis's), each objective's AnalysisValueTemplate
(ref namespace, else the definition's) and KeptnMetricsProvider (ref namespace, else the
template's, else the definition's) plus its Secret become an ``evaluator.analysis.AnalysisRequest``;
``run_analysis`` renders the queries from ``spec.args`` (escaped), fetches each distinct query
once, judges every objective with all operators and our extensions (relative targets, noData,
informational) and scores it as KLT. The result goes to ``status.raw`` (KLT's JSON shape plus
target/reason per objective), ``pass``, ``warning``, state Completed, and to
``keptn_analysis_result`` / ``keptn_objective_result``.

Relative objectives compare against previous Analyses of the same definition and args: Completed
ones in the cache whose window ended no later than this one's, newest first, their values read
back from their ``status.raw``.

Tenancy (lifecycle.core.tenancy): the definition, templates and providers must live in the Analysis's
own namespace or the Keptn namespace; another reference completes the Analysis as failed with the
rule in ``status.message`` and ``status.raw``. A missing definition or template, or a provider
Secret error, keeps it Progressing with the reason in ``status.message`` and a Warning Event.

Invariants: a run is started only by creation, a spec change, a missing dependency appearing or
the retry timer -- never by our own status writes (``spec_changes``); a provider that is down or
answers 5xx is retried every 10 s up to ``_MAX_ATTEMPTS`` times (partial values kept in
``storedValues``), after which the failing objectives count as failed; input the webhook should
have rejected completes the Analysis as failed with the reason in ``status.raw``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from evaluator.analysis import (
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
from lifecycle.flow.providers import (
    ClosingController,
    ProviderSessions,
    provider_config,
    spec_changes,
)
from lifecycle.core import model
from lifecycle.core.conditions import with_conditions
from lifecycle.core.naming import format_time, parse_time
from lifecycle.core.tenancy import RefusedReference, reference_namespace
from lifecycle.flow.blocked import ANALYSIS_COMPONENT, report
from lifecycle.flow.context import OperatorContext
from lifecycle.kube import Controller, ObjectKey, Result

__all__ = ["definition_key", "previous_results", "setup"]

log = logging.getLogger(__name__)

Body = dict[str, Any]
_COMPLETED: Final = "Completed"
_PROGRESSING: Final = "Progressing"
_RETRY_SECONDS: Final = 10.0
_MAX_ATTEMPTS: Final = 6


class _Waiting(Exception):
    """A referenced object is not there yet; its creation wakes the Analysis."""


def definition_key(analysis: Mapping[str, Any]) -> str:
    """``<namespace>/<name>`` of the Analysis's AnalysisDefinition (index key)."""
    ref = (analysis.get("spec") or {}).get("analysisDefinition") or {}
    ns = ref.get("namespace") or (analysis.get("metadata") or {}).get("namespace") or ""
    return f"{ns}/{ref.get('name', '')}"


def _key(analysis: Mapping[str, Any]) -> tuple[str, str]:
    meta = analysis.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def _verdict(status: Mapping[str, Any]) -> str:
    if status.get("pass"):
        return "pass"
    return "warning" if status.get("warning") else "fail"


def _end(analysis: Mapping[str, Any]) -> str:
    return str(((analysis.get("status") or {}).get("timeframe") or {}).get("to") or "")


def previous_results(
    analysis: Mapping[str, Any], candidates: Sequence[Mapping[str, Any]], end: datetime
) -> dict[str, list[tuple[float | None, str]]]:
    """Per objective name: (value, verdict) of earlier completed Analyses, newest first."""
    me = (analysis.get("metadata") or {}).get("uid")
    args = (analysis.get("spec") or {}).get("args") or {}
    eligible: list[tuple[datetime, str, Mapping[str, Any]]] = []
    for other in candidates:
        status = other.get("status") or {}
        if (other.get("metadata") or {}).get("uid") == me or status.get("state") != _COMPLETED:
            continue
        if ((other.get("spec") or {}).get("args") or {}) != args or not _end(other):
            continue
        try:
            to = parse_time(_end(other))
        except ValueError:
            continue
        if to <= end:
            created = str((other.get("metadata") or {}).get("creationTimestamp") or "")
            eligible.append((to, created, other))
    eligible.sort(key=lambda item: (item[0], item[1]), reverse=True)
    previous: dict[str, list[tuple[float | None, str]]] = {}
    for _, _, other in eligible:
        status = other.get("status") or {}
        try:
            raw = json.loads(str(status.get("raw") or "{}"))
        except ValueError:
            continue
        verdict = str(raw.get("verdict") or _verdict(status))
        for entry in raw.get("objectiveResults") or ():
            try:
                name = parse_objective(entry.get("objective") or {}).name
            except ObjectiveError:
                continue
            value = None if entry.get("error") else entry.get("value")
            number = float(value) if isinstance(value, int | float) else None
            previous.setdefault(name, []).append((number, verdict))
    return previous


def setup(ctx: OperatorContext) -> Controller[ObjectKey]:
    """The Analysis controller: woken by Analyses and by their definitions/templates/providers."""
    sessions = ProviderSessions(ctx.settings.max_provider_queries)
    analyses = ctx.informer(model.ANALYSIS)
    definitions = ctx.informer(model.ANALYSIS_DEFINITION)
    templates = ctx.informer(model.ANALYSIS_VALUE_TEMPLATE)
    providers = ctx.informer(model.KEPTN_METRICS_PROVIDER)
    gauges = AnalysisMetrics(ctx.telemetry.registry)
    attempts: dict[ObjectKey, int] = {}
    # uids completed by this process: the cache may still show Progressing right after our write
    completed: dict[str, None] = {}

    async def write(analysis: Body, fields: Body) -> Body:
        status = analysis.get("status") or {}
        fields = with_conditions(model.ANALYSIS.kind, analysis, fields, ctx.now())
        diff = {k: v for k, v in fields.items() if status.get(k) != v}
        if diff:
            meta = analysis["metadata"]
            await ctx.client.patch_status(
                model.ANALYSIS, meta["name"], {"status": diff}, meta.get("namespace")
            )
        return {
            **analysis,
            "status": {k: v for k, v in {**status, **diff}.items() if v is not None},
        }

    keptn_ns = ctx.settings.keptn_namespace

    async def objectives(own: str, definition: Body) -> list[ObjectiveQuery]:
        def_ns = str(definition["metadata"].get("namespace") or "")
        queries: list[ObjectiveQuery] = []
        for body in (definition.get("spec") or {}).get("objectives") or ():
            ref = body.get("analysisValueTemplateRef") or {}
            t_name = str(ref.get("name") or "")
            t_ns = reference_namespace(
                "AnalysisValueTemplate", t_name, str(ref.get("namespace") or def_ns), own, keptn_ns
            )
            template = templates.store.get(t_ns, t_name)
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
                    if ns and (p := providers.store.get(str(ns), p_name)) is not None
                ),
                None,
            )
            if provider is None:
                raise _Waiting(f"KeptnMetricsProvider {p_name} not found")
            queries.append(
                ObjectiveQuery(
                    spec=parse_objective(body),
                    template=str(t_spec.get("query") or ""),
                    provider=await provider_config(ctx, provider),
                    body=dict(body),
                    reference={"name": str(ref.get("name") or ""), "namespace": t_ns},
                )
            )
        return queries

    async def waiting(analysis: Body, reason: str, message: str) -> None:
        """Progressing, with the reason in ``status.message`` and a Warning Event."""
        if (analysis.get("status") or {}).get("message") == message:
            return  # already said (many Analyses are woken by every template change)
        log.info("Analysis %s/%s waits: %s", *_key(analysis), message)
        await write(analysis, {"message": message})
        report(ctx, ANALYSIS_COMPONENT, analysis, reason, message)

    async def complete_invalid(analysis: Body, reason: str) -> None:
        report(ctx, ANALYSIS_COMPONENT, analysis, "AnalysisFailed", reason)
        raw = {"objectiveResults": [], "totalScore": 0.0, "maximumScore": 0.0, "pass": False,
               "warning": False, "verdict": "fail", "reason": reason}  # fmt: skip
        fields = {"raw": json.dumps(raw), "pass": False, "warning": False, "state": _COMPLETED,
                  "message": reason}  # fmt: skip
        await write(analysis, fields)

    async def reconcile(key: ObjectKey) -> Result:
        analysis = analyses.store.get(key.namespace, key.name)
        if (
            analysis is None
            or (analysis.get("status") or {}).get("state") == _COMPLETED
            or analysis["metadata"].get("uid") in completed
        ):
            attempts.pop(key, None)
            return Result()
        status = analysis.get("status") or {}
        frozen = status.get("timeframe") or {}
        try:
            if frozen.get("from") and frozen.get("to"):
                start, end = parse_time(frozen["from"]), parse_time(frozen["to"])
            else:
                timeframe = (analysis.get("spec") or {}).get("timeframe") or {}
                start, end = resolve_timeframe(timeframe, ctx.now())
        except (TimeframeError, ValueError) as err:
            await complete_invalid(analysis, f"timeframe: {err}")
            return Result()
        analysis = await write(
            analysis,
            {
                "timeframe": {"from": format_time(start), "to": format_time(end)},
                "state": _PROGRESSING,
            },
        )
        ref_ns, _, ref_name = definition_key(analysis).partition("/")
        try:
            reference_namespace("AnalysisDefinition", ref_name, ref_ns, key.namespace, keptn_ns)
            definition = definitions.store.get(ref_ns, ref_name)
            if definition is None:  # woken when it is created
                raise _Waiting(f"AnalysisDefinition {ref_ns}/{ref_name} not found")
            queries = await objectives(key.namespace, definition)
            total = parse_total_score((definition.get("spec") or {}).get("totalScore") or {})
        except _Waiting as wait:
            await waiting(analysis, "AnalysisWaiting", str(wait))
            return Result()
        except (ObjectiveError, RefusedReference) as err:
            await complete_invalid(analysis, str(err))
            return Result()
        except ConfigError as err:
            await waiting(analysis, "ProviderError", f"{err}; retrying in {_RETRY_SECONDS:g}s")
            return Result(requeue_after=_RETRY_SECONDS)
        args = {str(k): str(v) for k, v in ((analysis.get("spec") or {}).get("args") or {}).items()}
        request = AnalysisRequest(
            objectives=queries,
            total=total,
            start=start,
            end=end,
            args=args,
            previous=previous_results(
                analysis, analyses.store.by_index("analysisDefinition", f"{ref_ns}/{ref_name}"), end
            ),
        )
        outcome = await run_analysis(request, pool=sessions.pool())
        attempts[key] = attempts.get(key, 0) + 1
        if outcome.retryable and attempts[key] < _MAX_ATTEMPTS:
            errors = sorted(
                {str(v.get("errMsg")) for v in outcome.stored_values.values() if v.get("errMsg")}
            )
            message = f"provider error: {'; '.join(errors)}; retrying in {_RETRY_SECONDS:g}s"
            await write(analysis, {"storedValues": dict(outcome.stored_values), "message": message})
            report(ctx, ANALYSIS_COMPONENT, analysis, "ProviderError", message)
            return Result(requeue_after=_RETRY_SECONDS)
        attempts.pop(key, None)
        # gauges first: whoever sees state Completed also finds the result on /metrics
        gauges.record(name=key.name, namespace=key.namespace, start=start, end=end, outcome=outcome)
        await write(
            analysis,
            {
                "raw": outcome.raw_json,
                "pass": outcome.score.passed,
                "warning": outcome.score.warning,
                "state": _COMPLETED,
                "message": None,
                "storedValues": None,  # KLT clears them; the values live on in raw
            },
        )
        completed[str(analysis["metadata"].get("uid"))] = None
        while len(completed) > 10_000:
            del completed[next(iter(completed))]
        return Result()

    controller = ClosingController("analysis", reconcile, ctx.settings.workers, sessions=sessions)
    controller.watch(analyses, spec_changes)

    def unfinished(event_type: str, obj: Body, old: Body | None) -> list[ObjectKey]:
        # a definition, template or provider appeared or changed: retry the unfinished Analyses
        # that wait on it (their status.message names it) or have not said why yet
        if event_type == "DELETED":
            return []
        name = str((obj.get("metadata") or {}).get("name") or "")
        keys = []
        for a in analyses.store.list():
            status = a.get("status") or {}
            message = str(status.get("message") or "")
            if status.get("state") != _COMPLETED and (not message or name in message):
                keys.append(ObjectKey(a["metadata"].get("namespace", ""), a["metadata"]["name"]))
        return keys

    for informer in (definitions, templates, providers):
        controller.watch(informer, unfinished)
    return controller
