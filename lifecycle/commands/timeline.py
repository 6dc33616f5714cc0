"""A deployment's timeline as a Gantt chart for the terminal, from status or from exported spans.

Role: turn what the flow recorded into rows of bars that `klt demo` and `klt trace` print.
Two sources give the same picture:

* `from_status(app_version, workload_versions)`: the KeptnAppVersion and its KeptnWorkloadVersions
  as read from the cluster. Phases come from `status.phaseTraceIDs[<Phase>|"root"]` (startTime,
  endTime, state, reason), tasks and evaluations from the ItemStatus lists of each phase.
* `from_spans(spans)`: span dicts as `tracing.setup.read_span_lines` reads them back from the
  JSON-lines trace file, one timeline per root span (hierarchy from parentSpanId).

lifecycle.commands.gantt draws them (`render`).

Invariants: building is pure and deterministic -- no clock (a still-running bar ends
at the `now_ns` the caller passes, else at the latest time seen), no I/O. Rows keep flow order:
app phases in APP_PHASES order, workload versions in AppDeploy by start time, their phases in
WORKLOAD_PHASES order, tasks/evaluations under their phase.
Must not: import asyncio, aiohttp, kubernetes_asyncio or opentelemetry, or call an API.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TypedDict, cast

from lifecycle.core.bodies import (
    ItemStatus,
    KeptnAppVersionBody,
    KeptnAppVersionStatus,
    KeptnWorkloadVersionBody,
    KeptnWorkloadVersionStatus,
)
from lifecycle.core.machine_steps import VersionBody
from lifecycle.core.meta import name_of
from lifecycle.core.naming import parse_time
from lifecycle.core.phases import APP_PHASES, WORKLOAD_PHASES, PhaseKind, PhaseSpec

__all__ = [
    "Bar",
    "SpanLine",
    "Timeline",
    "VersionStatus",
    "from_spans",
    "from_status",
    "items_of",
]

VersionStatus = KeptnAppVersionStatus | KeptnWorkloadVersionStatus


class SpanStatus(TypedDict, total=False):
    code: str  # UNSET | OK | ERROR
    message: str


class SpanLine(TypedDict, total=False):  # as tracing.setup.span_to_dict writes it
    spanId: str
    parentSpanId: str
    name: str
    scope: str
    startTimeUnixNano: int
    endTimeUnixNano: int | None
    attributes: dict[str, object]
    status: SpanStatus


ROOT = "root"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_PHASE_KINDS: Mapping[str, PhaseKind] = {
    str(row.phase): row.kind for row in (*APP_PHASES, *WORKLOAD_PHASES)
}
_PHASE_ORDER: Mapping[str, int] = {
    str(row.phase): index for index, row in enumerate((*APP_PHASES, *WORKLOAD_PHASES))
}


@dataclass(frozen=True, slots=True)
class Bar:
    """One row: a phase, workload version, task or evaluation, with its times in unix nanoseconds."""

    label: str
    depth: int
    start_ns: int
    end_ns: int | None
    """None while it still runs (drawn up to the timeline's end)."""
    state: str
    note: str = ""
    """Why it failed (the carrier's reason), or a detail such as the workload version."""


@dataclass(frozen=True, slots=True)
class Timeline:
    """The bars of one app version (or one trace), the first being its root."""

    title: str
    state: str
    start_ns: int
    end_ns: int
    bars: tuple[Bar, ...]


# --- from status ------------------------------------------------------------------------------------


def _ns(value: object) -> int | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = parse_time(value)
    except ValueError:
        return None
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1000


def _carrier_bar(carrier: Mapping[str, str] | None, label: str, depth: int) -> Bar | None:
    if carrier is None:
        return None
    start = _ns(carrier.get("startTime"))
    if start is None:
        return None
    end = _ns(carrier.get("endTime"))
    state = carrier.get("state") or ("Progressing" if end is None else "Succeeded")
    note = carrier.get("reason", "")
    return Bar(label, depth, start, end, state, note)


def items_of(status: VersionStatus, field: str) -> list[ItemStatus]:
    """The ItemStatus list `status.<field>` (a PhaseSpec's items_field), [] when absent."""
    items = status.get(field)  # a str key: the phase tables name the ItemStatus lists
    if not isinstance(items, list):
        return []
    return [cast(ItemStatus, i) for i in items if isinstance(i, Mapping)]


def _item_bars(status: VersionStatus, row: PhaseSpec, depth: int, fallback_start: int) -> list[Bar]:
    if row.items_field is None or row.kind is PhaseKind.WORKLOADS:
        return []
    bars: list[Bar] = []
    for item in items_of(status, row.items_field):
        start = _ns(item.get("startTime"))
        end = _ns(item.get("endTime"))
        state = str(item.get("status") or "Pending")
        label = str(item.get("definitionName") or item.get("name") or "?")
        bars.append(Bar(label, depth, start or fallback_start, end, state))
    return sorted(bars, key=lambda b: (b.start_ns, b.label))


def _nothing_ran(kind: PhaseKind | None, ran: object, bar: Bar) -> bool:
    # A task/evaluation phase with nothing to run passes in the same instant: a row of nothing.
    return (
        kind in (PhaseKind.TASKS, PhaseKind.EVALUATIONS)
        and not ran
        and bar.state == "Succeeded"
        and bar.end_ns is not None
        and 0 <= bar.end_ns - bar.start_ns < 1_000_000
    )


def _phase_rows(
    status: VersionStatus, table: Sequence[PhaseSpec], depth: int, prefix: str, compact: bool
) -> list[tuple[PhaseSpec, Bar, list[Bar]]]:
    carriers = status.get("phaseTraceIDs") or {}
    rows: list[tuple[PhaseSpec, Bar, list[Bar]]] = []
    for row in table:
        bar = _carrier_bar(carriers.get(str(row.phase)), f"{prefix}{row.phase}", depth)
        if bar is None:
            continue
        items = _item_bars(status, row, depth + 1, bar.start_ns)
        if compact and _nothing_ran(row.kind, items, bar):
            continue
        rows.append((row, bar, items))
    return rows


def _version_label(app: str, workload: str, version: object) -> str:
    """A workload version's row: `<workload without its app's prefix> <version>`."""
    return f"{workload.removeprefix(f'{app}-')} {version or ''}".strip()


def _workload_label(body: KeptnWorkloadVersionBody) -> str:
    spec = body.get("spec", {})
    name = str(spec.get("workloadName") or name_of(body) or "?")
    return _version_label(str(spec.get("app") or ""), name, spec.get("version"))


def _root_bar(body: VersionBody, label: str, depth: int) -> Bar | None:
    status = body.get("status") or {}
    carriers = status.get("phaseTraceIDs") or {}
    bar = _carrier_bar(carriers.get(ROOT), label, depth)
    if bar is None:
        start = _ns(status.get("startTime"))
        if start is None:
            return None
        end = _ns(status.get("endTime"))
        bar = Bar(label, depth, start, end, str(status.get("status") or "Progressing"))
    # The object's status is the authority on how it ended (the root carrier may lag a write).
    final = status.get("status")
    if final and bar.end_ns is not None:
        bar = replace(bar, state=str(final))
    return bar


def _workload_bars(body: KeptnWorkloadVersionBody, depth: int, compact: bool) -> list[Bar]:
    root = _root_bar(body, _workload_label(body), depth)
    if root is None:
        return []
    status = body.get("status") or {}
    bars = [root]
    for _row, bar, items in _phase_rows(status, WORKLOAD_PHASES, depth + 1, "", compact):
        bars.append(bar)
        bars.extend(items)
    return bars


def from_status(
    app_version: KeptnAppVersionBody,
    workload_versions: Iterable[KeptnWorkloadVersionBody] = (),
    *,
    now_ns: int | None = None,
    compact: bool = True,
) -> Timeline:
    """The timeline of a KeptnAppVersion and the KeptnWorkloadVersions of its AppDeploy phase.

    `compact` drops task/evaluation phases that had nothing to run (they pass instantly).
    `now_ns` ends the bars still running; default: the latest time recorded anywhere.
    """
    name = name_of(app_version) or "?"
    status = app_version.get("status") or {}
    root = _root_bar(app_version, name, 0)
    bars: list[Bar] = [root] if root is not None else []
    workloads = sorted(
        ((_workload_bars(w, 2, compact), w) for w in workload_versions),
        key=lambda pair: (pair[0][0].start_ns if pair[0] else 0, _workload_label(pair[1])),
    )
    for row, bar, items in _phase_rows(status, APP_PHASES, 1, "", compact):
        bars.append(bar)
        bars.extend(items)
        if row.kind is PhaseKind.WORKLOADS:
            for workload_bars, _ in workloads:
                bars.extend(workload_bars)
    if root is None and bars:
        start = min(b.start_ns for b in bars)
        bars.insert(0, Bar(name, 0, start, None, str(status.get("status") or "Progressing")))
    state = str(status.get("status") or (bars[0].state if bars else "Pending"))
    return _finish(name, state, bars, now_ns)


def _finish(title: str, state: str, bars: list[Bar], now_ns: int | None) -> Timeline:
    if not bars:
        return Timeline(title, state, 0, 0, ())
    start = min(b.start_ns for b in bars)
    latest = max(max(b.start_ns, b.end_ns or 0) for b in bars)
    running = any(b.end_ns is None for b in bars)
    # `now` only stretches the axis while something still runs; a finished flow ends at its end.
    end = now_ns if running and now_ns is not None and now_ns >= latest else latest
    return Timeline(title, state, start, max(end, start), tuple(bars))


# --- from spans -------------------------------------------------------------------------------------


def _span_state(span: SpanLine) -> str:
    code = str((span.get("status") or {}).get("code") or "UNSET").upper()
    if code == "ERROR":
        return "Failed"
    if code == "OK":
        return "Succeeded"
    result = str((span.get("attributes") or {}).get("cicd.pipeline.result") or "")
    return {"failure": "Warning", "cancellation": "Deprecated", "success": "Succeeded"}.get(
        result, "Unknown"
    )


def _span_label(span: SpanLine) -> str:
    name = str(span.get("name") or "?")
    attrs = span.get("attributes") or {}
    for key in ("keptn.deployment.task.definition", "keptn.deployment.evaluation.definition"):
        if attrs.get(key):
            return str(attrs[key])  # a task/evaluation row: its definition, as from_status shows it
    if "keptn.deployment.phase" in attrs:
        return name.split("/", 1)[-1]  # "<workload>/<Phase>" sits under its workload's row
    if str(span.get("scope") or "").endswith("workloadversion"):
        workload = str(attrs.get("keptn.deployment.workload.name") or name)
        app = str(attrs.get("keptn.deployment.app.name") or "")
        return _version_label(app, workload, attrs.get("keptn.deployment.workload.version"))
    return name


def _span_note(span: SpanLine) -> str:
    message = str((span.get("status") or {}).get("message") or "")
    return "" if message == "failed" else message  # the bare default says nothing the state doesn't


def _phase(span: SpanLine) -> str:
    return str((span.get("attributes") or {}).get("keptn.deployment.phase") or "")


def _span_bar(span: SpanLine, depth: int) -> Bar:
    end = span.get("endTimeUnixNano")
    start = int(span.get("startTimeUnixNano") or 0)
    return Bar(
        _span_label(span),
        depth,
        start,
        int(end) if end else None,
        _span_state(span),
        _span_note(span),
    )


def _empty_phase(span: SpanLine, children: Mapping[str, list[SpanLine]]) -> bool:
    kind = _PHASE_KINDS.get(_phase(span))
    return _nothing_ran(kind, children.get(str(span.get("spanId"))), _span_bar(span, 0))


def _span_order(span: SpanLine) -> tuple[int, int, int, str]:
    # Phases that start in the same instant keep the flow's order, not the alphabet's.
    return (
        int(span.get("startTimeUnixNano") or 0),
        _PHASE_ORDER.get(_phase(span), len(_PHASE_ORDER)),
        int(span.get("endTimeUnixNano") or 0),
        str(span.get("name") or ""),
    )


def from_spans(spans: Iterable[Mapping[str, object]], *, compact: bool = True) -> list[Timeline]:
    """One timeline per root span (a span whose parent is not in `spans`), oldest first.

    `spans` as tracing.setup.read_span_lines reads them back (SpanLine; each field is converted
    as it is read). `compact` drops task/evaluation phase spans that had nothing to run, as
    `from_status` does.
    """
    by_id: dict[str, SpanLine] = {}
    for span in spans:
        if isinstance(span, Mapping) and span.get("spanId"):
            # Re-exports after a restart repeat a span with the same ids: keep one.
            by_id[str(span["spanId"])] = cast(SpanLine, span)
    children: dict[str, list[SpanLine]] = {}
    roots: list[SpanLine] = []
    for span in by_id.values():
        parent = str(span.get("parentSpanId") or "")
        if parent and parent in by_id:
            children.setdefault(parent, []).append(span)
        else:
            roots.append(span)

    def start(span: SpanLine) -> int:
        return int(span.get("startTimeUnixNano") or 0)

    timelines: list[Timeline] = []
    for root in sorted(roots, key=start):
        bars: list[Bar] = []
        stack: list[tuple[SpanLine, int]] = [(root, 0)]
        while stack:
            span, depth = stack.pop()
            bars.append(_span_bar(span, depth))
            kids = sorted(children.get(str(span["spanId"]), ()), key=_span_order)
            if compact:
                kids = [k for k in kids if not _empty_phase(k, children)]
            stack.extend((kid, depth + 1) for kid in reversed(kids))
        timelines.append(_finish(str(root.get("name") or "?"), bars[0].state, bars, None))
    return timelines
