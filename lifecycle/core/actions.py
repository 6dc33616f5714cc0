"""What a decision of the state machine asks the outside world to do.

Role: plain, frozen values that `lifecycle.core.machine.decide()` returns and the controllers carry
out after they wrote the status patch. Nothing here does anything.

Invariants: every action is idempotent when carried out twice. Children carry deterministic
names (a second create meets AlreadyExists, which the controller treats as done); every
`EmitEvent` carries a `key` unique for one transition of its object, from which the event
recorder derives the Event's name, so replaying a decision after a crash emits no duplicate.

Must not: import anything but the standard library, lifecycle.core.phases and lifecycle.core.bodies.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from lifecycle.core.bodies import TaskContext
from lifecycle.core.phases import CheckType, Phase, State

__all__ = [
    "Action",
    "CreateEvaluation",
    "CreateTask",
    "Creation",
    "EmitEvent",
    "EventType",
    "Finished",
    "PhaseEnded",
    "creation_event",
    "creation_failed_event",
    "deprecate_failed_event",
    "no_context_event",
    "reconcile_error_event",
]


class EventType(StrEnum):
    """Kubernetes Event type."""

    NORMAL = "Normal"
    WARNING = "Warning"


@dataclass(frozen=True, slots=True)
class CreateTask:
    """Create KeptnTask `name` for KeptnTaskDefinition `definition`.

    `context` is the KeptnTask spec.context (workloadName, appName, appVersion, workloadVersion,
    taskType, objectType, metadata with the phase span's "traceparent"). The controller resolves
    the definition (object namespace, then the Keptn namespace) and fills retries/timeout.
    """

    name: str
    definition: str
    phase: Phase
    check_type: CheckType
    context: TaskContext


@dataclass(frozen=True, slots=True)
class CreateEvaluation:
    """Create KeptnEvaluation `name` for KeptnEvaluationDefinition `definition` (spec fields as named)."""

    name: str
    definition: str
    phase: Phase
    check_type: CheckType
    workload: str
    workload_version: str
    app_name: str
    app_version: str
    traceparent: str
    """The phase span's carrier, for the evaluation's own span and CloudEvents."""


@dataclass(frozen=True, slots=True)
class EmitEvent:
    """Emit a Kubernetes Event (and its CloudEvent) on the decided object.

    The message is `"<LONG_NAMES[phase]>: <text> / Namespace: ..., Name: ..., Version: ..."`,
    the recorder builds the tail. `key` is unique per transition of this object.
    """

    reason: str
    type: EventType
    phase: Phase
    text: str
    key: str


@dataclass(frozen=True, slots=True)
class PhaseEnded:
    """A phase finished: record its span and metrics (after the status patch was written)."""

    phase: Phase
    state: State
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Finished:
    """The whole object finished (Succeeded, Failed or Deprecated): root span and object metrics."""

    state: State
    start: datetime
    end: datetime


Action = CreateTask | CreateEvaluation | EmitEvent | PhaseEnded | Finished
"""Every action the executor (lifecycle.flow.executor) runs: its dispatch is a ``match`` that
``assert_never``s, so a new action type fails mypy until it is executed. The scheduling gate
needs no action: the gate controller applies ``machine.gate_open`` to the WorkloadVersion."""


class Creation(StrEnum):
    """The seed's creation events that other controllers emit (not part of the flow)."""

    APP = "CreateApp"
    APP_VERSION = "CreateAppVersion"
    WORKLOAD = "CreateWorkload"
    WORKLOAD_INSTANCE = "CreateWorkloadInstance"


_CREATION_PHASES = {
    # a KeptnApp is created from a KeptnAppCreationRequest, hence that phase's long name
    Creation.APP: (Phase.CREATE_APP_CREATION_REQUEST, "KeptnApp"),
    Creation.APP_VERSION: (Phase.CREATE_APP_VERSION, "KeptnAppVersion"),
    Creation.WORKLOAD: (Phase.CREATE_WORKLOAD, "KeptnWorkload"),
    Creation.WORKLOAD_INSTANCE: (Phase.CREATE_WORKLOAD_VERSION, "KeptnWorkloadVersion"),
}


def reconcile_error_event(kind: str, current_phase: str) -> EmitEvent:
    """KLT's Warning `<Phase>ReconcileError` ("could not get reconciled"), on every failed try.

    The phase is the version's current one (its first before it started); the key is empty:
    every try emits it again and the recorder folds repeats into a count, as client-go does.
    """
    first = (
        Phase.APP_PRE_DEPLOY_TASKS if kind == "KeptnAppVersion" else Phase.WORKLOAD_PRE_DEPLOY_TASKS
    )
    phase = next((p for p in Phase if p.value == current_phase), first)
    return EmitEvent(
        f"{phase}ReconcileError", EventType.WARNING, phase, "could not get reconciled", ""
    )


def creation_failed_event(what: Creation, name: str, error: object) -> EmitEvent:
    """KLT's Warning `<CreatePhase>Failed` for a create the API server refused (key: reason/name)."""
    phase, kind = _CREATION_PHASES[what]
    reason, text = f"{phase}Failed", f"could not create {kind}: {error}"
    return EmitEvent(reason, EventType.WARNING, phase, text, f"{reason}/{name}")


def creation_event(what: Creation, name: str) -> EmitEvent:
    """The Normal event a controller emits on the object it just created (key: reason/name)."""
    phase, kind = _CREATION_PHASES[what]
    return EmitEvent(str(what), EventType.NORMAL, phase, f"created {kind} {name}", f"{what}/{name}")


def no_context_event(app: str) -> EmitEvent:
    """Normal `AppContextNotFound` on a new AppVersion whose app has no KeptnAppContext."""
    text = f"no KeptnAppContext {app}: no app-level tasks or evaluations run for this version"
    reason = "AppContextNotFound"
    return EmitEvent(reason, EventType.NORMAL, Phase.CREATE_APP_VERSION, text, reason)


def deprecate_failed_event(name: str) -> EmitEvent:
    """KLT's Warning on the KeptnApp when its outdated revisions could not be deprecated."""
    text = f"could not deprecate outdated revisions of KeptnAppVersion: {name}"
    reason = "DeprecateAppVersionFailed"
    return EmitEvent(reason, EventType.WARNING, Phase.DEPRECATE_APP_VERSION, text, "")
