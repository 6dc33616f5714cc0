"""Spans built from durable status: ids and timestamps come from the object, nothing is held open.

Role: the state machine stores, per phase, a W3C carrier with start/end time and final state in
``status.phaseTraceIDs`` (the object's own span under key ``"root"``; for a WorkloadVersion also the
app's AppDeploy carrier under ``"parent"``). When a phase or an object ends, a controller calls
:func:`export_phase_span` / :func:`export_child_span`; this module rebuilds the finished span as an SDK
``ReadableSpan`` with exactly those ids and times and hands it to a :class:`SpanSink`. Because nothing
lives in memory, an operator restart breaks no parentage (lifecycle.observability.spanmarks exports
each ended span until a mark in the object says it was delivered).

Hierarchy and names follow KLT (reference keptn.md §5)::

    <AppVersion name>                       root, links = spec.spanLinks (+ the previous version's root)
      <AppPhase>                            e.g. AppPreDeployTasks, AppDeploy
        <task/evaluation name>
      AppDeploy
        <WorkloadVersion name>              parent = the "parent" carrier (the app's AppDeploy span)
          <workloadName>/<WorkloadPhase>
            <task/evaluation name>

Invariants: building is pure and deterministic -- the same body gives the same span (ids, times,
attributes), so re-exporting after a crash produces a duplicate the backend can recognise rather
than a new orphan. Task and evaluation span ids are derived from their phase span id and their
name (:func:`derive_span_id`), so they need no storage. All spans are kind CONSUMER (as KLT).
Must not import ``lifecycle``: it reads bodies through the views of :mod:`tracing.views` (which
lifecycle's typed bodies satisfy) and takes phase names as strings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, cast

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from typing_extensions import TypeIs

from tracing import attributes as attrs
from tracing import views
from tracing.context import derive_span_id, parse_rfc3339_ns, parse_traceparent

__all__ = [
    "APP_SCOPE",
    "PHASE_LONG_NAMES",
    "WORKLOAD_SCOPE",
    "SpanSink",
    "build_child_span",
    "build_phase_span",
    "export_child_span",
    "export_phase_span",
]

APP_SCOPE = InstrumentationScope("keptn/lifecycle-operator/appversion")
WORKLOAD_SCOPE = InstrumentationScope("keptn/lifecycle-operator/workloadversion")

ROOT = "root"

# ShortName -> LongName for span event texts. A copy of lifecycle.core.phases' table on purpose:
# tracing may not import lifecycle, and these strings are part of KLT's span-event contract.
PHASE_LONG_NAMES: Mapping[str, str] = {
    "AppPreDeployTasks": "App Pre-Deployment Tasks",
    "AppPreDeployEvaluations": "App Pre-Deployment Evaluations",
    "AppDeploy": "App Deployment",
    "AppPostDeployTasks": "App Post-Deployment Tasks",
    "AppPostDeployEvaluations": "App Post-Deployment Evaluations",
    "PromotionTasks": "Promotion Tasks",
    "WorkloadPreDeployTasks": "Workload Pre-Deployment Tasks",
    "WorkloadPreDeployEvaluations": "Workload Pre-Deployment Evaluations",
    "WorkloadDeploy": "Workload Deployment",
    "WorkloadPostDeployTasks": "Workload Post-Deployment Tasks",
    "WorkloadPostDeployEvaluations": "Workload Post-Deployment Evaluations",
}

_STATE_TEXT = {"Succeeded": "has succeeded", "Failed": "has failed", "Warning": "has failed"}
_FOLLOWS_FROM = {"opentracing.ref_type": "follows-from"}


class SpanSink(Protocol):
    """Where finished spans go: :class:`tracing.setup.Tracing` or a test double with the same shape."""

    @property
    def resource(self) -> Resource: ...

    def export(self, spans: Sequence[ReadableSpan]) -> None: ...


def _kind(body: views.VersionView | views.ChildView) -> str:
    kind = body.get("kind")
    if kind:
        return kind
    # Bodies from a typed list may lack TypeMeta; the spec shape tells the kinds apart.
    spec = body.get("spec") or {}
    if "workloadName" in spec:
        return "KeptnWorkloadVersion"
    if "appName" in spec and "evaluationDefinition" not in spec:
        return "KeptnAppVersion"
    if "taskDefinition" in spec:
        return "KeptnTask"
    return "KeptnEvaluation"


def _is_workload(body: views.VersionView) -> TypeIs[views.WorkloadVersionView]:
    return _kind(body) == "KeptnWorkloadVersion"


def _is_task(body: views.ChildView) -> TypeIs[views.TaskView]:
    return _kind(body) == "KeptnTask"


def _status(state: str | None, reason: str | None) -> Status:
    if state == "Failed":
        return Status(StatusCode.ERROR, reason or "failed")
    if state == "Succeeded":
        return Status(StatusCode.OK)
    # Warning (non-blocking failure) and Deprecated are not errors of this span.
    return Status(StatusCode.UNSET)


def _context(carrier: object) -> SpanContext | None:
    """The SpanContext of a traceparent, or of a carrier holding one (``{"traceparent": ...}``)."""
    if isinstance(carrier, Mapping):
        carrier = carrier.get("traceparent")
    return parse_traceparent(carrier if isinstance(carrier, str) else None)


def _links(
    body: views.AppVersionView, previous_root: Mapping[str, object] | str | None
) -> list[Link]:
    links: list[Link] = []
    for raw in body.get("spec", {}).get("spanLinks") or []:
        ctx = _context(raw)
        if ctx is not None:
            links.append(Link(ctx, dict(_FOLLOWS_FROM)))
    prev_ctx = _context(previous_root)
    if prev_ctx is not None and all(link.context != prev_ctx for link in links):
        links.append(Link(prev_ctx, {**_FOLLOWS_FROM, "keptn.link": "previous-version"}))
    return links


# --- building -----------------------------------------------------------------------------------


def build_phase_span(
    body: views.VersionView,
    phase: str,
    *,
    resource: Resource | None = None,
    previous_root: Mapping[str, object] | str | None = None,
    reason: str | None = None,
    events: Sequence[Event] = (),
) -> ReadableSpan | None:
    """The finished span of ``phase`` (a ShortName, or ``"root"``) of an AppVersion/WorkloadVersion.

    None when the carrier is missing, malformed or has no endTime yet (the phase still runs).
    ``previous_root`` is the previous version's root carrier (``{"traceparent": ...}``), linked
    from the root span; ``reason`` overrides the carrier's ``reason`` as the error description.
    """
    status = body.get("status", {})
    carriers = status.get("phaseTraceIDs") or {}
    carrier = cast("views.PhaseCarrier | None", carriers.get(phase))  # keys the machine writes
    if not isinstance(carrier, Mapping):
        return None
    ctx = _context(carrier.get("traceparent"))
    is_root = phase == ROOT
    start = parse_rfc3339_ns(carrier.get("startTime"))
    end = parse_rfc3339_ns(carrier.get("endTime"))
    state = carrier.get("state")
    if is_root:
        start = start or parse_rfc3339_ns(status.get("startTime"))
        end = end or parse_rfc3339_ns(status.get("endTime"))
        state = state or status.get("status")
    if ctx is None or start is None or end is None:
        return None
    run_id = f"{ctx.trace_id:032x}"
    links: list[Link] = []
    if _is_workload(body):
        span_attrs = attrs.workload_version_attributes(body, state=state, run_id=run_id)
        label, scope = f"{body.get('spec', {}).get('workloadName') or ''}/{phase}", WORKLOAD_SCOPE
    else:
        span_attrs = attrs.app_version_attributes(body, state=state, run_id=run_id)
        label, scope = phase, APP_SCOPE
        links = _links(body, previous_root) if is_root else []
    if is_root:
        name = body.get("metadata", {}).get("name") or ""
        traceid = body.get("spec", {}).get("traceId")
        parent = _context(carrier.get("parent") or carriers.get("parent") or traceid)
    else:
        name, parent = label, _context(carriers.get(ROOT))
        span_attrs["keptn.deployment.phase"] = phase
    why = reason or carrier.get("reason")
    all_events = list(events)
    if not is_root and state in _STATE_TEXT:
        text = f"{PHASE_LONG_NAMES.get(phase, phase)} {_STATE_TEXT[state]}"
        all_events.append(Event(text, {"reason": why} if why else {}, timestamp=end))
    return ReadableSpan(
        name=name,
        context=SpanContext(ctx.trace_id, ctx.span_id, False, TraceFlags(TraceFlags.SAMPLED)),
        parent=parent,
        resource=resource,
        attributes=span_attrs,
        events=sorted(all_events, key=lambda event: event.timestamp),
        links=links,
        kind=SpanKind.CONSUMER,
        status=_status(state, why or None),
        start_time=start,
        end_time=end,
        instrumentation_scope=scope,
    )


def _evaluation_events(body: views.EvaluationView, end: int) -> list[Event]:
    events: list[Event] = []
    results = body.get("status", {}).get("evaluationStatus") or {}
    for metric in sorted(results):
        item = results[metric] or {}
        value = str(item.get("value", ""))
        status = str(item.get("status", ""))
        message = str(item.get("message", ""))
        if status == "Failed":
            text = f"evaluation of '{metric}' failed with value: '{value}' and reason: '{message}'"
        else:
            text = f"evaluation of '{metric}' {status.lower() or 'ended'} with value: '{value}'"
        event_attrs: dict[str, str] = {
            "keptn.evaluation.metric": str(metric),
            "keptn.evaluation.value": value,
            "keptn.evaluation.status": status,
        }
        for key, text_value in (("target", item.get("target")), ("message", message)):
            if text_value:
                event_attrs[f"keptn.evaluation.{key}"] = str(text_value)
        events.append(Event(text, event_attrs, timestamp=end))
    return events


def build_child_span(
    body: views.ChildView,
    *,
    parent_traceparent: str | None = None,
    resource: Resource | None = None,
) -> ReadableSpan | None:
    """The finished span of a KeptnTask or KeptnEvaluation, named by the object, under its phase span.

    The parent is the task's ``spec.context.metadata.traceparent`` (KLT's KEPTN_CONTEXT) unless
    ``parent_traceparent`` is given (evaluations: the owning version's phase carrier). None until
    the object has both startTime and endTime.
    """
    meta, times = body.get("metadata", {}), body.get("status", {})
    context = body.get("spec", {}).get("context", {}) if _is_task(body) else {}
    parent_raw = parent_traceparent or context.get("metadata", {}).get("traceparent")
    parent = _context(parent_raw or meta.get("annotations", {}).get("traceparent"))
    start = parse_rfc3339_ns(times.get("startTime"))
    end = parse_rfc3339_ns(times.get("endTime"))
    if parent is None or start is None or end is None:
        return None
    name = meta.get("name") or ""
    if _is_task(body):
        task_status = body.get("status", {})
        state = task_status.get("status")
        span_attrs = attrs.task_attributes(body)
        message = task_status.get("message") or task_status.get("reason")
        events = [Event(f"{name} {'has failed' if state == 'Failed' else 'has finished'}", {}, end)]
        if state == "Failed":
            events.append(Event(f"task '{name}' failed with reason: '{message or ''}'", {}, end))
    else:
        state = body.get("status", {}).get("overallStatus")
        span_attrs = attrs.evaluation_attributes(body)
        events = _evaluation_events(body, end)
        failed = [e.name for e in events if " failed with " in e.name]
        message = "; ".join(failed) if failed else None
    span_id = derive_span_id(parent.span_id, name)
    return ReadableSpan(
        name=name,
        context=SpanContext(parent.trace_id, span_id, False, TraceFlags(TraceFlags.SAMPLED)),
        parent=parent,
        resource=resource,
        attributes=span_attrs,
        events=events,
        kind=SpanKind.CONSUMER,
        status=_status(state, message or None),
        start_time=start,
        end_time=end,
        instrumentation_scope=(
            WORKLOAD_SCOPE if span_attrs.get(attrs.WORKLOAD_NAME) else APP_SCOPE
        ),
    )


# --- exporting ----------------------------------------------------------------------------------


def export_phase_span(
    sink: SpanSink,
    body: views.VersionView,
    phase: str,
    *,
    previous_root: Mapping[str, object] | str | None = None,
    reason: str | None = None,
    events: Sequence[Event] = (),
) -> ReadableSpan | None:
    """Build the phase (or ``"root"``) span from status and hand it to ``sink``; None if not ended."""
    span = build_phase_span(
        body,
        phase,
        resource=sink.resource,
        previous_root=previous_root,
        reason=reason,
        events=events,
    )
    if span is not None:
        sink.export([span])
    return span


def export_child_span(
    sink: SpanSink, body: Mapping[str, object], *, parent_traceparent: str | None = None
) -> ReadableSpan | None:
    """Build a finished task/evaluation span and hand it to ``sink``; None if not ended."""
    span = build_child_span(
        cast(views.ChildView, body), parent_traceparent=parent_traceparent, resource=sink.resource
    )
    if span is not None:
        sink.export([span])
    return span
