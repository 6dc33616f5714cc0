"""What the pure cores of the child controllers (tasks, evaluations, metrics, analyses) share.

Role: the shape of a child's decision (``Decision``: the status fields to write, the actions to run
and when to look again), the actions every child shell executes (``Emit``, ``Report``, the
telemetry counts and the span export), and the rules the children share: when an object was
created (``created_at``), how long a missing definition is waited for (``wait_or_fail``),
how an object ends (``finish``) and what KLT's Events on tasks and evaluations carry
(``EventSource``).

Invariants: a ``Decision`` is executed in order: the ``Emit``/``Report`` actions, then the one
status write, then the post-write actions (``CountStarted``, ``CountFinished``), which run only when
the write changed something, so a replayed decision never counts twice.

Must not: do I/O, read a clock, or import asyncio; ``now`` is always passed in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, Literal, TypeVar

from lifecycle.core.bodies import ObjectMeta
from lifecycle.core.machine_draft import read_time
from lifecycle.core.naming import format_time
from lifecycle.core.phases import Phase, State

__all__ = [
    "ChildAction",
    "CountFinished",
    "CountStarted",
    "Decision",
    "Emit",
    "EventSource",
    "ExportSpan",
    "Fields",
    "ProviderQueried",
    "Report",
    "created_at",
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
class CountStarted:
    """After a write that landed: count the object's start (telemetry)."""


@dataclass(frozen=True, slots=True)
class CountFinished:
    """After a write that landed: count the object's end and export its span."""


@dataclass(frozen=True, slots=True)
class ExportSpan:
    """Export again the span of a completed object (a no-op once its span mark is written)."""


@dataclass(frozen=True, slots=True)
class ProviderQueried:
    """A KeptnMetricsProvider was queried: count a failure (or register its series on success)."""

    namespace: str
    provider: str
    failed: bool


ChildAction = Emit | Report | CountStarted | CountFinished | ExportSpan | ProviderQueried
"""The actions every child shell executes (lifecycle.flow.children)."""

A = TypeVar("A", covariant=True)


@dataclass(frozen=True, slots=True)
class Decision(Generic[A]):
    """What one reconcile of a child does: actions, one status write, when to look again."""

    fields: Fields | None = None
    actions: tuple[A, ...] = ()
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


def created_at(meta: ObjectMeta, now: datetime) -> datetime:
    """``creationTimestamp``, or ``now`` when absent or unreadable."""
    return read_time(meta.get("creationTimestamp")) or now


def finish(
    started: bool, field: str, state: State, now: datetime, *events: Emit, **extra: object
) -> Decision[ChildAction]:
    """End the object: ``{field: state, **extra, endTime}`` (``startTime`` too if it never
    started), the ``events`` before the write and the counts after it."""
    stamp = format_time(now)
    fields: dict[str, object] = {field: state.value, **extra, "endTime": stamp}
    if not started:
        fields["startTime"] = stamp
    counts = (CountFinished(),) if started else (CountStarted(), CountFinished())
    return Decision(fields=fields, actions=(*events, *counts))


def wait_or_fail(
    meta: ObjectMeta, now: datetime, wait: timedelta, waiting: Decision[A], failed: Decision[A]
) -> Decision[A]:
    """``waiting`` (looked at again at the deadline) until creation + ``wait``, then ``failed``."""
    deadline = created_at(meta, now) + wait
    if now >= deadline:
        return failed
    return Decision(waiting.fields, waiting.actions, requeue_at=deadline)
