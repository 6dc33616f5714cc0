"""The CRD shapes the evaluator parses and the Analysis `status.raw` it writes, as TypedDicts.

The evaluator never imports lifecycle (.importlinter), so the parsed shapes mirror the
AnalysisDefinition objective, target and operator and the KeptnMetric range of
lifecycle.core.bodies. Their items are ReadOnly (PEP 705): the operator's own typed bodies pass
as they are (a read-only item accepts a narrower type), and mypy checks every field the parsers
read. `AnalysisRaw` is what evaluator.analysis writes and the release view reads back.
Pure: typing only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypedDict

from typing_extensions import ReadOnly

__all__ = [
    "AnalysisRaw",
    "MetricRangeBody",
    "ObjectiveBody",
    "OperatorBody",
    "RawCheck",
    "RawObjectiveResult",
    "RawResult",
    "RelativeBody",
    "TargetBody",
]


class RelativeBody(TypedDict, total=False):  # our extension: a v1 criterion against a baseline
    operator: ReadOnly[str]
    percent: ReadOnly[float]
    absolute: ReadOnly[float]
    aggregation: ReadOnly[str]
    lookback: ReadOnly[int]
    include: ReadOnly[str]


class OperatorBody(TypedDict, total=False):  # exactly one key set
    lessThan: ReadOnly[Mapping[str, object]]  # {"fixedValue": Quantity}
    lessThanOrEqual: ReadOnly[Mapping[str, object]]
    greaterThan: ReadOnly[Mapping[str, object]]
    greaterThanOrEqual: ReadOnly[Mapping[str, object]]
    equalTo: ReadOnly[Mapping[str, object]]
    inRange: ReadOnly[Mapping[str, object]]  # {"lowBound", "highBound"}
    notInRange: ReadOnly[Mapping[str, object]]
    relative: ReadOnly[RelativeBody]


class TargetBody(TypedDict, total=False):
    failure: ReadOnly[OperatorBody]
    warning: ReadOnly[OperatorBody]


class ObjectiveBody(TypedDict, total=False):  # one AnalysisDefinition `spec.objectives[]`
    analysisValueTemplateRef: ReadOnly[Mapping[str, str]]  # {name, namespace}
    target: ReadOnly[TargetBody]
    weight: ReadOnly[int]
    keyObjective: ReadOnly[bool]
    noData: ReadOnly[str]  # our extension: fail | warning | pass | ignore
    informational: ReadOnly[bool]  # our extension


class MetricRangeBody(TypedDict, total=False):  # KeptnMetric `spec.range`
    interval: ReadOnly[str]
    step: ReadOnly[str]
    aggregation: ReadOnly[str]
    storedResults: ReadOnly[int]


# `status.raw` (reference/keptn.md §10.3); functional forms where a key is "pass".
class RawCheck(TypedDict, total=False):
    operator: dict[str, object]  # the CRD operator of the target
    fulfilled: bool


RawResult = TypedDict(
    "RawResult",
    {"failResult": RawCheck, "warnResult": RawCheck, "warning": bool, "pass": bool},
    total=False,
)


class RawObjectiveResult(TypedDict, total=False):  # KLT's fields, then our explanations
    result: RawResult
    objective: dict[str, object]  # the CRD objective as the definition has it
    value: float
    query: str
    score: float
    status: str  # pass | warning | fail | info | ignored
    target: str
    reason: str
    error: str


AnalysisRaw = TypedDict(
    "AnalysisRaw",
    {
        "objectiveResults": list[RawObjectiveResult],
        "totalScore": float,
        "maximumScore": float,
        "pass": bool,
        "warning": bool,
        "percentage": float,  # ours, as the next two
        "verdict": str,
        "reason": str,
    },
    total=False,
)
