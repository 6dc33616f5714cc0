"""PURE validating webhooks: KeptnTaskDefinition, KeptnMetric, AnalysisDefinition, Analysis.

Role: one function per kind, body in, ``Verdict`` out, with KLT's messages (keptn.md §1.7,
§1.14, §1.16, §1.17) wrapped the way the API server shows them: field errors of a kind become an
``Invalid`` status (code 422, ``<Kind>.<group> "<name>" is invalid: <path>: <type>: <msg>``) as
controller-runtime's ``apierrors.NewInvalid`` does; AnalysisDefinition and Analysis return plain
errors in KLT, which controller-runtime turns into a 403 ``Forbidden`` with the bare text.
``parse_duration`` (Go's ``time.ParseDuration``) lives here because admission is where durations are
first checked; lifecycle.core.runtimes reuses it for task timeouts.

Additions to KLT, each with its own message: an AnalysisDefinition objective weight must be a
positive integer (KLT's CRD defaults it to 1 but accepts 0 or less, which silently zeroes the
objective). Everything else is KLT's rule.

Must not: do I/O or import anything beyond the standard library and lifecycle.core.model.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

__all__ = [
    "VALIDATORS",
    "Verdict",
    "parse_duration",
    "parse_quantity",
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
_UNIT_SECONDS: Final[Mapping[str, float]] = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_DURATION_PART: Final = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)")


def parse_duration(text: str) -> float:
    """Go's time.ParseDuration in seconds (``"1h30m"``, ``"1.5s"``, ``"0"``); ValueError if invalid."""
    s = text
    sign = -1.0 if s.startswith("-") else 1.0
    s = s[1:] if s[:1] in "+-" and s else s
    if s == "0":
        return 0.0
    if not s:
        raise ValueError(f'time: invalid duration "{text}"')
    total, pos = 0.0, 0
    while pos < len(s):
        match = _DURATION_PART.match(s, pos)
        if match is None or match.group(1) in ("", "."):
            raise ValueError(f'time: invalid duration "{text}"')
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    return sign * total


_QUANTITY: Final = re.compile(
    r"^([+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+))(?:([eE][+-]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E))?$"
)
_SUFFIX: Final[Mapping[str, float]] = {
    "n": 1e-9,
    "u": 1e-6,
    "m": 1e-3,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "E": 1e18,
    "Ki": 2.0**10,
    "Mi": 2.0**20,
    "Gi": 2.0**30,
    "Ti": 2.0**40,
    "Pi": 2.0**50,
    "Ei": 2.0**60,
}


def parse_quantity(value: Any) -> float:
    """A Kubernetes resource.Quantity (``"500m"``, ``"1Ki"``, ``"1e3"``, 2) as a float."""
    if isinstance(value, bool):
        raise ValueError(f"quantities must match the regular expression: {value!r}")
    if isinstance(value, int | float):
        return float(value)
    match = _QUANTITY.match(str(value).strip())
    if match is None:
        raise ValueError(f"quantities must match the regular expression: {value!r}")
    number = float(match.group(1))
    if match.group(2):
        return number * 10.0 ** int(match.group(2)[1:])
    return number * _SUFFIX.get(match.group(3) or "", 1.0)


def _invalid(kind: str, group: str, body: Mapping[str, Any], errors: list[str]) -> Verdict:
    name = (body.get("metadata") or {}).get("name", "")
    detail = errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"
    return Verdict(False, f'{kind}.{group} "{name}" is invalid: {detail}', 422)


def _spec(body: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = body.get("spec")
    return spec if isinstance(spec, Mapping) else {}


def validate_task_definition(body: Mapping[str, Any]) -> Verdict:
    """Exactly one of container, python, deno."""
    spec = _spec(body)
    count = sum(1 for key in ("container", "python", "deno") if spec.get(key) is not None)
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


def validate_keptn_metric(body: Mapping[str, Any]) -> Verdict:
    """range.interval and range.step parse as durations; step and aggregation come together."""
    window = _spec(body).get("range")
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
            parse_duration(str(value))
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


_OPERATORS: Final = (
    "lessThan",
    "lessThanOrEqual",
    "greaterThan",
    "greaterThanOrEqual",
    "equalTo",
    "inRange",
    "notInRange",
    "relative",  # our extension (deploy/crds): a criterion against previous analyses
)


def _operator_error(operator: Mapping[str, Any]) -> str | None:
    present = [key for key in _OPERATORS if operator.get(key) is not None]
    if len(present) > 1:
        return "Operator: multiple operators can not be set"
    if not present:
        return "Operator: no operator set"
    value = operator[present[0]]
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


def validate_analysis_definition(body: Mapping[str, Any]) -> Verdict:
    """Each target has one valid operator, ranges are ordered, weights positive, warn < pass.

    Messages are KLT's, prefixed with the path of the field they concern.
    """
    spec = _spec(body)
    for index, objective in enumerate(spec.get("objectives") or ()):
        where = f"spec.objectives[{index}]"
        target = objective.get("target") or {}
        for which in ("failure", "warning"):
            operator = target.get(which)
            if operator is not None:
                error = _operator_error(operator if isinstance(operator, Mapping) else {})
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


def _timestamp(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def validate_analysis(body: Mapping[str, Any]) -> Verdict:
    """Either ``recent`` alone, or ``from`` < ``to``."""
    frame = _spec(body).get("timeframe") or {}
    prefix = 'spec.timeframe: Invalid value: "object": '
    try:
        start, end = _timestamp(frame.get("from")), _timestamp(frame.get("to"))
        recent = parse_duration(str(frame["recent"])) if frame.get("recent") else 0.0
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
VALIDATORS: Final[Mapping[str, Callable[[Mapping[str, Any]], Verdict]]] = {
    "/validate-lifecycle-keptn-sh-v1-keptntaskdefinition": validate_task_definition,
    "/validate-metrics-keptn-sh-v1-keptnmetric": validate_keptn_metric,
    "/validate-metrics-keptn-sh-v1-analysisdefinition": validate_analysis_definition,
    "/validate-metrics-keptn-sh-v1-analysis": validate_analysis,
}
