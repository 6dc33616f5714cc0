"""The shell of the child controllers: carry out a ``lifecycle.core.childcore.Decision``.

Role: the I/O every child controller (KeptnTask, KeptnEvaluation, KeptnMetric, Analysis) shares
around its pure core: the Warning Events (KLT's message and annotations; or a ``Report``: why an
object cannot progress, written once per distinct text, next to the same text in its status),
the one status write (with ``status.conditions``), the telemetry counts and the span export that
follow a write that landed. A controller runs its own actions (create a Job, fetch a metric)
through the ``own`` callback and leaves the shared ones here.

Must not: decide anything; the cores do.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, assert_never, cast

from lifecycle.core.childcore import (
    ChildAction,
    CountFinished,
    CountStarted,
    Decision,
    Emit,
    EventSource,
    ExportSpan,
    Fields,
    ProviderQueried,
    Report,
)
from lifecycle.core.conditions import with_conditions
from lifecycle.core.model import ResourceKind
from lifecycle.core.phases import LONG_NAMES
from lifecycle.flow.context import OperatorContext
from lifecycle.kube import Result, format_message
from lifecycle.kube.errors import Conflict, NotFound
from tracing.spans import export_child_span

__all__ = ["ChildShell"]

Body = dict[str, Any]
A = TypeVar("A")


@dataclass
class ChildShell:
    """Executes the shared actions and the status write of one kind of child."""

    ctx: OperatorContext
    kind: ResourceKind
    component: str
    source: Callable[[Body], EventSource] | None = None
    """Who an ``Emit`` is about (tasks, evaluations); None for kinds that only ``Report``."""
    started: Callable[[Body], object] = lambda _: None
    finished: Callable[[Body], object] = lambda _: None
    span_parent: bool = False
    """Export the span under the traceparent annotation (evaluations)."""
    conditional: bool = True
    """Write only against the cached resourceVersion (a stale replica gets a Conflict)."""
    write_error: Emit | None = None
    """Emitted when the status write fails for another reason than a lost race."""

    def emit(self, obj: Body, event: Emit) -> None:
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
            obj, "Warning", event.reason, message, annotations=annotations, key=event.key
        )

    async def write(self, obj: Body, fields: Fields) -> Body | None:
        """The changed fields written; the object as now stored, None if nothing changed."""
        fields = with_conditions(self.kind.kind, obj, fields, self.ctx.now())
        try:
            if self.conditional:
                return await self.ctx.client.write_status_fields(self.kind, obj, fields)
            status: Mapping[str, Any] = obj.get("status") or {}
            diff = {k: v for k, v in fields.items() if status.get(k) != v}
            if not diff:
                return None
            meta = obj["metadata"]
            await self.ctx.client.patch_status(
                self.kind, meta["name"], {"status": diff}, meta.get("namespace")
            )
            merged = {k: v for k, v in {**status, **diff}.items() if v is not None}
            return {**obj, "status": merged}
        except (Conflict, NotFound):
            raise
        except Exception:
            if self.write_error is not None:
                self.emit(obj, self.write_error)
            raise

    def export(self, obj: Body) -> None:
        """The object's span, through the span marks (exported again after a crash until marked)."""
        parent = None
        if self.span_parent:
            parent = (obj["metadata"].get("annotations") or {}).get("traceparent") or None
        if self.ctx.marks is not None:
            self.ctx.marks.child(self.kind, obj, parent_traceparent=parent)
        else:
            export_child_span(self.ctx.spans, obj, parent_traceparent=parent)

    def shared(self, obj: Body, action: ChildAction) -> None:
        """One shared action (the counts are run by ``run`` after the write)."""
        match action:
            case Emit():
                self.emit(obj, action)
            case Report(reason, message):
                # keyed by the text: a retry loop repeating the same cause writes it once
                digest = hashlib.sha256(f"{reason}\n{message}".encode()).hexdigest()[:12]
                key = f"{reason}-{digest}"
                self.ctx.recorder(self.component).emit(obj, "Warning", reason, message, key=key)
            case ExportSpan():
                if self.ctx.marks is not None:  # a span a crash kept undelivered
                    self.export(obj)
            case ProviderQueried(namespace, provider, failed):
                ops = self.ctx.telemetry.ops
                (ops.provider_failed if failed else ops.provider_ok)(namespace, provider)
            case CountStarted():
                self.started(obj)
            case CountFinished():
                self.finished(obj)
                self.export(obj)
            case _:
                assert_never(action)

    async def run(
        self,
        obj: Body,
        decision: Decision[A],
        own: Callable[[Body, A], Awaitable[Result | None]] | None = None,
    ) -> Result:
        """The actions in order, the status write before the first count, the decided requeue.

        ``own`` runs the controller's own actions and hands the shared ones to ``shared`` (None:
        all are shared); a Result it returns (a nested decision's) replaces this decision's. The
        counts get the object as written and are skipped when the write changed nothing.
        """
        result = Result(requeue_at=decision.requeue_at, requeue_after=decision.requeue_after)
        body: Body | None = obj
        pending = decision.fields
        for action in decision.actions:
            if isinstance(action, CountStarted | CountFinished):
                if pending is not None:
                    body, pending = await self.write(obj, pending), None
                if body is None:
                    continue  # nothing changed: the reconcile that wrote it counted it
            if own is None:
                self.shared(body or obj, cast(ChildAction, action))
            elif (nested := await own(body or obj, action)) is not None:
                result = nested
        if pending is not None:
            await self.write(obj, pending)
        return result
