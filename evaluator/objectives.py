"""Objective targets: parse them and decide whether a measured value fulfils them.

Three target languages live here, all pure (stdlib only, no I/O, no clock):

* KLT evaluation targets (KeptnEvaluationDefinition `evaluationTarget`): `<500`, `>1`. The
  first character is the operator, `<` or `>` (strict), the rest a float. Errors use KLT's
  words ("invalid operator", "empty value") so messages stay familiar.
* KLT Analysis operators (AnalysisDefinition `target.failure` / `target.warning`): exactly one
  of lessThan, lessThanOrEqual, greaterThan, greaterThanOrEqual, equalTo ({fixedValue}) or
  inRange, notInRange ({lowBound, highBound}); values are Kubernetes Quantities ("3m", "1k").
  Our extension: `relative: {operator, percent | absolute, aggregation, lookback, include}`
  compares against a baseline aggregated from previous results (Keptn v1 quality gates).
* Keptn v1 criteria: `Criterion` and the baselines (avg / p50 / p90 / p95 of previous values)
  live here; their string form (`<=+10%`, `>-5`; peers.md §3.3) is parsed in evaluator.criteria.

Invariants: every check returns a `Check` carrying the value, the target in string form and a
one-line reason; a relative criterion without a baseline passes (v1: "the first evaluation
always passes relative checks") — for a *failure/warning* target that means "not fulfilled".
Parsing never guesses: bad input raises `ObjectiveError` naming the problem.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from evaluator import quantities
from evaluator.bodies import OperatorBody, RelativeBody

__all__ = [
    "Aggregation",
    "AnalysisOperator",
    "Baseline",
    "Check",
    "Comparison",
    "Criterion",
    "EvaluationTarget",
    "Include",
    "ObjectiveError",
    "OperatorKind",
    "RelativeTarget",
    "Target",
    "aggregate",
    "check_evaluation_target",
    "format_number",
    "parse_choice",
    "parse_evaluation_target",
    "parse_operator",
    "parse_quantity",
    "parse_target",
]


class ObjectiveError(ValueError):
    """A target, operator or criterion that cannot be parsed or applied."""


_Choice = TypeVar("_Choice", bound=StrEnum)


def parse_choice(kind: type[_Choice], raw: object, where: str, field: str) -> _Choice:
    """``raw`` as a member of ``kind``; else an ObjectiveError naming the field and the choices."""
    for member in kind:
        if raw == member.value:
            return member
    choices = ", ".join(kind)
    raise ObjectiveError(f"{where}: invalid {field} {raw!r}: want one of {choices}")


def parse_quantity(raw: object) -> float:
    """A Kubernetes Quantity as float (see evaluator.quantities); errors are ObjectiveError."""
    try:
        return quantities.parse_quantity(raw)
    except quantities.QuantityError as err:
        raise ObjectiveError(str(err)) from None


def format_number(value: float) -> str:
    """Render a float the short way: 500 not 500.0, 0.25, nan, 5.72e+02 never."""
    if math.isnan(value) or math.isinf(value):
        return str(value)
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6g}"


@dataclass(frozen=True, slots=True)
class Check:
    """Whether `value` fulfils `target`, and why in one line."""

    fulfilled: bool
    value: float
    target: str
    reason: str


class Comparison(StrEnum):
    """A binary comparison `value <op> threshold`."""

    LT = "<"
    LE = "<="
    EQ = "="
    GE = ">="
    GT = ">"

    def holds(self, value: float, threshold: float) -> bool:
        """Apply the comparison; NaN never satisfies anything."""
        return _COMPARE[self](value, threshold)


_COMPARE: dict[Comparison, Callable[[float, float], bool]] = {
    Comparison.LT: operator.lt,
    Comparison.LE: operator.le,
    Comparison.EQ: operator.eq,
    Comparison.GE: operator.ge,
    Comparison.GT: operator.gt,
}


# --- KLT evaluation targets ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EvaluationTarget:
    """A KeptnEvaluationDefinition target such as `<500`."""

    comparison: Comparison
    threshold: float

    def __str__(self) -> str:
        return f"{self.comparison}{format_number(self.threshold)}"


def parse_evaluation_target(target: str) -> EvaluationTarget:
    """Parse `<500` / `>1` exactly as KLT does: one strict operator, then a float."""
    if not target:
        raise ObjectiveError("empty evaluation target")
    sign, rest = target[:1], target[1:]
    if sign not in ("<", ">"):
        raise ObjectiveError(f"invalid operator in target {target!r}: want '<' or '>'")
    try:
        threshold = float(rest)
    except ValueError:
        raise ObjectiveError(f"invalid target value in {target!r}") from None
    if math.isnan(threshold):
        raise ObjectiveError(f"invalid target value in {target!r}")
    return EvaluationTarget(Comparison(sign), threshold)


def check_evaluation_target(value: str, target: str) -> Check:
    """Judge a KeptnMetric `status.value` (a string) against an evaluation target."""
    parsed = parse_evaluation_target(target)
    if not value:
        raise ObjectiveError("empty value")
    try:
        number = float(value)
    except ValueError:
        raise ObjectiveError(f"value {value!r} is not a number") from None
    if math.isnan(number):
        raise ObjectiveError("value is NaN")
    ok = parsed.comparison.holds(number, parsed.threshold)
    verb = "met" if ok else "did not meet"
    return Check(ok, number, target, f"value '{value}' {verb} objective '{target}'")


# --- KLT Analysis operators ----------------------------------------------------------------


class OperatorKind(StrEnum):
    """The seven Analysis operators, spelled as in the CRD."""

    LESS_THAN = "lessThan"
    LESS_THAN_OR_EQUAL = "lessThanOrEqual"
    GREATER_THAN = "greaterThan"
    GREATER_THAN_OR_EQUAL = "greaterThanOrEqual"
    EQUAL_TO = "equalTo"
    IN_RANGE = "inRange"
    NOT_IN_RANGE = "notInRange"


_FIXED_OPS = {
    OperatorKind.LESS_THAN: Comparison.LT,
    OperatorKind.LESS_THAN_OR_EQUAL: Comparison.LE,
    OperatorKind.GREATER_THAN: Comparison.GT,
    OperatorKind.GREATER_THAN_OR_EQUAL: Comparison.GE,
    OperatorKind.EQUAL_TO: Comparison.EQ,
}


@dataclass(frozen=True, slots=True)
class AnalysisOperator:
    """One KLT operator: a fixed comparison, or an (inclusive) range test."""

    kind: OperatorKind
    fixed: float = 0.0
    low: float = 0.0
    high: float = 0.0
    body: OperatorBody | None = None  # the CRD form, echoed into status.raw

    def __str__(self) -> str:
        if self.kind in _FIXED_OPS:
            return f"{_FIXED_OPS[self.kind]}{format_number(self.fixed)}"
        inside = "in" if self.kind is OperatorKind.IN_RANGE else "not in"
        return f"{inside} [{format_number(self.low)}, {format_number(self.high)}]"

    def check(self, value: float, baseline: Baseline | None = None) -> Check:
        """Is the operator fulfilled by `value`? (`baseline` is unused: fixed targets.)"""
        if self.kind is OperatorKind.IN_RANGE:
            ok = self.low <= value <= self.high
        elif self.kind is OperatorKind.NOT_IN_RANGE:
            ok = not (self.low <= value <= self.high) and not math.isnan(value)
        else:
            ok = _FIXED_OPS[self.kind].holds(value, self.fixed)
        word = "fulfils" if ok else "does not fulfil"
        return Check(ok, value, str(self), f"{format_number(value)} {word} {self}")


def parse_operator(body: OperatorBody) -> AnalysisOperator:
    """Parse a CRD Operator object; errors use the admission webhook's messages."""
    present = [kind for kind in OperatorKind if body.get(kind.value) is not None]
    if len(present) > 1:
        raise ObjectiveError("Operator: multiple operators can not be set")
    if not present:
        raise ObjectiveError("Operator: no operator set")
    kind = present[0]
    spec = body.get(kind.value)
    if not isinstance(spec, Mapping):
        raise ObjectiveError(f"Operator: {kind.value} must be an object")
    if kind in _FIXED_OPS:
        if "fixedValue" not in spec:
            raise ObjectiveError(f"Operator: {kind.value} needs fixedValue")
        return AnalysisOperator(kind, fixed=parse_quantity(spec["fixedValue"]), body=body)
    if "lowBound" not in spec or "highBound" not in spec:
        raise ObjectiveError(f"Operator: {kind.value} needs lowBound and highBound")
    low, high = parse_quantity(spec["lowBound"]), parse_quantity(spec["highBound"])
    if low >= high:
        raise ObjectiveError(
            "RangeValue: lower bound of the range needs to be smaller than higher bound"
        )
    return AnalysisOperator(kind, low=low, high=high, body=body)


