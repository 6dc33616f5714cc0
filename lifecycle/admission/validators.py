"""PURE validating webhooks: KeptnTaskDefinition, KeptnMetric, AnalysisDefinition, Analysis.

Role: one function per kind, body in, ``Verdict`` out, with KLT's messages (keptn.md §1.7,
§1.14, §1.16, §1.17) wrapped the way the API server shows them: field errors of a kind become an
``Invalid`` status (code 422, ``<Kind>.<group> "<name>" is invalid: <path>: <type>: <msg>``) as
controller-runtime's ``apierrors.NewInvalid`` does; AnalysisDefinition and Analysis return plain
errors in KLT, which controller-runtime turns into a 403 ``Forbidden`` with the bare text.
Durations and quantities are parsed by the project's one parser of each, ``evaluator.durations`` and
``evaluator.quantities`` (Go's ``time.ParseDuration`` and ``resource.ParseQuantity``, Go's texts).

Additions to KLT, each with its own message: an AnalysisDefinition objective weight must be a
positive integer (KLT's CRD defaults it to 1 but accepts 0 or less, which silently zeroes the
objective). Everything else is KLT's rule.

Must not: do I/O or import anything beyond the standard library, lifecycle.core.model and the
evaluator's pure parsers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from evaluator.bodies import OperatorBody
from evaluator.durations import parse_seconds
from evaluator.quantities import parse_quantity
from lifecycle.core.bodies import (
    AnalysisBody,
    AnalysisDefinitionBody,
    KeptnMetricBody,
    KeptnTaskDefinitionBody,
)
from lifecycle.core.kubebodies import AnyBody
from lifecycle.core.meta import name_of

__all__ = [
    "VALIDATORS",
    "Validator",
    "Verdict",
    "validate_analysis",
    "validate_analysis_definition",
    "validate_keptn_metric",
    "validate_task_definition",
]


@dataclass(frozen=True, slots=True)
class Verdict:
    """An admission decision: allowed, or denied with the message and HTTP code the API shows."""

    allowed: bool
    message: str = ""
    code: int = 200
    warnings: tuple[str, ...] = ()


_OK: Final = Verdict(True)


Validator = Callable[[AnyBody], Verdict]
"""A validating webhook: the object under review (typed as its kind's body) in, a verdict out."""


def _invalid(kind: str, group: str, body: AnyBody, errors: list[str]) -> Verdict:
    name = name_of(body)
    detail = errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"
    return Verdict(False, f'{kind}.{group} "{name}" is invalid: {detail}', 422)


def validate_task_definition(body: KeptnTaskDefinitionBody) -> Verdict:
    """Exactly one of container, python, deno."""
    spec = body.get("spec") or {}
    count = sum(
        v is not None for v in (spec.get("container"), spec.get("python"), spec.get("deno"))
    )
    if count == 1:
        return _OK
    text = (
        "Forbidden! Either Container, Python, or Deno field must be defined"
        if count == 0
        else "Forbidden! Only one of Container, Python, or Deno field can be defined"
    )
    error = f'spec: Invalid value: "object": {text}'
    return _invalid("KeptnTaskDefinition", "lifecycle.keptn.sh", body, [error])


_UNPARSABLE: Final = (
    "Forbidden! The time interval cannot be parsed. Please check for suitable conventions"
)


def validate_keptn_metric(body: KeptnMetricBody) -> Verdict:
    """range.interval and range.step parse as durations; step and aggregation come together."""
    window = (body.get("spec") or {}).get("range")
    if not isinstance(window, Mapping):
        return _OK
    errors: list[str] = []
    interval = window.get("interval", "5m")  # the CRD default when the field is omitted
    step = window.get("step") or ""
    aggregation = window.get("aggregation") or ""
    for path, value in (("interval", interval), ("step", step)):
        if path == "step" and not value:
            continue
        try:
            parse_seconds(str(value))
        except ValueError:
            errors.append(f'spec.range.{path}: Invalid value: "{value}": {_UNPARSABLE}')
    if step and not aggregation:
        errors.append(
            "spec.range.aggregation: Required value: "
            "Forbidden! Aggregation field is required if defining the step field"
        )
    elif aggregation and not step:
        errors.append(
            "spec.range.step: Required value: "
            "Forbidden! Step interval is required for the aggregation to work"
        )
    return _invalid("KeptnMetric", "metrics.keptn.sh", body, errors) if errors else _OK


_OPERATORS: Final = OperatorBody.__optional_keys__  # KLT's, and "relative" (our extension)


def _operator_error(operator: OperatorBody) -> str | None:
    present = [key for key in _OPERATORS if operator.get(key) is not None]
    if len(present) > 1:
        return "Operator: multiple operators can not be set"
    if not present:
        return "Operator: no operator set"
    value: Any = operator.get(present[0])
    if present[0] == "relative":
        return None  # its fields are typed and bounded by the CRD schema
    try:
        if present[0] in ("inRange", "notInRange"):
            low = parse_quantity(value.get("lowBound", 0))
            high = parse_quantity(value.get("highBound", 0))
            if low >= high:
                return "RangeValue: lower bound of the range needs to be smaller than higher bound"
        else:
            parse_quantity(value.get("fixedValue"))
    except (ValueError, AttributeError) as exc:
        return f"Operator: {present[0]}: {exc}"
    return None


def _forbidden(message: str) -> Verdict:
    return Verdict(False, message, 403)


def validate_analysis_definition(body: AnalysisDefinitionBody) -> Verdict:
    """Each target has one valid operator, ranges are ordered, weights positive, warn < pass.

    Messages are KLT's, prefixed with the path of the field they concern.
    """
    spec = body.get("spec") or {}
    for index, objective in enumerate(spec.get("objectives") or ()):
        where = f"spec.objectives[{index}]"
        target = objective.get("target") or {}
        for which, operator in (
            ("failure", target.get("failure")),
            ("warning", target.get("warning")),
        ):
            if operator is not None:
                error = _operator_error(
                    operator if isinstance(operator, Mapping) else OperatorBody()
                )
                if error:
                    return _forbidden(f"{where}.target.{which}: {error}")
        weight = objective.get("weight", 1)
        if not isinstance(weight, int) or isinstance(weight, bool) or weight < 1:
            return _forbidden(
                f"{where}.weight: Objective: weight must be a positive integer, got {weight!r}"
            )
    score = spec.get("totalScore") or {}
    if score.get("warningPercentage", 0) >= score.get("passPercentage", 0):
        return _forbidden(
            "spec.totalScore: "
            "warn percentage score cannot be higher or equal than Pass percentage score"
        )
    return _OK


def _timestamp(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def validate_analysis(body: AnalysisBody) -> Verdict:
    """Either ``recent`` alone, or ``from`` < ``to``."""
    frame = (body.get("spec") or {}).get("timeframe") or {}
    prefix = 'spec.timeframe: Invalid value: "object": '
    try:
        start, end = _timestamp(frame.get("from")), _timestamp(frame.get("to"))
        recent = parse_seconds(str(frame["recent"])) if frame.get("recent") else 0.0
    except ValueError as exc:
        return _forbidden(prefix + str(exc))
    if recent:
        if start is not None or end is not None:
            return _forbidden(
                prefix + "the field 'recent' can not be used in conjunction with 'from'/'to'"
            )
        return _OK
    if start is None or end is None:
        return _forbidden(prefix + "either 'recent' or both 'from' and 'to'  must be set")
    if not end > start:
        return _forbidden(prefix + "value of 'to' must be a timestamp later than 'from'")
    return _OK


# URL path of each validating webhook (KLT's kubebuilder paths) -> validator.
VALIDATORS: Final[Mapping[str, Validator]] = {
    "/validate-lifecycle-keptn-sh-v1-keptntaskdefinition": validate_task_definition,
    "/validate-metrics-keptn-sh-v1-keptnmetric": validate_keptn_metric,
    "/validate-metrics-keptn-sh-v1-analysisdefinition": validate_analysis_definition,
    "/validate-metrics-keptn-sh-v1-analysis": validate_analysis,
}
