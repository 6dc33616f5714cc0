"""What a metric reads off a body: label values, identity, kind, times and exemplars.

Role: small pure readers used by :class:`lifecycle.observability.telemetry.Telemetry` to label
KLT's instruments (``keptn_deployment_*`` label names, lifecycle.observability.instruments) from
the AppVersion, WorkloadVersion, KeptnTask and KeptnEvaluation bodies the flow committed.

Must not: do I/O, read a clock, or count anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import cast

from typing_extensions import TypeIs

from lifecycle.core import bodies as b
from lifecycle.core.machine_steps import VersionBody
from lifecycle.core.meta import name_of, namespace_of, uid_of
from lifecycle.core.model import KEPTN_WORKLOAD_VERSION
from tracing.context import parse_rfc3339_ns, parse_traceparent

__all__ = [
    "ChildBody",
    "TimeLike",
    "VersionBody",
    "app_labels_of",
    "as_text",
    "child_of",
    "commit_time_of",
    "evaluation_labels_of",
    "identity_of",
    "is_workload_version",
    "phase_exemplar",
    "scope_of",
    "task_labels_of",
    "to_seconds",
    "wl_labels_of",
]

TimeLike = datetime | str | None
ChildBody = b.KeptnTaskBody | b.KeptnEvaluationBody


def as_text(value: object) -> str:
    return "" if value is None else str(value)


def to_seconds(value: TimeLike) -> float | None:
    if isinstance(value, datetime):
        return value.timestamp()
    ns = parse_rfc3339_ns(value)
    return None if ns is None else ns / 1e9


def child_of(obj: Mapping[str, object]) -> ChildBody:
    """A KeptnTask's or KeptnEvaluation's raw body (from the cache or the API) as either kind."""
    return cast(ChildBody, obj)


def is_workload_version(obj: VersionBody) -> TypeIs[b.KeptnWorkloadVersionBody]:
    """A KeptnWorkloadVersion (else a KeptnAppVersion), by kind or, kind-less, by its spec."""
    kind = KEPTN_WORKLOAD_VERSION.kind
    return obj.get("kind") == kind or "workloadName" in (obj.get("spec") or {})


def identity_of(obj: Mapping[str, object]) -> str:
    return uid_of(obj) or f"{namespace_of(obj)}/{name_of(obj)}"


def commit_time_of(obj: VersionBody) -> float | None:
    # commitTime comes from KeptnAppContext metadata or the workload's keptn.sh/metadata
    # annotation ("commitTime=2024-01-01T10:00:00Z,..."); RFC3339 or unix seconds.
    sources = [obj.get("spec", {}).get("metadata")]
    if is_workload_version(obj):
        sources.append(obj.get("status", {}).get("appContextMetadata"))
    for source in sources:
        raw = (source or {}).get("commitTime")
        if raw is None:
            continue
        try:
            return float(raw)
        except ValueError:
            seconds = to_seconds(raw)
            if seconds is not None:
                return seconds
    return None


def phase_exemplar(obj: VersionBody, phase: str) -> dict[str, str] | None:
    """``trace_id``/``span_id`` of the phase span (its carrier's traceparent) as an exemplar.

    Exposed only in the OpenMetrics format (``/metrics`` negotiates it from the Accept header);
    Grafana's ``exemplarTraceIdDestinations`` turns ``trace_id`` into a link to the trace.
    """
    carriers = obj.get("status", {}).get("phaseTraceIDs") or {}
    context = parse_traceparent((carriers.get(phase) or {}).get("traceparent"))
    if context is None:
        return None
    return {"trace_id": f"{context.trace_id:032x}", "span_id": f"{context.span_id:016x}"}


def app_labels_of(obj: b.KeptnAppVersionBody) -> tuple[str, str, str]:
    spec = obj.get("spec") or {}
    return as_text(spec.get("appName")), as_text(spec.get("version")), namespace_of(obj)


def wl_labels_of(obj: b.KeptnWorkloadVersionBody) -> tuple[str, str, str, str]:
    spec = obj.get("spec") or {}
    return (
        as_text(spec.get("app")),
        as_text(spec.get("workloadName")),
        as_text(spec.get("version")),
        namespace_of(obj),
    )


def scope_of(obj: VersionBody) -> tuple[str, str, str]:
    if is_workload_version(obj):
        app, workload, _, namespace = wl_labels_of(obj)
        return namespace, app, workload
    app, _, namespace = app_labels_of(obj)
    return namespace, app, ""


def task_labels_of(task: b.KeptnTaskBody) -> tuple[str, ...]:
    spec = task.get("spec") or {}
    ctx = spec.get("context") or {}
    return (
        as_text(ctx.get("appName")),
        as_text(ctx.get("appVersion")),
        as_text(ctx.get("workloadName")),
        as_text(ctx.get("workloadVersion")),
        name_of(task),
        as_text(ctx.get("taskType") or spec.get("checkType")),
    )


def evaluation_labels_of(ev: b.KeptnEvaluationBody) -> tuple[str, ...]:
    spec = ev.get("spec") or {}
    return (
        as_text(spec.get("appName")),
        as_text(spec.get("appVersion")),
        as_text(spec.get("workload")),
        as_text(spec.get("workloadVersion")),
        name_of(ev),
        as_text(spec.get("checkType")),
    )
