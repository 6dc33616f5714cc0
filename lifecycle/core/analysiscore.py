"""The Analysis rules as pure functions: what each step of an Analysis run writes.

Role (keptn.md §10.3): an Analysis runs in steps with I/O between them, and the shell asks here at
each: ``frozen``/``frozen_window`` (the timeframe is frozen into ``status.timeframe`` with state
Progressing before anything is fetched, so a retry judges the same window), ``waiting`` (a
definition, template or provider is missing: the reason in ``status.message`` and a Warning
Event, once), ``invalid`` (input the webhook should have rejected, or a reference the tenancy
rule refuses: Completed as failed, the reason in ``status.raw``) and ``judged`` (the evaluator's
verdict: written, or retried every 10 s up to ``MAX_ATTEMPTS`` attempts while a provider is down
or answers 5xx, the partial values kept in ``storedValues``). Every run counts a failure of each
provider that failed a query (``keptn_provider_failures``).

Relative objectives compare against previous Analyses of the same definition and args
(``previous_results``): Completed ones whose window ended no later than this one's, newest
first, their values read back from their ``status.raw``.

Must not: do I/O, read a clock, or import asyncio.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from evaluator.bodies import AnalysisRaw
from evaluator.objectives import ObjectiveError
from evaluator.scoring import parse_objective
from lifecycle.core.bodies import AnalysisBody, AnalysisStatus
from lifecycle.core.childcore import Decision, Fields, ProviderQueried, Report, Step
from lifecycle.core.meta import metadata_of, namespace_of, uid_of
from lifecycle.core.naming import format_time, parse_time

__all__ = [
    "COMPLETED",
    "MAX_ATTEMPTS",
    "RETRY_SECONDS",
    "Verdict",
    "definition_key",
    "frozen",
    "frozen_window",
    "invalid",
    "judged",
    "previous_results",
    "provider_unreadable",
    "waiting",
]

COMPLETED: Final = "Completed"
RETRY_SECONDS: Final = 10.0
MAX_ATTEMPTS: Final = 6


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the evaluator answered for one run (evaluator.analysis.AnalysisOutcome, as data)."""

    raw: str
    passed: bool
    warning: bool
    retryable: bool
    stored_values: Mapping[str, Mapping[str, object]]
    """Per objective: objectiveReference, query, value, errMsg."""


def definition_key(analysis: AnalysisBody) -> str:
    """``<namespace>/<name>`` of the Analysis's AnalysisDefinition (index key)."""
    ref = (analysis.get("spec") or {}).get("analysisDefinition") or {}
    ns = ref.get("namespace") or namespace_of(analysis)
    return f"{ns}/{ref.get('name', '')}"


def frozen_window(analysis: AnalysisBody) -> tuple[datetime, datetime] | None:
    """The window frozen by an earlier attempt, None before (ValueError if unreadable)."""
    frozen = (analysis.get("status") or AnalysisStatus()).get("timeframe") or {}
    if frozen.get("from") and frozen.get("to"):
        return parse_time(frozen["from"]), parse_time(frozen["to"])
    return None


def frozen(start: datetime, end: datetime) -> Fields:
    """The fields that freeze the window before anything is fetched."""
    return {
        "timeframe": {"from": format_time(start), "to": format_time(end)},
        "state": "Progressing",
    }


def invalid(reason: str) -> Decision:
    """Completed as failed, the reason in ``status.raw`` and ``status.message``."""
    raw: AnalysisRaw = {"objectiveResults": [], "totalScore": 0.0, "maximumScore": 0.0, "pass": False,
           "warning": False, "verdict": "fail", "reason": reason}  # fmt: skip
    fields = {"raw": json.dumps(raw), "pass": False, "warning": False, "state": COMPLETED,
              "message": reason}  # fmt: skip
    return Decision(fields=fields, actions=(Report("AnalysisFailed", reason),))


