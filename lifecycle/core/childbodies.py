"""Typed views of the bodies the child controllers read beside their own (lifecycle.core.bodies).

Role: the whole-body TypedDicts of the definitions and metrics the cores of
lifecycle.core.taskcore / evaluationcore / metriccore / analysiscore read, and the part of a
batch/v1 Job the task core reads. Same rules as lifecycle.core.bodies (exact JSON names,
``total=False``); kept apart only because bodies.py is at the size limit.

Must not: do I/O or hold behaviour; data only.
"""

from __future__ import annotations

from typing import Literal, TypedDict

from lifecycle.core.bodies import (
    AnalysisDefinitionSpec,
    KeptnEvaluationDefinitionSpec,
    KeptnMetricSpec,
    KeptnMetricStatus,
    KeptnTaskDefinitionSpec,
    ObjectMeta,
)


class KeptnTaskDefinitionBody(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: KeptnTaskDefinitionSpec


class KeptnEvaluationDefinitionBody(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: KeptnEvaluationDefinitionSpec


class KeptnMetricBody(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: KeptnMetricSpec
    status: KeptnMetricStatus


class AnalysisDefinitionBody(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: AnalysisDefinitionSpec


class JobCondition(TypedDict, total=False):
    type: str
    status: Literal["True", "False", "Unknown"]
    reason: str
    message: str


class JobStatus(TypedDict, total=False):
    """batch/v1 JobStatus: what the task controller reads (the spec is built by core.runtimes)."""

    conditions: list[JobCondition]
    active: int
    succeeded: int
    failed: int


class JobBody(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    status: JobStatus
