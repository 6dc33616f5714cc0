"""Typed views of the built-in Kubernetes kinds the operator reads (Pod, Event ...) and of any body.

Role: what lifecycle.core.bodies is for the KLT kinds, for the built-in kinds the operator reads
field by field: the pod the webhook gates, the references a task Job's pod template makes, the
ConfigMaps and Secrets it reads, the Events the demo, the release view and the CloudEvents read
back. Only the fields someone reads are declared; a reader of another field adds
it here. ``AnyBody`` is the body of any kind, with typed metadata, for code that reads only
``metadata`` (or hands the body on) whatever its kind.

Invariants: keys are the exact JSON field names of core/v1 and events.k8s.io/v1; every TypedDict
is ``total=False`` (the API server omits what has no value).

Must not: do I/O, import anything beyond the standard library and lifecycle.core.bodies, or hold
behaviour; data only.
"""

from __future__ import annotations

from typing import Any, TypedDict

from lifecycle.core.bodies import JSON, Body, ObjectMeta

__all__ = [
    "AnyBody",
    "ConfigMapBody",
    "Container",
    "EnvFromSource",
    "EnvVar",
    "EnvVarSource",
    "EventBody",
    "EventSource",
    "LocalRef",
    "ObjectReference",
    "PodBody",
    "PodSpec",
    "PodStatus",
    "PodTemplateSpec",
    "SchedulingGate",
    "SecretBody",
    "Volume",
]

AnyBody = Body[Any, Any]  # any kind's body: typed metadata, spec and status as the kind has them


class LocalRef(TypedDict, total=False):  # a ConfigMap's or Secret's, in a volume or an env
    name: str
    secretName: str  # a secret volume's name
    key: str
    optional: bool


class EnvVarSource(TypedDict, total=False):
    configMapKeyRef: LocalRef
    secretKeyRef: LocalRef


class EnvVar(TypedDict, total=False):
    name: str
    value: str
    valueFrom: EnvVarSource


class EnvFromSource(TypedDict, total=False):
    configMapRef: LocalRef
    secretRef: LocalRef


class Container(TypedDict, total=False):
    name: str
    image: str
    env: list[EnvVar]
    envFrom: list[EnvFromSource]


class Volume(TypedDict, total=False):
    name: str
    configMap: LocalRef
    secret: LocalRef


class SchedulingGate(TypedDict):
    name: str


class PodSpec(TypedDict, total=False):
    containers: list[Container]
    initContainers: list[Container]
    schedulingGates: list[SchedulingGate]
    serviceAccountName: str
    nodeName: str
    volumes: list[Volume]


class PodStatus(TypedDict, total=False):
    phase: str
    conditions: list[JSON]


class PodTemplateSpec(TypedDict, total=False):  # what ReplicaSets, StatefulSets ... hold
    metadata: ObjectMeta
    spec: PodSpec


PodBody = Body[PodSpec, PodStatus]


class ConfigMapBody(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    data: dict[str, str]


class SecretBody(ConfigMapBody, total=False):  # data: base64 values
    type: str
    stringData: dict[str, str]


class ObjectReference(TypedDict, total=False):
    apiVersion: str
    kind: str
    name: str
    namespace: str
    uid: str
    resourceVersion: str
    fieldPath: str


class EventSource(TypedDict, total=False):
    component: str
    host: str


class EventBody(TypedDict, total=False):
    """A core/v1 Event (events.k8s.io/v1's ``regarding``/``note`` names where they differ)."""

    apiVersion: str
    kind: str
    metadata: ObjectMeta
    involvedObject: ObjectReference
    regarding: ObjectReference
    reason: str
    message: str
    note: str
    type: str
    action: str
    count: int
    firstTimestamp: str
    lastTimestamp: str
    eventTime: str
    source: EventSource
    reportingComponent: str
    reportingController: str
    reportingInstance: str
