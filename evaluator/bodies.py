"""The CRD shapes the evaluator parses: TypedDicts of the fields it reads, read-only.

The evaluator never imports lifecycle (.importlinter), so these mirror the AnalysisDefinition
objective, target and operator and the KeptnMetric range of lifecycle.core.bodies. Their items
are ReadOnly (PEP 705): the operator's own typed bodies pass as they are (a read-only item
accepts a narrower type), and mypy checks every field the parsers read. Pure: typing only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypedDict

from typing_extensions import ReadOnly

__all__ = ["MetricRangeBody", "ObjectiveBody", "OperatorBody", "RelativeBody", "TargetBody"]


class RelativeBody(TypedDict, total=False):
    """Our extension: a Keptn v1 criterion against a baseline of previous Analyses."""

    operator: ReadOnly[str]
    percent: ReadOnly[float]
    absolute: ReadOnly[float]
    aggregation: ReadOnly[str]
    lookback: ReadOnly[int]
    include: ReadOnly[str]


class OperatorBody(TypedDict, total=False):
    """One KLT Operator (exactly one key set), or our `relative` block."""

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


class ObjectiveBody(TypedDict, total=False):
    """One `spec.objectives[]` entry of an AnalysisDefinition."""

    analysisValueTemplateRef: ReadOnly[Mapping[str, str]]  # {name, namespace}
    target: ReadOnly[TargetBody]
    weight: ReadOnly[int]
    keyObjective: ReadOnly[bool]
    noData: ReadOnly[str]  # our extension: fail | warning | pass | ignore
    informational: ReadOnly[bool]  # our extension


class MetricRangeBody(TypedDict, total=False):
    """KeptnMetric `spec.range`."""

    interval: ReadOnly[str]
    step: ReadOnly[str]
    aggregation: ReadOnly[str]
    storedResults: ReadOnly[int]