def waiting(analysis: AnalysisBody, reason: str, message: str, *, retry: bool = False) -> Decision:
    """Progressing, with the reason in ``status.message`` and a Warning Event (once)."""
    again = RETRY_SECONDS if retry else None
    if (analysis.get("status") or AnalysisStatus()).get("message") == message:
        return Decision(requeue_after=again)  # already said (many are woken by every template)
    return Decision(
        fields={"message": message}, actions=(Report(reason, message),), requeue_after=again
    )


def provider_unreadable(analysis: AnalysisBody, error: str) -> Decision:
    """A provider's Secret cannot be read: say so and try again in ``RETRY_SECONDS``."""
    return waiting(
        analysis, "ProviderError", f"{error}; retrying in {RETRY_SECONDS:g}s", retry=True
    )


def judged(verdict: Verdict, attempts: int, providers: Mapping[str, tuple[str, str]]) -> Decision:
    """The verdict of attempt ``attempts``: retried while retryable, else written Completed.

    ``providers`` maps each objective to the (namespace, name) of its KeptnMetricsProvider.
    """
    failed: dict[tuple[str, str], bool] = {}
    for objective, provider in providers.items():
        error = str((verdict.stored_values.get(objective) or {}).get("errMsg") or "")
        failed[provider] = failed.get(provider, False) or (
            bool(error) and not error.startswith("template:")
        )
    counts = tuple(ProviderQueried(ns, name, bad) for (ns, name), bad in failed.items())
    if verdict.retryable and attempts < MAX_ATTEMPTS:
        errors = sorted(
            {str(v.get("errMsg")) for v in verdict.stored_values.values() if v.get("errMsg")}
        )
        message = f"provider error: {'; '.join(errors)}; retrying in {RETRY_SECONDS:g}s"
        return Decision(
            fields={"storedValues": dict(verdict.stored_values), "message": message},
            actions=(*counts, Report("ProviderError", message)),
            requeue_after=RETRY_SECONDS,
        )
    # storedValues: KLT clears them; the values live on in raw
    fields = {"raw": verdict.raw, "pass": verdict.passed, "warning": verdict.warning,
              "state": COMPLETED, "message": None, "storedValues": None}  # fmt: skip
    # the gauges first: whoever sees state Completed also finds the result on /metrics
    return Decision(fields=fields, actions=(*counts, Step.RECORD_RESULT))


def _verdict(status: AnalysisStatus) -> str:
    if status.get("pass"):
        return "pass"
    return "warning" if status.get("warning") else "fail"


def _end(analysis: AnalysisBody) -> str:
    return str(
        ((analysis.get("status") or AnalysisStatus()).get("timeframe") or {}).get("to") or ""
    )


def previous_results(
    analysis: AnalysisBody, candidates: Sequence[AnalysisBody], end: datetime
) -> dict[str, list[tuple[float | None, str]]]:
    """Per objective name: (value, verdict) of earlier completed Analyses, newest first."""
    me = uid_of(analysis)
    args = (analysis.get("spec") or {}).get("args") or {}
    eligible: list[tuple[datetime, str, AnalysisBody]] = []
    for other in candidates:
        status = other.get("status") or AnalysisStatus()
        if uid_of(other) == me or status.get("state") != COMPLETED:
            continue
        if ((other.get("spec") or {}).get("args") or {}) != args or not _end(other):
            continue
        try:
            to = parse_time(_end(other))
        except ValueError:
            continue
        if to <= end:
            eligible.append((to, str(metadata_of(other).get("creationTimestamp") or ""), other))
    eligible.sort(key=lambda item: (item[0], item[1]), reverse=True)
    previous: dict[str, list[tuple[float | None, str]]] = {}
    for _, _, other in eligible:
        status = other.get("status") or AnalysisStatus()
        try:
            raw: AnalysisRaw = json.loads(status.get("raw") or "{}")
        except ValueError:
            continue
        verdict = raw.get("verdict") or _verdict(status)
        for entry in raw.get("objectiveResults") or ():
            try:
                name = parse_objective(entry.get("objective") or {}).name
            except ObjectiveError:
                continue
            value = None if entry.get("error") else entry.get("value")
            number = float(value) if isinstance(value, int | float) else None
            previous.setdefault(name, []).append((number, verdict))
    return previous
