"""Typed views of the bodies the child controllers read beside their own (lifecycle.core.bodies).

Role: the whole bodies of the evaluation definitions and metrics the child cores read, and the
part of a batch/v1 Job the task core reads. Same rules as lifecycle.core.bodies (exact JSON
names, ``total=False``); apart only because bodies.py is at the size limit.

Must not: do I/O or hold behaviour; data only.
"""

from __future__ import annotations

from typing import Literal, TypedDict

from lifecycle.core.bodies import (
    KeptnEvaluationDefinitionSpec,
    KeptnMetricSpec,
    KeptnMetricStatus,
    ObjectMeta,
)


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


class JobCondition(TypedDict, total=False):
    type: str
    status: Literal["True", "False", "Unknown"]
    reason: str
    message: str


class JobStatus(TypedDict, total=False):
    """batch/v1 JobStatus: what the task controller reads (the spec is built by core.runtimes)."""

    conditions: list[JobCondition]


class JobBody(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    status: JobStatus
