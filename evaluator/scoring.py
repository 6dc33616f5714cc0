"""Scoring: objective results -> a score, pass / warning / fail, each with an explanation.

Two scorers share one total rule, both pure (stdlib only, no I/O, no clock):

* KLT Analysis (reference/keptn.md §10.3): per objective, `failure` fulfilled -> fail (score 0),
  else `warning` fulfilled -> warning (weight/2), else pass (weight). A failed key objective
  fails the whole analysis whatever the score.
* Keptn v1 quality gates (peers.md §3.4, in evaluator.criteria): pass blocks (OR of AND-ed
  criteria) -> weight, else warning blocks -> weight/2, else 0; no pass criteria -> "info".

Total: percentage = 100·Σscore/Σweight (100 when both are equal, including 0/0: nothing to
judge passes, as v1 does); pass if ≥ passPercentage, else warning if ≥ warningPercentage,
else fail; a key failure forces fail.

Our extensions (CRD fields fixed with the CRD author): `informational: true` objectives are
measured and reported but score 0 and count nowhere (never failing, Argo's dry-run);
`noData: fail|warning|pass|ignore` says what a missing or NaN value means (`ignore` drops the
objective from the maximum). A query error (not "no data") always fails the objective.

Every `ObjectiveResult` carries value, target (string form) and a one-line reason.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import cast

from evaluator.bodies import ObjectiveBody
from evaluator.objectives import (
    Baseline,
    Check,
    ObjectiveError,
    RelativeTarget,
    Target,
    format_number,
    parse_choice,
    parse_target,
)

__all__ = [
    "SHARE",
    "AnalysisScore",
    "NoData",
    "ObjectiveResult",
    "ObjectiveSpec",
    "ObjectiveStatus",
    "TotalScore",
    "Verdict",
    "evaluate_objective",
    "parse_objective",
    "parse_total_score",
    "score_analysis",
]

Previous = Sequence[tuple[float | None, str]]  # (value, overall verdict), newest first


class Verdict(StrEnum):
    """The overall result of an analysis."""

    PASS = "pass"
    WARNING = "warning"
    FAIL = "fail"


class ObjectiveStatus(StrEnum):
    """The result of one objective; `info` and `ignored` never count."""

    PASS = "pass"
    WARNING = "warning"
    FAIL = "fail"
    INFO = "info"
    IGNORED = "ignored"


class NoData(StrEnum):
    """What a missing (or NaN) value means for an objective."""

    FAIL = "fail"
    WARNING = "warning"
    PASS = "pass"
    IGNORE = "ignore"


# The share of the weight a status scores (fail, info and ignored score nothing).
SHARE = {ObjectiveStatus.PASS: 1.0, ObjectiveStatus.WARNING: 0.5}


@dataclass(frozen=True, slots=True)
class ObjectiveSpec:
    """One AnalysisDefinition objective, parsed."""

    name: str
    failure: Target | None = None
    warning: Target | None = None
    weight: int = 1
    key: bool = False
    informational: bool = False
    no_data: NoData = NoData.FAIL

    @property
    def target(self) -> str:
        """Both targets in one string, e.g. `failure >800; warning >+10% of avg(last 3)`."""
        pairs = (("failure", self.failure), ("warning", self.warning))
        return "; ".join(f"{name} {target}" for name, target in pairs if target is not None)


@dataclass(frozen=True, slots=True)
class ObjectiveResult:
    """A judged objective: what was measured, against what, the verdict and why."""

    name: str
    status: ObjectiveStatus
    score: float
    weight: float  # what the objective adds to the maximum score (0 for info/ignored)
    key: bool
    value: float | None
    target: str
    reason: str
    failure: Check | None = None
    warning: Check | None = None
    error: str | None = None


def parse_objective(objective: ObjectiveBody | Mapping[str, object]) -> ObjectiveSpec:
    """Parse one `spec.objectives[]` entry; the name is its template's (KLT's storedValues key).

    A plain mapping is an objective read back from a previous Analysis' `status.raw` (written
    from an ObjectiveBody by evaluator.analysis): every field is checked below as it is read.
    """
    body = cast(ObjectiveBody, objective)
    ref = body.get("analysisValueTemplateRef") or {}
    name = ref.get("name") if isinstance(ref, Mapping) else None
    if not isinstance(name, str) or not name:
        raise ObjectiveError("objective: analysisValueTemplateRef.name is required")
    if ref.get("namespace"):
        name = f"{name}-{ref['namespace']}"
    target = body.get("target") or {}
    failure, warning = target.get("failure"), target.get("warning")
    weight = body.get("weight", 1)
    if isinstance(weight, bool) or not isinstance(weight, int) or weight < 0:
        raise ObjectiveError(f"objective {name}: weight must be a non-negative integer")
    no_data = parse_choice(NoData, body.get("noData", "fail"), f"objective {name}", "noData")
    return ObjectiveSpec(
        name=name,
        failure=parse_target(failure) if failure else None,
        warning=parse_target(warning) if warning else None,
        weight=weight,
        key=bool(body.get("keyObjective", False)),
        informational=bool(body.get("informational", False)),
        no_data=no_data,
    )


def _judge(spec: ObjectiveSpec, value: float, previous: Previous) -> ObjectiveResult:
    fail = warn = None
    if spec.failure is not None:
        fail = spec.failure.check(value, _baseline(spec.failure, previous))
    if spec.warning is not None:
        warn = spec.warning.check(value, _baseline(spec.warning, previous))
    if fail is not None and fail.fulfilled:
        status, why = ObjectiveStatus.FAIL, f"failure target met: {fail.reason}"
    elif warn is not None and warn.fulfilled:
        status, why = ObjectiveStatus.WARNING, f"warning target met: {warn.reason}"
    else:
        status = ObjectiveStatus.PASS
        misses = [c.reason for c in (fail, warn) if c is not None]
        why = "; ".join(misses) if misses else "no target set"
    return _result(spec, status, value, why, fail, warn)


def _baseline(target: Target, previous: Previous) -> Baseline | None:
    return target.baseline(previous) if isinstance(target, RelativeTarget) else None


def _result(
    spec: ObjectiveSpec,
    status: ObjectiveStatus,
    value: float | None,
    why: str,
    fail: Check | None = None,
    warn: Check | None = None,
    error: str | None = None,
) -> ObjectiveResult:
    if spec.informational:  # measured and explained, but scored nowhere and never key
        shown, weight, key = ObjectiveStatus.INFO, 0.0, False
        reason = f"informational (would be {status}): {why}"
    else:
        shown, key, reason = status, spec.key, f"{status}: {why}"
        weight = 0.0 if status is ObjectiveStatus.IGNORED else float(spec.weight)
    return ObjectiveResult(
        name=spec.name,
        status=shown,
        score=weight * SHARE.get(shown, 0.0),
        weight=weight,
        key=key,
        value=value,
        target=spec.target,
        reason=reason,
        failure=fail,
        warning=warn,
        error=error,
    )


def evaluate_objective(
    spec: ObjectiveSpec,
    value: float | None,
    *,
    error: str | None = None,
    previous: Previous = (),
) -> ObjectiveResult:
    """Judge one KLT objective. `value=None` (or NaN) is no data; `error` is a failed query."""
    if error is not None:
        return _result(spec, ObjectiveStatus.FAIL, value, f"query failed: {error}", error=error)
    if value is None or math.isnan(value):
        ignore = spec.no_data is NoData.IGNORE
        status = ObjectiveStatus.IGNORED if ignore else ObjectiveStatus(spec.no_data.value)
        return _result(spec, status, None, f"no data (noData: {spec.no_data})")
    return _judge(spec, value, previous)


# --- Totals -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TotalScore:
    """AnalysisDefinition `spec.totalScore` (percentages 0..100); warning optional for v1."""

    pass_percentage: float
    warning_percentage: float | None = None


def parse_total_score(body: Mapping[str, float]) -> TotalScore:
    """Parse and validate `spec.totalScore` with the admission webhook's messages."""
    try:
        passing = float(body["passPercentage"])
        warning = float(body["warningPercentage"])
    except (KeyError, TypeError, ValueError):
        raise ObjectiveError(
            "totalScore needs numeric passPercentage and warningPercentage"
        ) from None
    for number in (passing, warning):
        if not 0 <= number <= 100:
            raise ObjectiveError("totalScore percentages must be within 0..100")
    if warning >= passing:
        raise ObjectiveError(
            "warn percentage score cannot be higher or equal than Pass percentage score"
        )
    return TotalScore(passing, warning)


