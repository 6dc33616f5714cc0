"""The shell of the child controllers: carry out a ``lifecycle.core.childcore.Decision``.

Role: the I/O every child controller (KeptnTask, KeptnEvaluation, KeptnMetric, Analysis) shares
around its pure core: the Warning Events (KLT's message and annotations; or a ``Report``: why an
object cannot progress, written once per distinct text, next to the same text in its status),
the one status write (with ``status.conditions``), the telemetry counts and the span export that
follow a write that landed, in one ``match`` over ``ChildAction``. A controller gives the handlers
of its kind's own steps (create a Job, fetch a metric) as ``steps``.

Must not: decide anything; the cores do.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Final, Generic, TypeVar, assert_never

from lifecycle.core.childcore import (
    ChildAction,
    Decision,
    Emit,
    EventSource,
    Fields,
    ProviderQueried,
    Report,
    SetValue,
    Step,
)
from lifecycle.core.conditions import with_conditions
from lifecycle.core.kubebodies import AnyBody
from lifecycle.core.model import ResourceKind
from lifecycle.core.phases import LONG_NAMES
from lifecycle.flow.context import OperatorContext
from lifecycle.kube import Result, format_message
from lifecycle.kube.errors import Conflict, NotFound
from tracing.spans import export_child_span

__all__ = ["ChildShell"]

B = TypeVar("B", bound=AnyBody)  # the body of the shell's kind
Steps = Mapping[Step, Callable[[B], Awaitable[Result | None]]]
"""What a controller runs for its kind's own steps (``START_JOB``, ``FETCH`` ...)."""
_COUNTS: Final = (Step.COUNT_STARTED, Step.COUNT_FINISHED)


@dataclass
class ChildShell(Generic[B]):
    """Executes the shared actions and the status write of one kind of child."""

    ctx: OperatorContext
    kind: ResourceKind[B]
    component: str
    source: Callable[[B], EventSource] | None = None
    """Who an ``Emit`` is about (tasks, evaluations); None for kinds that only ``Report``."""
    started: Callable[[B], object] = lambda _: None
    finished: Callable[[B], object] = lambda _: None
    span_parent: bool = False
    """Export the span under the traceparent annotation (evaluations)."""
    conditional: bool = True
    """Write only against the cached resourceVersion (a stale replica gets a Conflict)."""
    write_error: Emit | None = None
    """Emitted when the status write fails for another reason than a lost race."""
    steps: Steps[B] = field(default_factory=dict)
    """The kind's own steps (a step the kind lacks is a KeyError: a bug, never silent)."""

    def emit(self, obj: B, event: Emit) -> None:
        """A Warning Event in KLT's format, with the kind's annotations."""
        assert self.source is not None, f"{self.kind.kind} emits only Reports"
        source = self.source(obj)
        message = format_message(
            LONG_NAMES[event.phase],
            event.text,
            namespace=str(source.meta.get("namespace", "")),
            name=str(source.meta.get("name", "")),
            version=source.version,
        )
        annotations = source.annotations(event.phase)
        self.ctx.recorder(self.component).emit(
            dict(obj), "Warning", event.reason, message, annotations=annotations, key=event.key
        )

    async def write(self, obj: B, fields: Fields) -> B | None:
        """The changed fields written; the object as now stored, None if nothing changed."""
        fields = with_conditions(self.kind.kind, obj, fields, self.ctx.now())
        try:
            if self.conditional:
                written = await self.ctx.client.write_status_fields(self.kind, obj, fields)
                return None if written is None else self.kind.view(written)
            body: AnyBody = obj  # read as AnyBody: a read off the TypeVar is `object`
            status: Mapping[str, object] = body.get("status") or {}
            diff = {k: v for k, v in fields.items() if status.get(k) != v}
            if not diff:
                return None
            meta = obj["metadata"]
            await self.ctx.client.patch_status(
                self.kind, meta["name"], {"status": diff}, meta.get("namespace")
            )
            merged = {k: v for k, v in {**status, **diff}.items() if v is not None}
            return self.kind.view({**obj, "status": merged})
        except (Conflict, NotFound):
            raise
        except Exception:
            if self.write_error is not None:
                self.emit(obj, self.write_error)
            raise

    def export(self, obj: B) -> None:
        """The object's span, through the span marks (exported again after a crash until marked)."""
        parent = None
        if self.span_parent:
            parent = (obj["metadata"].get("annotations") or {}).get("traceparent") or None
        if self.ctx.marks is not None:
            self.ctx.marks.child(self.kind, obj, parent_traceparent=parent)
        else:
            export_child_span(self.ctx.spans, obj, parent_traceparent=parent)

    async def act(self, obj: B, action: ChildAction, steps: Steps[B]) -> Result | None:
        """One action; the kind's own steps through ``steps`` (a Result: a nested decision's)."""
        match action:
            case Emit():
                self.emit(obj, action)
            case Report(reason, message):
                # keyed by the text: a retry loop repeating the same cause writes it once
                digest = hashlib.sha256(f"{reason}\n{message}".encode()).hexdigest()[:12]
                key = f"{reason}-{digest}"
                self.ctx.recorder(self.component).emit(
                    dict(obj), "Warning", reason, message, key=key
                )
            case ProviderQueried(namespace, provider, failed):
                ops = self.ctx.telemetry.ops
                (ops.provider_failed if failed else ops.provider_ok)(namespace, provider)
            case SetValue(value):
                meta = obj["metadata"]
                self.ctx.telemetry.set_metric_value(meta.get("namespace", ""), meta["name"], value)
            case Step.EXPORT_SPAN:
                if self.ctx.marks is not None:  # a span a crash kept undelivered
                    self.export(obj)
            case Step.COUNT_STARTED:
                self.started(obj)
            case Step.COUNT_FINISHED:
                self.finished(obj)
                self.export(obj)
            case Step.START_JOB | Step.RELEASE_SLOT | Step.FETCH | Step.RECORD_RESULT:
                return await steps[action](obj)
            case _:
                assert_never(action)
        return None

    async def run(self, obj: B, decision: Decision, steps: Steps[B] | None = None) -> Result:
        """The actions in order, the status write before the first count, the decided requeue.

        ``steps`` (default: the shell's) runs the kind's own steps; a Result one returns (a nested
        decision's) replaces this decision's. The counts get the object as written and are
        skipped when the write changed nothing.
        """
        result = Result(requeue_at=decision.requeue_at, requeue_after=decision.requeue_after)
        body: B | None = obj
        pending = decision.fields
        for action in decision.actions:
            if action in _COUNTS:
                if pending is not None:
                    body, pending = await self.write(obj, pending), None
                if body is None:
                    continue  # nothing changed: the reconcile that wrote it counted it
            if (nested := await self.act(body or obj, action, steps or self.steps)) is not None:
                result = nested
        if pending is not None:
            await self.write(obj, pending)
        return result
