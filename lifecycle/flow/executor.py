"""The shared executor of the flow: cache snapshot -> `decide()` -> actions -> one status patch -> telemetry.

Role: the KeptnAppVersion and KeptnWorkloadVersion controllers (appversion.py, workloadversion.py)
build a snapshot from the informer caches with lifecycle.flow.objects, call the pure machine and hand
the Decision to `FlowExecutor.execute`, which carries it out in this order:

1. create the requested KeptnTasks / KeptnEvaluations (deterministic names; AlreadyExists counts
   as done, so a replay after a crash creates nothing twice);
2. emit the decision's Events with the action's key (the recorder names the Event from it, so a
   replayed transition is a no-op on the API server and sends no second CloudEvent) and wait
   until they are written, so no committed transition is without its Events after a crash;
3. write ONE merge-patch of `.status` carrying the resourceVersion read (none when empty): a stale
   cache meets 409 Conflict and the reconcile runs again from fresh data;
4. after the write: telemetry (object_started, phase_ended, object_finished) and the spans of the
   phases that ended, built from the written status: through `ctx.marks` (SpanMarks: exported
   once, then marked `exported` in the carrier, so a crash before delivery re-exports them on
   the next reconcile, see `sweep`) or, without marks, straight to `ctx.spans`.

Invariants: after a status write the object's key is skipped until the cache shows a newer
resourceVersion than the one the write started from (the watch event of our own write wakes it),
so decide() never runs on a status older than what we wrote. Nothing here reads a clock but
`ctx.now()`. Must not: hold per-object state beyond that skip mark (and the pacing's due
times, lifecycle.flow.pacing), or poll.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar, assert_never

from lifecycle.core import model
from lifecycle.core.actions import (
    Action,
    CreateEvaluation,
    CreateTask,
    EmitEvent,
    EventType,
    Finished,
    PhaseEnded,
    reconcile_error_event,
)
from lifecycle.core.bodies import JSON, Body, KeptnEvaluationSpec, KeptnTaskSpec
from lifecycle.core.conditions import with_conditions
from lifecycle.core.machine import ROOT_KEY, Decision, Snapshot, apply_merge_patch, decide
from lifecycle.core.meta import metadata_of, name_of, namespace_of, owner_uids, uid_of
from lifecycle.core.model import ResourceKind
from lifecycle.core.naming import alternate_child_name
from lifecycle.core.phases import Phase
from lifecycle.core.runtimes import task_metadata
from lifecycle.flow.context import OperatorContext
from lifecycle.flow.objects import VersionBody, child_labels, emit, is_completed, previous_version
from lifecycle.flow.pacing import AppVersionPacing
from lifecycle.kube.controller import ObjectKey, Result, TerminalError, key_of
from lifecycle.kube.errors import AlreadyExists, BadRequest, Conflict, Invalid, NotFound
from lifecycle.kube.events import EventRecorder
from lifecycle.observability.logs import bind_phase
from tracing.spans import export_phase_span

__all__ = [
    "FlowExecutor",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Plan:
    """A decision's actions by when the executor runs them: children first, then the Events
    (before the status write), then telemetry and spans of what ended (after it)."""

    creations: tuple[CreateTask | CreateEvaluation, ...]
    events: tuple[EmitEvent, ...]
    ends: tuple[PhaseEnded | Finished, ...]

    @classmethod
    def of(cls, actions: Iterable[Action]) -> _Plan:
        creations: list[CreateTask | CreateEvaluation] = []
        events: list[EmitEvent] = []
        ends: list[PhaseEnded | Finished] = []
        for action in actions:
            match action:
                case CreateTask() | CreateEvaluation():
                    creations.append(action)
                case EmitEvent():
                    events.append(action)
                case PhaseEnded() | Finished():
                    ends.append(action)
                case _:
                    assert_never(action)  # a new action type must be executed here
        return cls(tuple(creations), tuple(events), tuple(ends))


VersionT = TypeVar("VersionT", bound=VersionBody)
SpecT = TypeVar("SpecT", KeptnTaskSpec, KeptnEvaluationSpec)

_NAME_ATTEMPTS = 5
"""Alternate child names tried when another parent's child holds the name (naming)."""