@dataclass(frozen=True, slots=True)
class AnalysisScore:
    """The total: score, maximum, percentage, verdict and the reason for it."""

    objectives: tuple[ObjectiveResult, ...]
    total_score: float
    maximum_score: float
    percentage: float
    verdict: Verdict
    key_failed: tuple[str, ...]
    reason: str
    counts: Mapping[str, int] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """KLT's `status.pass`."""
        return self.verdict is Verdict.PASS

    @property
    def warning(self) -> bool:
        """KLT's `status.warning`."""
        return self.verdict is Verdict.WARNING


def score_analysis(results: Sequence[ObjectiveResult], total: TotalScore) -> AnalysisScore:
    """Fold objective results into the total verdict (KLT §10.3 and v1 §3.5 alike)."""
    achieved = sum(r.score for r in results)
    maximum = sum(r.weight for r in results)
    percentage = 100.0 if achieved == maximum else 100.0 * achieved / maximum
    key_failed = tuple(r.name for r in results if r.key and r.status is ObjectiveStatus.FAIL)
    summary = f"score {percentage:.1f}% ({format_number(achieved)} of {format_number(maximum)})"
    warn = total.warning_percentage
    if key_failed:
        verdict = Verdict.FAIL
        reason = f"{summary} but key objective {', '.join(key_failed)} failed -> fail"
    elif percentage >= total.pass_percentage:
        verdict = Verdict.PASS
        reason = f"{summary} ≥ pass {format_number(total.pass_percentage)}% -> pass"
    elif warn is not None and percentage >= warn:
        verdict = Verdict.WARNING
        reason = (
            f"{summary} ≥ warning {format_number(warn)}% but < pass "
            f"{format_number(total.pass_percentage)}% -> warning"
        )
    else:
        verdict = Verdict.FAIL
        floor = total.pass_percentage if warn is None else warn
        reason = (
            f"{summary} < {'pass' if warn is None else 'warning'} {format_number(floor)}% -> fail"
        )
    counts = dict(Counter(r.status.value for r in results))
    return AnalysisScore(
        tuple(results), achieved, maximum, percentage, verdict, key_failed, reason, counts
    )
