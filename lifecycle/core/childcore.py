"""What the pure cores of the child controllers (tasks, evaluations, metrics, analyses) share.

Role: the shape of a child's decision (``Decision``: the status fields to write, the actions to run
and when to look again), the one set of actions the child shell executes (``Emit``, ``Report``,
``ProviderQueried``, ``SetValue`` and the ``Step`` s without data: counts, span export, a Job, a
fetch, the analysis gauges), and the rules the children share: how long a missing definition
is waited for after the object was created (``wait_or_fail``),
how an object ends (``finish``) and what KLT's Events on tasks and evaluations carry
(``EventSource``).

Invariants: a ``Decision`` is executed in order: the actions before the counts, then the one
status write, then the counts (``Step.COUNT_STARTED``, ``COUNT_FINISHED``), which run only when
the write changed something, so a replayed decision never counts twice.

Must not: do I/O, read a clock, or import asyncio; ``now`` is always passed in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Literal

from lifecycle.core.bodies import ObjectMeta
from lifecycle.core.kubebodies import AnyBody
from lifecycle.core.naming import format_time
from lifecycle.core.phases import Phase, State
from lifecycle.core.windows import created

__all__ = [
    "ChildAction",
    "Decision",
    "Emit",
    "EventSource",
    "Fields",
    "ProviderQueried",
    "Report",
    "SetValue",
    "Step",
    "finish",
    "wait_or_fail",
]

Fields = Mapping[str, object]
"""Status fields to merge into ``.status`` (None removes a field)."""


@dataclass(frozen=True, slots=True)
class Emit:
    """A Warning Event in KLT's format (``<LongName>: text / Namespace ...``) with KLT's annotations.

    ``key`` makes it written once per object (None: every time, folded into a count)."""

    reason: str
    phase: Phase
    text: str
    key: str | None = None


@dataclass(frozen=True, slots=True)
class Report:
    """A Warning Event ``reason``/``message`` as is, once per distinct text."""

    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class ProviderQueried:
    """A KeptnMetricsProvider was queried: count a failure (or register its series on success)."""

    namespace: str
    provider: str
    failed: bool


@dataclass(frozen=True, slots=True)
class SetValue:
    """Set the ``keptn_metric_value`` gauge of the KeptnMetric."""

    value: float


class Step(Enum):
    """The actions that carry no data."""

    COUNT_STARTED = "count-started"
    """After a write that landed: count the object's start (telemetry)."""
    COUNT_FINISHED = "count-finished"
    """After a write that landed: count the object's end and export its span."""
    EXPORT_SPAN = "export-span"
    """Export again the span of a completed object (a no-op once its span mark is written)."""
    START_JOB = "start-job"
    """A task's Job: build and create it (the shell checks references and slots on the way)."""
    RELEASE_SLOT = "release-slot"
    """A task's Job finished: its ``--max-jobs`` slot is free."""
    FETCH = "fetch"
    """Query a KeptnMetric's provider now (the shell then asks ``metriccore.fetched``)."""
    RECORD_RESULT = "record-result"
    """Set an Analysis's ``keptn_analysis_result``/``keptn_objective_result`` gauges."""


ChildAction = Emit | Report | ProviderQueried | SetValue | Step
"""What the child shell executes (lifecycle.flow.children); the kind's own steps (a Job, a
fetch, the analysis gauges) through the handlers its controller gives."""


@dataclass(frozen=True, slots=True)
class Decision:
    """What one reconcile of a child does: actions, one status write, when to look again."""

    fields: Fields | None = None
    actions: tuple[ChildAction, ...] = ()
    requeue_at: datetime | None = None
    requeue_after: float | None = None


@dataclass(frozen=True, slots=True)
class EventSource:
    """Who an Event of a KeptnTask or KeptnEvaluation is about: KLT's annotations and version."""

    kind: Literal["task", "evaluation"]
    meta: ObjectMeta
    app: str
    app_version: str
    workload: str
    workload_version: str
    definition: str

    @property
    def version(self) -> str:
        """The version the Event's message names: the workload's, else the app's."""
        return self.workload_version or self.app_version

    def annotations(self, phase: Phase) -> dict[str, str]:
        """KLT's annotations (``taskName``/``evaluationName`` and the definition's name)."""
        name = str(self.meta.get("name", ""))
        return {
            "namespace": str(self.meta.get("namespace", "")),
            "name": name,
            "phase": phase.value,
            "traceparent": str((self.meta.get("annotations") or {}).get("traceparent", "")),
            "appName": self.app,
            "appVersion": self.app_version,
            "workloadName": self.workload,
            "workloadVersion": self.workload_version,
            f"{self.kind}Name": name,
            f"{self.kind}DefinitionName": self.definition,
        }


def finish(
    started: bool, field: str, state: State, now: datetime, *events: Emit, **extra: object
) -> Decision:
    """End the object: ``{field: state, **extra, endTime}`` (``startTime`` too if it never
    started), the ``events`` before the write and the counts after it."""
    stamp = format_time(now)
    fields: dict[str, object] = {field: state.value, **extra, "endTime": stamp}
    if not started:
        fields["startTime"] = stamp
    counts = (Step.COUNT_FINISHED,) if started else (Step.COUNT_STARTED, Step.COUNT_FINISHED)
    return Decision(fields=fields, actions=(*events, *counts))


def wait_or_fail(
    obj: AnyBody, now: datetime, wait: timedelta, waiting: Decision, failed: Decision
) -> Decision:
    """``waiting`` (looked at again at the deadline) until creation + ``wait``, then ``failed``."""
    deadline = created(obj, now) + wait
    if now >= deadline:
        return failed
    return Decision(waiting.fields, waiting.actions, requeue_at=deadline)
