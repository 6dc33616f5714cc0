"""Read-only typed views of the KLT bodies spans are built from (tracing may not import lifecycle).

Role: the fields tracing.spans and tracing.attributes read of a KeptnAppVersion, KeptnWorkloadVersion,
KeptnTask and KeptnEvaluation, as ``total=False`` TypedDicts with ``ReadOnly`` keys named as in the
CRDs: lifecycle's typed bodies (lifecycle.core.bodies, a superset) are structural subtypes of these
views, so the operator passes them without a cast and mypy checks each field read here.
Must not: import ``lifecycle``; data only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Generic, TypeVar

from typing_extensions import ReadOnly, TypedDict

__all__ = [
    "AppVersionView",
    "ChildView",
    "EvaluationView",
    "PhaseCarrier",
    "TaskView",
    "VersionView",
    "WorkloadVersionView",
]

SpecT = TypeVar("SpecT")
StatusT = TypeVar("StatusT")
StrMap = Mapping[str, str]


class Meta(TypedDict, total=False):
    name: ReadOnly[str]
    namespace: ReadOnly[str]
    uid: ReadOnly[str]
    annotations: ReadOnly[StrMap]


class View(TypedDict, Generic[SpecT, StatusT], total=False):
    kind: ReadOnly[str]
    metadata: ReadOnly[Meta]
    spec: ReadOnly[SpecT]
    status: ReadOnly[StatusT]


class _Times(TypedDict, total=False):
    startTime: ReadOnly[str]
    endTime: ReadOnly[str]


class PhaseCarrier(_Times, total=False):
    """What the machine writes per phase (and under ``"root"``) in ``phaseTraceIDs`` (a string map
    in the CRD, narrowed to these keys where spans read it)."""

    traceparent: ReadOnly[str]
    state: ReadOnly[str]
    reason: ReadOnly[str]
    parent: ReadOnly[str]  # the traceparent a root span continues (a WorkloadVersion: AppDeploy)


class _VersionSpec(TypedDict, total=False):
    version: ReadOnly[str]
    previousVersion: ReadOnly[str]
    metadata: ReadOnly[StrMap]
    traceId: ReadOnly[StrMap]


class _AppVersionSpec(_VersionSpec, total=False):
    appName: ReadOnly[str]
    spanLinks: ReadOnly[Sequence[str]]


class _WorkloadVersionSpec(_VersionSpec, total=False):
    app: ReadOnly[str]
    workloadName: ReadOnly[str]


class _VersionStatus(_Times, total=False):
    status: ReadOnly[str]
    phaseTraceIDs: ReadOnly[Mapping[str, StrMap]]


class _WorkloadVersionStatus(_VersionStatus, total=False):
    appContextMetadata: ReadOnly[StrMap]


class _TaskContext(TypedDict, total=False):
    appName: ReadOnly[str]
    appVersion: ReadOnly[str]
    workloadName: ReadOnly[str]
    workloadVersion: ReadOnly[str]
    taskType: ReadOnly[str]
    metadata: ReadOnly[StrMap]


class _TaskSpec(TypedDict, total=False):
    taskDefinition: ReadOnly[str]
    context: ReadOnly[_TaskContext]
    checkType: ReadOnly[str]


class _TaskStatus(_Times, total=False):
    status: ReadOnly[str]
    message: ReadOnly[str]
    reason: ReadOnly[str]


class _EvaluationSpec(TypedDict, total=False):
    appName: ReadOnly[str]
    appVersion: ReadOnly[str]
    workload: ReadOnly[str]
    workloadVersion: ReadOnly[str]
    checkType: ReadOnly[str]
    evaluationDefinition: ReadOnly[str]


class EvaluationItem(TypedDict, total=False):
    value: ReadOnly[str]
    status: ReadOnly[str]
    message: ReadOnly[str]
    target: ReadOnly[str]


class _EvaluationStatus(_Times, total=False):
    overallStatus: ReadOnly[str]
    evaluationStatus: ReadOnly[Mapping[str, EvaluationItem]]


AppVersionView = View[_AppVersionSpec, _VersionStatus]
WorkloadVersionView = View[_WorkloadVersionSpec, _WorkloadVersionStatus]
VersionView = AppVersionView | WorkloadVersionView
TaskView = View[_TaskSpec, _TaskStatus]
EvaluationView = View[_EvaluationSpec, _EvaluationStatus]
ChildView = TaskView | EvaluationView