class FlowExecutor(Generic[VersionT]):
    """Carries out decisions for one kind of version (KeptnAppVersion or KeptnWorkloadVersion)."""

    def __init__(
        self,
        ctx: OperatorContext,
        *,
        kind: ResourceKind[VersionT],
        component: str,
        track: bool = True,
        pacing: AppVersionPacing | None = None,
    ) -> None:
        """`track=False` for a caller that never asks `stale()` (no marks are kept); `pacing`
        may hold a decision back (lifecycle.flow.pacing)."""
        self._ctx = ctx
        self._kind = kind
        self.component = component
        self._track = track
        self._pacing = pacing
        self._written: dict[ObjectKey, str] = {}

    def stale(self, obj: VersionT) -> bool:
        """True while the cache still holds the version our last status write started from."""
        key = key_of(obj)
        mark = self._written.get(key)
        if mark is None:
            return False
        if str(metadata_of(obj).get("resourceVersion", "")) == mark:
            return True
        del self._written[key]
        return False

    def forget(self, key: ObjectKey) -> None:
        self._written.pop(key, None)
        if self._pacing is not None:
            self._pacing.forget(key)

    async def reconcile(
        self, key: ObjectKey, snapshot_of: Callable[[VersionT], Snapshot]
    ) -> Result | None:
        """The version reconcile: read from the cache, decide, execute (or sweep), requeue only
        for the decision's deadline. ``snapshot_of`` gathers what the machine reads."""
        obj = self._ctx.cache(self._kind).get(key.namespace, key.name)
        if obj is None:
            self.forget(key)
            return None
        bind_phase(obj)  # log lines of this reconcile carry its phase span's trace/span id
        if self.stale(obj):
            return None
        if is_completed(obj):
            self.sweep(obj)  # spans a crash kept from being delivered or marked
            return None
        now = self._ctx.now()
        decision = decide(snapshot_of(obj), now, self._ctx.config())
        if self._pacing is not None:
            paced = self._pacing.pace(obj, decision, now)
            if not isinstance(paced, Decision):
                return Result(requeue_at=paced)
            decision = paced
        if decision.status or decision.actions:
            try:
                await self.execute(obj, decision)
            except (Conflict, NotFound):
                raise  # a concurrent write or a deletion: the next reconcile sees it
            except Exception as exc:
                version: VersionBody = obj
                current = decision.status.get("currentPhase") or (version.get("status") or {}).get(
                    "currentPhase"
                )
                error = reconcile_error_event(str(obj.get("kind", "")), str(current or ""))
                emit(self._ctx, self.component, obj, error)
                if isinstance(exc, Invalid | BadRequest):
                    # the same object decides the same rejected write: only a change helps
                    raise TerminalError(f"the API server rejects the decided write: {exc}") from exc
                raise  # retried with backoff
        else:
            self.sweep(obj)
        return Result(requeue_at=decision.requeue_at)

    async def execute(self, obj: VersionT, decision: Decision) -> VersionT:
        """Create children, emit events, write the status patch, then record telemetry and spans."""
        ctx = self._ctx
        plan = _Plan.of(decision.actions)
        for creation in plan.creations:
            match creation:
                case CreateTask():
                    await self._create(obj, model.KEPTN_TASK, self._task_body(obj, creation))
                case CreateEvaluation():
                    body = self._evaluation_body(obj, creation)
                    await self._create(obj, model.KEPTN_EVALUATION, body)
                case _:
                    assert_never(creation)
        # Events name the object as it is after this decision (phase carriers included).
        after = obj
        if decision.status:
            version: VersionBody = obj
            status = apply_merge_patch(version.get("status") or {}, decision.status)
            after = self._kind.view({**obj, "status": status})
        writes = [emit(ctx, self.component, after, event) for event in plan.events]
        # Written before the status that records the transition: once the status says a
        # transition happened its Events exist, so a SIGKILL right after the write loses
        # none (a replay before the write re-emits them under the same keys: no duplicate).
        # Only this decision's Events are awaited, not every reconcile's in flight.
        await EventRecorder.wait(writes)
        if decision.status:
            rv = str(metadata_of(obj).get("resourceVersion", ""))
            patch: JSON = {
                "status": with_conditions(self._kind.kind, obj, decision.status, ctx.now())
            }
            if rv:
                patch["metadata"] = {"resourceVersion": rv}
            written = await ctx.client.patch_status(
                self._kind, name_of(obj), patch, namespace_of(obj)
            )
            if self._track:
                self._written[key_of(obj)] = rv
            if written:
                after = self._kind.view(written)
        self._record(obj, after, decision, plan.ends)
        return after

    async def _create(self, obj: VersionT, kind: ResourceKind, body: Body[SpecT, JSON]) -> None:
        name = body["metadata"]["name"]
        namespace = body["metadata"]["namespace"]
        try:
            for attempt in range(1, _NAME_ATTEMPTS + 1):
                try:
                    await self._ctx.client.create(kind, dict(body), namespace)
                    return
                except AlreadyExists:
                    existing = await self._ctx.client.get(kind, name, namespace)
                    if uid_of(obj) in owner_uids(existing):
                        return  # created by an earlier reconcile (maybe before a crash): done
                    # another parent's child holds the name: the next deterministic alternate
                    name = alternate_child_name(body["metadata"]["name"], attempt)
                    body = {**body, "metadata": {**body["metadata"], "name": name}}
            raise Invalid(f"{_NAME_ATTEMPTS} names of {kind.kind} taken by other parents")
        except NotFound:
            log.info("%s: namespace or owner gone while creating %s", self.component, name)
        except (Invalid, BadRequest) as exc:
            # permanent: retrying cannot help; say so on the version (KLT's reason), keyed once
            log.warning("%s: cannot create %s %s: %s", self.component, kind.kind, name, exc)
            reason = "CreateTaskFailed" if kind is model.KEPTN_TASK else "CreateEvaluationFailed"
            phase = Phase.CREATE_TASK if kind is model.KEPTN_TASK else Phase.CREATE_EVALUATION
            event = EmitEvent(
                reason,
                EventType.WARNING,
                phase,
                f"could not create {kind.kind} {name}: {exc}",
                f"{reason}/{name}",
            )
            emit(self._ctx, self.component, obj, event)

    def _task_body(self, obj: VersionT, action: CreateTask) -> Body[KeptnTaskSpec, JSON]:
        spec: KeptnTaskSpec = {
            "taskDefinition": action.definition,
            "context": action.context.copy(),
            "checkType": str(action.check_type),
            "parameters": {},
            "secureParameters": {},
        }
        definition = self._ctx.find_here_or_keptn(
            model.KEPTN_TASK_DEFINITION, namespace_of(obj), action.definition
        )
        # a child inherits what the definition sets
        inherited = (definition or {}).get("spec") or {}
        if (retries := inherited.get("retries")) is not None:
            spec["retries"] = retries
        if (timeout := inherited.get("timeout")) is not None:
            spec["timeout"] = timeout
        traceparent = str((action.context.get("metadata") or {}).get("traceparent", ""))
        body = self._child(obj, model.KEPTN_TASK, action.name, spec, traceparent)
        meta = body["metadata"]
        meta["labels"], meta["annotations"] = task_metadata(
            definition, meta["labels"], meta["annotations"]
        )
        return body

    def _evaluation_body(
        self, obj: VersionT, action: CreateEvaluation
    ) -> Body[KeptnEvaluationSpec, JSON]:
        spec: KeptnEvaluationSpec = {
            "evaluationDefinition": action.definition,
            "workload": action.workload,
            # the CRD requires it: "workload or app version" (KLT fills the app's for app checks)
            "workloadVersion": action.workload_version or action.app_version,
            "appName": action.app_name,
            "appVersion": action.app_version,
            "checkType": str(action.check_type),
        }
        definition = self._ctx.find_here_or_keptn(
            model.KEPTN_EVALUATION_DEFINITION, namespace_of(obj), action.definition
        )
        # a child inherits what the definition sets
        inherited = (definition or {}).get("spec") or {}
        if (retries := inherited.get("retries")) is not None:
            spec["retries"] = retries
        if (interval := inherited.get("retryInterval")) is not None:
            spec["retryInterval"] = interval
        return self._child(obj, model.KEPTN_EVALUATION, action.name, spec, action.traceparent)

    @staticmethod
    def _child(
        obj: VersionT, kind: ResourceKind, name: str, spec: SpecT, traceparent: str
    ) -> Body[SpecT, JSON]:
        return {
            "apiVersion": kind.api_version,
            "kind": kind.kind,
            "metadata": {
                "name": name,
                "namespace": namespace_of(obj),
                "labels": child_labels(obj),
                "annotations": {"traceparent": traceparent} if traceparent else {},
                "ownerReferences": [model.owner_reference(obj)],
            },
            "spec": spec,
        }

    def sweep(self, obj: VersionT) -> None:
        """Hand a reconciled object's ended, unmarked spans to the span marks (no-op without).

        Called on reconciles that decide nothing too (completed objects included), so spans a
        crash kept from being delivered or marked are exported by the first reconcile after a
        restart (lifecycle.observability.spanmarks).
        """
        marks = self._ctx.marks
        if marks is None:
            return
        try:
            marks.version(self._kind, obj, previous_root=self._previous_root(obj))
        except Exception:  # spans must never fail a reconcile
            log.exception("%s: span export of %s failed", self.component, key_of(obj))

    def _previous_root(self, obj: VersionBody) -> str | None:
        status = obj.get("status") or {}
        root = (status.get("phaseTraceIDs") or {}).get(ROOT_KEY) or {}
        if not (root.get("endTime") or status.get("endTime")):
            return None  # only the root span links to the previous version
        previous = previous_version(self._ctx, obj)
        carriers = ((previous or {}).get("status") or {}).get("phaseTraceIDs") or {}
        return (carriers.get(ROOT_KEY) or {}).get("traceparent")

    def _record(
        self,
        before: VersionBody,
        after: VersionT,
        decision: Decision,
        ends: Sequence[PhaseEnded | Finished],
    ) -> None:
        ctx = self._ctx
        if "startTime" in decision.status and not (before.get("status") or {}).get("startTime"):
            ctx.telemetry.object_started(after)
        for action in ends:
            try:
                match action:
                    case PhaseEnded():
                        ctx.telemetry.phase_ended(
                            after, str(action.phase), str(action.state), action.start, action.end
                        )
                        if ctx.marks is None:
                            export_phase_span(ctx.spans, after, str(action.phase))
                    case Finished():
                        previous = previous_version(ctx, after)
                        ctx.telemetry.object_finished(after, previous=previous)
                        if ctx.marks is None:
                            root = self._previous_root(after)
                            export_phase_span(ctx.spans, after, ROOT_KEY, previous_root=root)
                    case _:
                        assert_never(action)
            except Exception:  # telemetry must never fail a committed transition
                log.exception("%s: telemetry for %s failed", self.component, action)
        if ends:
            self.sweep(after)
