"""Durable export marks for the spans built from status: a SIGKILL loses no span.

Role: the flow executor and the task/evaluation controllers hand every object whose status they
wrote -- and every object they reconcile, so the first reconcile after a restart counts too --
to :class:`SpanMarks`. It exports each ended span that carries no mark yet, once per process,
and when the exporter has confirmed the batch that held it, writes the mark:

* KeptnAppVersion / KeptnWorkloadVersion: ``exported: "true"`` in the phase carrier
  ``status.phaseTraceIDs[<phase or "root">]`` (a string map, so the CRD schema keeps it; the
  machine copies carriers whole, so an ended carrier keeps its mark);
* KeptnTask / KeptnEvaluation: the annotation ``keptn.sh/span-exported: "true"`` (their status
  schema has no free-form field).

Why: spans used to be exported once, right after the status write, into a batch processor that
holds them up to 500 ms; a SIGKILL in that window lost them for good, because a restarted process
only exports what a transition it commits ends (tests/e2e/observability/test_sigkill_trace.py
measured 3 of 24 spans lost, each ~285 ms before the kill). Now a span without a mark is exported
again after a restart: the worst case is a duplicate (same trace and span id, so a backend can
recognise it) when the kill lands between the collector's answer and the mark write (~ms).

Invariants: never awaits the exporter inside a reconcile (confirmations arrive on the batch
thread and are moved to the loop); one mark patch per object per confirmation batch (merge
patch of the carrier keys / annotation only, no resourceVersion: marks never conflict). An
export not confirmed within ``retry_after`` s (dropped by a full queue) or failed may be tried
again by the next reconcile; a confirmed one is never exported again by the same process (a
failed mark write is retried, not the export).
Must not: build spans from anything but the object's body.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping

from opentelemetry.sdk.trace import ReadableSpan

from lifecycle.core.machine import ROOT_KEY
from lifecycle.core.meta import annotations_of, name_of, namespace_of
from lifecycle.core.model import ResourceKind
from lifecycle.kube.client import KubeClient
from lifecycle.kube.errors import KubeError, NotFound
from lifecycle.observability.telemetry_labels import VersionBody, child_of
from tracing.setup import Tracing
from tracing.spans import SpanSink, build_child_span, build_phase_span

__all__ = ["EXPORTED", "EXPORTED_ANNOTATION", "SpanMarks", "unmarked_carriers"]

log = logging.getLogger(__name__)

EXPORTED = "exported"
"""Key in a phase carrier: its span was delivered to the exporter's backend."""
EXPORTED_ANNOTATION = "keptn.sh/span-exported"
_MARK_ATTEMPTS = 8
"""Mark writes per confirmation batch (backoff 50 ms doubling, ~6 s in all)."""
_NOT_SPANS = ("parent",)

Key = tuple[ResourceKind, str, str, str]
"""(kind, namespace, name, phase or "" for a task/evaluation)."""


def unmarked_carriers(body: VersionBody) -> list[str]:
    """Phases (then ``"root"``) of a version that ended and whose span carries no mark yet."""
    status = body.get("status", {})
    carriers = status.get("phaseTraceIDs") or {}
    ended = [
        phase
        for phase, carrier in carriers.items()
        if phase not in (ROOT_KEY, *_NOT_SPANS)
        and carrier.get("endTime")
        and not carrier.get(EXPORTED)
    ]
    root, end = carriers.get(ROOT_KEY), status.get("endTime")
    if root is not None and (root.get("endTime") or end) and not root.get(EXPORTED):
        ended.append(ROOT_KEY)
    return ended