# --- Baselines ----------------------------------------------------------------------------


class Aggregation(StrEnum):
    """How previous values fold into one baseline (Keptn v1 `aggregate_function`)."""

    AVG = "avg"
    P50 = "p50"
    P90 = "p90"
    P95 = "p95"


class Include(StrEnum):
    """Which previous results are eligible for the baseline (v1 `include_result_with_score`)."""

    ALL = "all"
    PASS = "pass"
    PASS_OR_WARN = "pass_or_warn"

    def admits(self, verdict: str) -> bool:
        """Whether a previous result with overall `verdict` (pass/warning/fail) counts."""
        warned = verdict == "warning" and self is Include.PASS_OR_WARN
        return self is Include.ALL or verdict == "pass" or warned


def aggregate(values: Sequence[float], how: Aggregation) -> float:
    """v1's aggregation: the mean, or percentile with pos = p·(n+1) and linear interpolation."""
    if not values:
        raise ObjectiveError("cannot aggregate an empty list")
    if how is Aggregation.AVG:
        return sum(values) / len(values)
    ordered = sorted(values)
    n = len(ordered)
    pos = int(how.value[1:]) / 100 * (n + 1)
    # v1 also returns the min for pos < 1; with p ≥ 50 and n ≥ 1 pos is always ≥ 1.
    if pos >= n:
        return ordered[-1]
    lower = ordered[int(pos) - 1]
    upper = ordered[int(pos)]
    return lower + (pos - int(pos)) * (upper - lower)


