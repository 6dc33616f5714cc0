"""`klt convert sli|slo FILE`: Keptn v1 SLI and SLO files as AnalysisValueTemplates and an
AnalysisDefinition (metrics.keptn.sh/v1), as KLT's metrics operator's `--convert-sli` and
`--convert-slo` do, printed as YAML on stdout (notes on stderr).

SLI (`indicators: {name: query}`): one AnalysisValueTemplate per indicator, provider given by
`--provider` (and `--provider-namespace`); `$NAME` placeholders become `{{.name}}` (KLT:
`$PROJECT` -> `{{.project}}`). Unlike KLT, names are made valid Kubernetes names
(`response_time_p95` -> `response-time-p95`; KLT keeps the underscore, which an API server
refuses), the same way in both commands so the references match.

SLO: one AnalysisDefinition (`--definition`, templates in `--template-namespace`). KLT's rules:
an objective's pass and warning blocks (one `criteria` list each, ANDed) become target
intervals; failure = outside the looser interval, warning = outside the stricter one (or, when
pass is the superset, warning = inside the warning interval); `weight`, `key_sli` ->
`keyObjective`; `total_score` percentages. KLT drops relative criteria (`<=+10%`, `>-5`)
and leaves objectives with several criteria blocks (OR) or disjoint intervals with
`target: {}`. Here a block made of a single relative criterion becomes our `relative` target
(`comparison` gives aggregation, lookback and include); relative criteria mixed with fixed
ones are dropped as in KLT, each named in a note. Pure functions plus `run`.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict, cast

import yaml

from evaluator.criteria import parse_criterion
from evaluator.objectives import Criterion, ObjectiveError
from lifecycle.core.bodies import AnalysisValueTemplateBody

__all__ = ["add_arguments", "convert_sli", "convert_slo", "k8s_name", "run"]

API_VERSION = "metrics.keptn.sh/v1"
_PLACEHOLDER = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_NEGATE = {"<": ">=", "<=": ">", ">": "<=", ">=": "<"}
_OP_NAMES = {
    "<": "lessThan",
    "<=": "lessThanOrEqual",
    ">": "greaterThan",
    ">=": "greaterThanOrEqual",
    "=": "equalTo",
}


class Comparison(TypedDict, total=False):  # slo.yaml `comparison`
    aggregate_function: str  # avg | p50 | p90 | p95
    compare_with: str  # single_result | several_results
    number_of_comparison_results: int
    include_result_with_score: str  # all | pass | pass_or_warn


class Criteria(TypedDict, total=False):
    criteria: list[str]


# Functional form because the YAML key "pass" is a Python keyword.
SloObjective = TypedDict(
    "SloObjective",
    {"sli": str, "pass": list[Criteria], "warning": list[Criteria], "weight": int, "key_sli": bool},
    total=False,
)


class Slo(TypedDict, total=False):  # a Keptn v1 slo.yaml: the fields read
    comparison: Comparison
    objectives: list[SloObjective]
    total_score: dict[str, str]  # {pass: "90%", warning: "75%"}


class Baseline(TypedDict):  # the fields of a `relative` target that `comparison` gives
    aggregation: str
    lookback: int
    include: str


class ConvertError(ValueError):
    """A Keptn v1 file this converter cannot read; the message names the field."""


def k8s_name(name: str) -> str:
    """A valid Kubernetes object name for an SLI name."""
    out = re.sub(r"[^a-z0-9.-]+", "-", name.lower()).strip("-.")
    if not out:
        raise ConvertError(f"sli name {name!r} has no letters or digits")
    return out[:253]


def convert_sli(
    doc: object, provider: str, provider_namespace: str
) -> list[AnalysisValueTemplateBody]:
    """AnalysisValueTemplates for the `indicators` of a Keptn v1 SLI file."""
    indicators = doc.get("indicators") if isinstance(doc, dict) else None
    if not isinstance(indicators, dict) or not indicators:
        raise ConvertError("indicators: expected a map of SLI name to query")
    out: list[AnalysisValueTemplateBody] = []
    for name, query in sorted(indicators.items()):
        if not isinstance(query, str):
            raise ConvertError(f"indicators.{name}: expected a query string")
        ref = {"name": provider}
        if provider_namespace:
            ref["namespace"] = provider_namespace
        out.append(
            {
                "apiVersion": API_VERSION,
                "kind": "AnalysisValueTemplate",
                "metadata": {"name": k8s_name(str(name))},
                "spec": {
                    "provider": ref,
                    "query": _PLACEHOLDER.sub(lambda m: "{{." + m.group(1).lower() + "}}", query),
                },
            }
        )
    return out


@dataclass(frozen=True, slots=True)
class Interval:
    """Fixed criteria ANDed: low/high bounds (None = unbounded), or an `=` value."""

    low: float | None = None
    high: float | None = None
    low_op: str = ">="
    high_op: str = "<="
    equal: float | None = None

    def contains(self, other: Interval) -> bool:
        lo_ok = self.low is None or (other.low is not None and other.low >= self.low)
        hi_ok = self.high is None or (other.high is not None and other.high <= self.high)
        return lo_ok and hi_ok

    def overlaps(self, other: Interval) -> bool:
        lo = max(x for x in (self.low, other.low, float("-inf")) if x is not None)
        hi = min(x for x in (self.high, other.high, float("inf")) if x is not None)
        return lo <= hi

    def operator(self, negate: bool) -> dict[str, object]:
        """The target operator meaning `value in self` (or, negated, `value not in self`)."""
        if self.equal is not None:
            q = _qty(self.equal)
            if negate:
                return {"notInRange": {"lowBound": q, "highBound": q}}
            return {"equalTo": {"fixedValue": q}}
        if self.low is not None and self.high is not None:
            key = "notInRange" if negate else "inRange"
            return {key: {"lowBound": _qty(self.low), "highBound": _qty(self.high)}}
        op, bound = (self.low_op, self.low) if self.low is not None else (self.high_op, self.high)
        assert bound is not None
        if negate:
            op = _NEGATE[op]
        return {_OP_NAMES[op]: {"fixedValue": _qty(bound)}}


def _relative(criterion: Criterion, negate: bool, comparison: Baseline) -> dict[str, object] | None:
    """The `relative` target of one relative criterion (`<=+10%`: percent, `<=+5`: absolute)."""
    op = _NEGATE.get(criterion.comparison) if negate else str(criterion.comparison)
    if op is None:
        return None  # `not =` has no relative operator
    kind = "percent" if criterion.percent else "absolute"
    return {"relative": {"operator": op, kind: criterion.amount, **comparison}}


def _qty(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


def _block(criteria: list[object], where: str, notes: list[str]) -> Interval | Criterion | None:
    """One ANDed criteria list as an Interval (KLT: the first two fixed criteria) or a relative
    Criterion."""
    parsed: list[Criterion] = []
    for text in criteria:
        try:
            parsed.append(parse_criterion(str(text)))
        except ObjectiveError:
            raise ConvertError(f"{where}: cannot read criterion {text!r}") from None
    fixed = [(str(c.comparison), c.amount) for c in parsed if not c.relative]
    relative = [c for c in parsed if c.relative]
    if fixed:
        for rel in relative:
            notes.append(f"{where}: relative criterion {rel.text!r} dropped beside fixed ones")
        if len(fixed) > 2:
            notes.append(f"{where}: only the first two fixed criteria are kept (as KLT)")
        return _interval(fixed[:2])
    if len(relative) == 1:
        return relative[0]
    if relative:
        notes.append(f"{where}: several relative criteria cannot be one target; dropped")
    return None


def _interval(fixed: list[tuple[str, float]]) -> Interval:
    low = high = equal = None
    low_op, high_op = ">=", "<="
    for op, value in fixed:
        if op == "=":
            equal = value
        elif op in (">", ">=") and (low is None or value > low):
            low, low_op = value, op
        elif op in ("<", "<=") and (high is None or value < high):
            high, high_op = value, op
    return Interval(low, high, low_op, high_op, equal)


def _condition(
    cond: Interval | Criterion, negate: bool, comparison: Baseline
) -> dict[str, object] | None:
    if isinstance(cond, Interval):
        return cond.operator(negate)
    return _relative(cond, negate, comparison)


def _target(
    obj: SloObjective, where: str, comparison: Baseline, notes: list[str]
) -> dict[str, object]:
    blocks = {}
    for key in ("pass", "warning"):
        value = obj.get(key) or []
        if not isinstance(value, list):
            raise ConvertError(f"{where}.{key}: expected a list of {{criteria: [...]}}")
        if len(value) > 1:
            notes.append(f"{where}.{key}: several criteria blocks (OR) are not converted (as KLT)")
            return {}
        if value:
            crit = (value[0] or {}).get("criteria") if isinstance(value[0], dict) else None
            if not isinstance(crit, list):
                raise ConvertError(f"{where}.{key}[0].criteria: expected a list of strings")
            cond = _block(crit, f"{where}.{key}", notes)
            if cond is not None:
                blocks[key] = cond
    passing, warning = blocks.get("pass"), blocks.get("warning")
    if passing is None and warning is None:
        return {}
    if passing is None or warning is None:
        only = passing or warning
        assert only is not None
        failure = _condition(only, True, comparison)
        return {"failure": failure} if failure else {}
    if isinstance(passing, Interval) and isinstance(warning, Interval):
        if passing.contains(warning) and not warning.contains(passing):
            return {"failure": passing.operator(True), "warning": warning.operator(False)}
        if not passing.overlaps(warning):
            notes.append(f"{where}: pass and warning intervals do not intersect; not converted")
            return {}
    out = {
        "failure": _condition(warning, True, comparison),
        "warning": _condition(passing, True, comparison),
    }
    return {k: v for k, v in out.items() if v}


def _comparison(doc: Slo, notes: list[str]) -> Baseline:
    comp = doc.get("comparison") or {}
    agg = str(comp.get("aggregate_function") or "avg")
    if agg not in ("avg", "p50", "p90", "p95"):
        notes.append(f"comparison.aggregate_function: {agg} is not supported; avg used")
        agg = "avg"
    several = comp.get("compare_with") == "several_results"
    lookback = int(comp.get("number_of_comparison_results") or 1) if several else 1
    include = str(comp.get("include_result_with_score") or "all")
    return {"aggregation": agg, "lookback": lookback, "include": include}


def _percent(value: object, where: str) -> int:
    text = str(value).strip().rstrip("%")
    try:
        return int(float(text))
    except ValueError:
        raise ConvertError(f'{where}: expected a percentage such as "90%", got {value!r}') from None


def convert_slo(
    file: object, definition: str, template_namespace: str
) -> tuple[dict[str, object], list[str]]:
    """The AnalysisDefinition of a Keptn v1 SLO file, and notes on what was not converted."""
    if not isinstance(file, dict) or not isinstance(file.get("objectives"), list):
        raise ConvertError("objectives: expected a list")
    doc = cast(Slo, file)  # the YAML as loaded: each field is checked as it is read
    notes: list[str] = []
    comparison = _comparison(doc, notes)
    objectives = []
    for i, obj in enumerate(doc["objectives"]):
        if not isinstance(obj, dict) or not obj.get("sli"):
            raise ConvertError(f"objectives[{i}].sli: required")
        where = f"objectives[{i}] ({obj['sli']})"
        ref = {"name": k8s_name(str(obj["sli"]))}
        if template_namespace:
            ref["namespace"] = template_namespace
        out: dict[str, object] = {
            "analysisValueTemplateRef": ref,
            "target": _target(obj, where, comparison, notes),
        }
        if "weight" in obj:
            out["weight"] = int(obj["weight"])
        if obj.get("key_sli"):
            out["keyObjective"] = True
        objectives.append(out)
    score = doc.get("total_score") or {}
    body: dict[str, object] = {
        "apiVersion": API_VERSION,
        "kind": "AnalysisDefinition",
        "metadata": {"name": definition},
        "spec": {
            "objectives": objectives,
            "totalScore": {
                "passPercentage": _percent(score.get("pass", "90%"), "total_score.pass"),
                "warningPercentage": _percent(score.get("warning", "75%"), "total_score.warning"),
            },
        },
    }
    return body, notes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", choices=["sli", "slo"], help="the Keptn v1 file's kind")
    parser.add_argument("file", type=Path, help="sli.yaml or slo.yaml")
    parser.add_argument("--provider", default="prometheus", help="sli: KeptnMetricsProvider name")
    parser.add_argument("--provider-namespace", default="", help="sli: its namespace")
    parser.add_argument(
        "--definition", default="", help="slo: AnalysisDefinition name (default: the file name)"
    )
    parser.add_argument("--template-namespace", default="", help="slo: namespace of the templates")


def run(args: argparse.Namespace) -> int:
    try:
        doc = yaml.safe_load(args.file.read_text(encoding="utf-8"))
        if args.kind == "sli":
            docs: list[Mapping[str, object]] = [
                *convert_sli(doc, args.provider, args.provider_namespace)
            ]
            notes: list[str] = []
        else:
            name = args.definition or k8s_name(args.file.stem)
            definition, notes = convert_slo(doc, name, args.template_namespace)
            docs = [definition]
    except (OSError, yaml.YAMLError, ConvertError) as exc:
        print(f"klt convert {args.kind}: {args.file}: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(yaml.safe_dump_all(docs, sort_keys=False, explicit_start=True))
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    return 0