class SpanMarks:
    """Exports ended-but-unmarked spans and marks them once the exporter confirmed them."""

    def __init__(
        self,
        *,
        client: KubeClient,
        sink: SpanSink,
        retry_after: float = 30.0,
        may_act: Callable[[], bool] = lambda: True,
    ) -> None:
        self._client = client
        self._sink = sink
        self._may_act = may_act
        """False while this replica is not (or no longer surely) the leader: export nothing."""
        self._retry_after = retry_after
        self._in_flight: dict[Key, float] = {}
        self._delivered: set[Key] = set()
        """Confirmed by the exporter, mark not yet seen in the cache: not exported again here."""
        self._confirmed: dict[tuple[ResourceKind, str, str], set[str]] = {}
        self._flushing: set[asyncio.Task[None]] = set()

    def version(
        self, kind: ResourceKind, body: VersionBody, *, previous_root: str | None = None
    ) -> None:
        """Export the ended, unmarked phase and root spans of an AppVersion/WorkloadVersion."""
        unmarked = unmarked_carriers(body)
        if self._delivered:
            self._forget_marked(kind, body, unmarked)
        for phase in unmarked:
            if not self._due(kind, body, phase):
                continue  # checked before building: most reconciles have nothing to export
            span = build_phase_span(
                body,
                phase,
                resource=self._sink.resource,
                previous_root=previous_root if phase == ROOT_KEY else None,
            )
            if span is not None:
                self._send(kind, body, phase, span)

    def child(
        self,
        kind: ResourceKind,
        body: Mapping[str, object],
        *,
        parent_traceparent: str | None = None,
    ) -> None:
        """Export the span of an ended, unmarked KeptnTask/KeptnEvaluation."""
        if annotations_of(body).get(EXPORTED_ANNOTATION):
            if self._delivered:
                self._forget_marked(kind, body, [])
            return
        span = build_child_span(
            child_of(body), parent_traceparent=parent_traceparent, resource=self._sink.resource
        )
        if span is not None:
            self._send(kind, body, "", span)

    def _forget_marked(
        self, kind: ResourceKind, body: Mapping[str, object], unmarked: list[str]
    ) -> None:
        """The cache shows our marks now: stale copies can no longer trigger a re-export."""
        obj = (kind, namespace_of(body), name_of(body))
        for key in [k for k in self._delivered if k[:3] == obj and k[3] not in unmarked]:
            self._delivered.discard(key)

    def _due(self, kind: ResourceKind, body: Mapping[str, object], phase: str) -> bool:
        """Whether the span of ``phase`` is to be exported now (see ``_send``)."""
        key: Key = (kind, namespace_of(body), name_of(body), phase)
        if isinstance(self._sink, Tracing) and not self._sink.exporting:
            return False  # nothing to deliver, so nothing to mark (a later exporter gets them)
        if not self._may_act():
            return False  # a fenced ex-leader's stale step: the new leader exports (and marks) it
        if key in self._delivered:
            return False
        # exported by this process, confirmation pending
        return time.monotonic() - self._in_flight.get(key, -self._retry_after) >= self._retry_after

    def _send(
        self, kind: ResourceKind, body: Mapping[str, object], phase: str, span: ReadableSpan
    ) -> None:
        if not self._due(kind, body, phase):
            return
        key: Key = (kind, namespace_of(body), name_of(body), phase)
        self._in_flight[key] = time.monotonic()
        loop = asyncio.get_running_loop()

        def done(ok: bool) -> None:  # on the batch processor's thread
            if not loop.is_closed():
                loop.call_soon_threadsafe(self._on_done, key, ok)

        if isinstance(self._sink, Tracing):
            self._sink.export_then([span], done)
        else:  # a plain sink delivers synchronously
            self._sink.export([span])
            self._on_done(key, True)

    def _on_done(self, key: Key, ok: bool) -> None:
        if not ok:
            self._in_flight.pop(key, None)  # the next reconcile exports it again
            return
        self._delivered.add(key)
        kind, namespace, name, phase = key
        pending = self._confirmed.setdefault((kind, namespace, name), set())
        if pending:
            pending.add(phase)
            return  # a flush of this object is already scheduled
        pending.add(phase)
        task = asyncio.get_running_loop().create_task(self._flush((kind, namespace, name)))
        self._flushing.add(task)
        task.add_done_callback(self._flushing.discard)

    async def _flush(self, obj: tuple[ResourceKind, str, str]) -> None:
        await asyncio.sleep(0)  # let confirmations of the same batch join this patch
        phases = self._confirmed.pop(obj, set())
        kind, namespace, name = obj
        carriers = {p: {EXPORTED: "true"} for p in sorted(phases) if p}
        for attempt in range(_MARK_ATTEMPTS):
            try:
                if phases == {""}:
                    marked = {"metadata": {"annotations": {EXPORTED_ANNOTATION: "true"}}}
                    await self._client.patch(kind, name, marked, namespace)
                else:
                    status = {"status": {"phaseTraceIDs": carriers}}
                    await self._client.patch_status(kind, name, status, namespace)
                break
            except NotFound:
                break  # deleted meanwhile: nothing left to mark
            except KubeError as err:
                # The span is delivered; only the mark is missing. Retrying the write (not the
                # export) keeps API trouble from turning into duplicate spans.
                if attempt + 1 == _MARK_ATTEMPTS:
                    log.warning(
                        "span marks of %s %s/%s not written: %s", kind.kind, namespace, name, err
                    )
                    return  # stays delivered: only a restart could export it again
                await asyncio.sleep(0.05 * 2**attempt)
        for phase in phases:
            # stays in _delivered until the cache shows the mark: a reconcile of the copy
            # cached before the mark write must not export the span again
            self._in_flight.pop((kind, namespace, name, phase), None)

    async def close(self) -> None:
        """Wait for mark writes already scheduled (shutdown)."""
        if self._flushing:
            await asyncio.gather(*self._flushing, return_exceptions=True)