@dataclass(frozen=True, slots=True)
class Baseline:
    """The aggregated previous value a relative target compares against."""

    value: float
    count: int
    aggregation: Aggregation

    def __str__(self) -> str:
        return f"{self.aggregation}={format_number(self.value)} of {self.count}"


# --- Relative targets (Keptn v1 criteria and our CRD extension) -----------------------------


@dataclass(frozen=True, slots=True)
class Criterion:
    """One v1 criterion: `<op><sign><amount><%>`; `relative` when signed or percent."""

    comparison: Comparison
    amount: float  # signed: -5 for "-5", +10 for "+10%" or "10%"
    percent: bool
    relative: bool
    text: str

    def threshold(self, baseline: Baseline | None) -> float | None:
        """The absolute number to compare against, or None when no baseline exists."""
        if not self.relative:
            return self.amount
        if baseline is None:
            return None
        if self.percent:
            return baseline.value * (100 + self.amount) / 100
        return baseline.value + self.amount

    def check(self, value: float, baseline: Baseline | None, *, no_baseline: bool) -> Check:
        """Apply the criterion; a relative one without baseline yields `no_baseline`."""
        threshold = self.threshold(baseline)
        if threshold is None:
            met = "met" if no_baseline else "not met"
            return Check(no_baseline, value, self.text, f"no baseline for {self.text}: {met}")
        ok = self.comparison.holds(value, threshold)
        target = f"{self.comparison}{format_number(threshold)}"
        where = f" ({self.text} of {baseline})" if self.relative else ""
        word = "fulfils" if ok else "does not fulfil"
        return Check(ok, value, target + where, f"{format_number(value)} {word} {target}{where}")


@dataclass(frozen=True, slots=True)
class RelativeTarget:
    """CRD extension `relative: {operator, percent|absolute, aggregation, lookback, include}`."""

    criterion: Criterion
    aggregation: Aggregation = Aggregation.AVG
    lookback: int = 3
    include: Include = Include.PASS
    body: OperatorBody | None = None

    def __str__(self) -> str:
        return f"{self.criterion.text} of {self.aggregation}(last {self.lookback})"

    def check(self, value: float, baseline: Baseline | None = None) -> Check:
        """Fulfilled when `value <op> target`; without baseline never fulfilled (so it passes)."""
        result = self.criterion.check(value, baseline, no_baseline=False)
        if baseline is None:
            return Check(False, value, str(self), f"no baseline for {self}: passes")
        return result

    def baseline(self, previous: Sequence[tuple[float | None, str]]) -> Baseline | None:
        """Aggregate the newest `lookback` eligible previous (value, verdict) pairs, newest first."""
        eligible = [v for v, verdict in previous if self.include.admits(verdict)]
        usable = [v for v in eligible[: self.lookback] if v is not None and not math.isnan(v)]
        if not usable:
            return None
        return Baseline(aggregate(usable, self.aggregation), len(usable), self.aggregation)


def _parse_relative(spec: RelativeBody, body: OperatorBody) -> RelativeTarget:
    comparison = parse_choice(Comparison, spec.get("operator", ""), "relative", "operator")
    has_pct, has_abs = "percent" in spec, "absolute" in spec
    if has_pct == has_abs:
        raise ObjectiveError("relative: set exactly one of percent and absolute")
    raw = spec["percent"] if has_pct else spec["absolute"]
    if isinstance(raw, bool) or not isinstance(raw, int | float) or math.isnan(raw):
        raise ObjectiveError(f"relative: {'percent' if has_pct else 'absolute'} must be a number")
    amount = float(raw)
    text = f"{comparison}{'+' if amount >= 0 else '-'}{format_number(abs(amount))}"
    text += "%" if has_pct else ""
    aggregation = parse_choice(
        Aggregation, spec.get("aggregation", "avg"), "relative", "aggregation"
    )
    include = parse_choice(Include, spec.get("include", "pass"), "relative", "include")
    lookback = spec.get("lookback", 3)
    if isinstance(lookback, bool) or not isinstance(lookback, int) or lookback < 1:
        raise ObjectiveError("relative: lookback must be an integer ≥ 1")
    criterion = Criterion(comparison, amount, has_pct, True, text)
    return RelativeTarget(criterion, aggregation, lookback, include, body)


Target = AnalysisOperator | RelativeTarget


def parse_target(body: OperatorBody) -> Target:
    """Parse `target.failure` / `target.warning`: a KLT operator or our `relative` block."""
    relative = body.get("relative")
    if relative is None:
        return parse_operator(body)
    if any(body.get(kind.value) is not None for kind in OperatorKind):
        raise ObjectiveError("Operator: relative can not be combined with another operator")
    if not isinstance(relative, Mapping):
        raise ObjectiveError("relative must be an object")
    return _parse_relative(relative, body)
