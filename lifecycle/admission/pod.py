"""PURE pod mutation: which pods Keptn manages, their keys, version, gate, KeptnWorkload and app request.

Role: everything the ``/mutate-v1-pod`` webhook decides, as functions of plain bodies (keptn.md §8.3):
the owner (last supported ownerReference), the key lookup order (annotation, label, fallback
annotation, fallback label), copying keys from the parent (ReplicaSet -> Deployment/Rollout,
StatefulSet, DaemonSet) when the pod has none, the version (image tag of ``keptn.sh/container`` or
of the only container, else FNV-32a of names, images and env), the ``keptn-prechecks-gate``, the
JSONPatch, the KeptnWorkload body and the KeptnAppCreationRequest body. ``lifecycle.admission.webhook`` is the
thin async layer that reads the namespace and parents and writes the bodies.

Invariants: a pod without a supported owner, or without a workload key on itself or its parent, is
never touched (``plan_pod`` returns None). The gate is only added on CREATE (the API server refuses
new scheduling gates on UPDATE); a pod carrying ``keptn.sh/scheduling-gate-removed`` (label or
annotation) was released by the gate controller and is left alone entirely, as in KLT, so an old
pod's UPDATE during a rollout can never rewrite the KeptnWorkload back to its version.
Existing scheduling gates of other controllers are kept (KLT overwrites the list). The workload's
``resourceReference`` is the pod's direct owner (ReplicaSet/StatefulSet/DaemonSet), never the
Deployment. Deliberate fixes to KLT: image tags are read after the last ``/`` and before any ``@``
digest (KLT takes ``5000/app`` as the tag of ``registry:5000/app``); comma lists are trimmed and
empty items dropped.

Must not: do I/O, read a clock, log, or import asyncio/aiohttp/kubernetes_asyncio/opentelemetry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from lifecycle.admission.jsonpatch import PatchOp, json_patch
from lifecycle.core import model, naming
from lifecycle.core.bodies import (
    KeptnAppBody,
    KeptnAppCreationRequestBody,
    KeptnWorkloadBody,
    KubeBody,
    ObjectMeta,
    OwnerReference,
    ResourceReference,
)
from lifecycle.core.kubebodies import AnyBody, PodBody
from lifecycle.core.meta import metadata_of
from lifecycle.core.model import KEPTN_APP_CREATION_REQUEST, KEPTN_WORKLOAD

__all__ = [
    "OWNER_KINDS",
    "Owner",
    "PodPlan",
    "VersionError",
    "calculate_version",
    "image_tag",
    "label_or_annotation",
    "namespace_enabled",
    "needs_parent",
    "parse_metadata",
    "plan_pod",
    "released",
    "request_needed",
    "supported_owner",
]

WORKLOAD_KEY: Final = naming.WORKLOAD_ANNOTATION
VERSION_KEY: Final = naming.VERSION_ANNOTATION
APP_KEY: Final = naming.APP_ANNOTATION
PRE_TASKS_KEY: Final = naming.PRE_DEPLOYMENT_TASKS_ANNOTATION
POST_TASKS_KEY: Final = naming.POST_DEPLOYMENT_TASKS_ANNOTATION
PRE_EVALUATIONS_KEY: Final = naming.PRE_DEPLOYMENT_EVALUATIONS_ANNOTATION
POST_EVALUATIONS_KEY: Final = naming.POST_DEPLOYMENT_EVALUATIONS_ANNOTATION
CONTAINER_KEY: Final = naming.CONTAINER_ANNOTATION
METADATA_KEY: Final = naming.METADATA_ANNOTATION
GATE_NAME: Final = naming.GATE_NAME
GATE_REMOVED_KEY: Final = naming.GATE_REMOVED_KEY
_FALLBACK: Final[Mapping[str, str]] = {
    WORKLOAD_KEY: naming.K8S_RECOMMENDED_WORKLOAD_ANNOTATION,
    VERSION_KEY: naming.K8S_RECOMMENDED_VERSION_ANNOTATION,
    APP_KEY: naming.K8S_RECOMMENDED_APP_ANNOTATION,
}
# Keys copied from the parent into the pod's annotations, in KLT's order.
_COPIED_KEYS: Final = (
    APP_KEY,
    PRE_TASKS_KEY,
    POST_TASKS_KEY,
    PRE_EVALUATIONS_KEY,
    POST_EVALUATIONS_KEY,
    CONTAINER_KEY,
    METADATA_KEY,
)
OWNER_KINDS: Final[Mapping[str, model.ResourceKind[KubeBody]]] = {
    "ReplicaSet": model.REPLICA_SET,
    "Deployment": model.DEPLOYMENT,
    "Rollout": model.ARGO_ROLLOUT,
    "StatefulSet": model.STATEFUL_SET,
    "DaemonSet": model.DAEMON_SET,
}
"""The owner kinds that make a pod a Keptn workload (KLT's supported owners)."""
_MAX_NAME: Final = naming.MAX_K8S_OBJECT_LENGTH
_MIN_PART: Final = naming.MIN_KEPTN_NAME_LENGTH


class VersionError(ValueError):
    """``keptn.sh/container`` names a container the pod does not have (KLT's message)."""


@dataclass(frozen=True, slots=True)
class Owner:
    """The ownerReference that makes a pod a Keptn workload."""

    api_version: str
    kind: str
    name: str
    uid: str

    def reference(self) -> OwnerReference:
        """As an ownerReference of the KeptnWorkload (a plain one: not its controller)."""
        return {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "name": self.name,
            "uid": self.uid,
        }

    def resource_reference(self) -> ResourceReference:
        """As ``spec.resourceReference`` of the KeptnWorkload."""
        return {"uid": self.uid, "kind": self.kind, "name": self.name}


@dataclass(frozen=True, slots=True)
class PodPlan:
    """What the webhook does with a managed pod."""

    annotations: dict[str, str]  # the pod's annotations after mutation
    gate: bool  # whether the patch adds the scheduling gate
    patch: list[PatchOp]  # RFC 6902 operations against the original pod
    workload: KeptnWorkloadBody  # to create or update
    app_request: KeptnAppCreationRequestBody  # to create if missing
    single_service: bool = field(default=False)
    warnings: tuple[str, ...] = ()  # admission warnings (kubectl prints them)


def _app_name(value: str) -> str:
    """KeptnApp names follow CreateResourceName; "_" is not allowed in object names either."""
    return naming.valid_name(
        naming.create_resource_name(_MAX_NAME, _MIN_PART, value).replace("_", "-")
    )


def label_or_annotation(meta: ObjectMeta, key: str, fallback: str | None = None) -> str | None:
    """KLT's GetLabelOrAnnotation: annotation, label, fallback annotation, fallback label; "" = unset."""
    annotations = meta.get("annotations") or {}
    labels = meta.get("labels") or {}
    for k in (key, fallback) if fallback else (key,):
        for source in (annotations, labels):
            value = source.get(k)
            if value:
                return str(value)
    return None


def _key(meta: ObjectMeta, key: str) -> str | None:
    return label_or_annotation(meta, key, _FALLBACK.get(key))


def pod_version(pod: PodBody) -> str | None:
    """The workload version a (mutated) pod belongs to, as KeptnWorkload.spec.version spells it."""
    version = _key(metadata_of(pod), VERSION_KEY)
    return version.lower() if version else None


def namespace_enabled(namespace: AnyBody) -> bool:
    """Opted in by annotation (KLT) or label (our webhook namespaceSelector) ``...: enabled``."""
    return (
        label_or_annotation(metadata_of(namespace), naming.NAMESPACE_ENABLED_ANNOTATION)
        == naming.NAMESPACE_ENABLED_VALUE
    )


def supported_owner(meta: ObjectMeta) -> Owner | None:
    """The last ownerReference of a supported kind (KLT's GetOwnerReference), or None."""
    found: Owner | None = None
    for ref in meta.get("ownerReferences") or ():
        if ref.get("kind") in OWNER_KINDS and ref.get("uid"):
            found = Owner(
                str(ref.get("apiVersion", "")),
                str(ref["kind"]),
                str(ref.get("name", "")),
                str(ref["uid"]),
            )
    return found


def released(pod: PodBody) -> bool:
    """The gate controller already released this pod: KLT allows it untouched, writing nothing."""
    return label_or_annotation(metadata_of(pod), GATE_REMOVED_KEY) is not None


def needs_parent(pod: PodBody) -> bool:
    """True when the pod carries no workload key, so the parent's keys must be read."""
    return _key(metadata_of(pod), WORKLOAD_KEY) is None


def image_tag(image: str) -> str:
    """The tag of an image reference, "" when there is none (digest and registry port ignored)."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else ""


def _fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for byte in data:
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


def calculate_version(pod: PodBody, container_name: str = "") -> str:
    """KLT's calculateVersion: a usable image tag, else the decimal FNV-32a of containers."""
    containers = (pod.get("spec") or {}).get("containers") or []
    if container_name and not any(c.get("name") == container_name for c in containers):
        where = "the container in the pod" if len(containers) == 1 else "any containers in the pod"
        verb = "match the name of" if len(containers) == 1 else "match"
        raise VersionError(
            f"The container name '{container_name}' specified in {CONTAINER_KEY} does not {verb} {where}"
        )
    chosen = [c for c in containers if c.get("name") == container_name] if container_name else []
    if not container_name and len(containers) == 1:
        chosen = list(containers)
    for container in chosen:
        tag = image_tag(str(container.get("image", "")))
        if tag and tag != "latest":
            return tag
    text = ""
    for container in containers:
        text += str(container.get("name", "")) + str(container.get("image", ""))
        for env in container.get("env") or ():
            text += str(env.get("name", "")) + str(env.get("value", "") or "")
    return str(_fnv32a(text.encode()))


def _split_list(value: str | None) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()] if value else []


def parse_metadata(value: str | None) -> dict[str, str]:
    """``k1=v1,k2=v2`` -> dict; items that are not exactly ``key=value`` are skipped (as KLT)."""
    result: dict[str, str] = {}
    for item in _split_list(value):
        parts = item.split("=")
        if len(parts) == 2 and parts[0]:
            result[parts[0]] = parts[1]
    return result


def plan_pod(
    pod: PodBody,
    *,
    namespace: str,
    operation: str,
    parent: AnyBody | None,
    carrier: Mapping[str, str],
) -> PodPlan | None:
    """Decide the mutation of an opted-in namespace's pod; None = not managed, allow unchanged.

    ``parent`` is the Deployment/Rollout (for a ReplicaSet owner), StatefulSet or DaemonSet whose
    keys are copied when the pod has none; ``carrier`` is the W3C trace context for the bodies.
    A ``keptn.sh/container`` that names no container is ignored for the version, with an
    admission warning (KLT admits such a pod).
    """
    meta = metadata_of(pod)
    owner = supported_owner(meta)
    if owner is None or released(pod):
        return None
    annotations: dict[str, str] = dict(meta.get("annotations") or {})
    view: ObjectMeta = {"labels": dict(meta.get("labels") or {}), "annotations": annotations}
    if _key(view, WORKLOAD_KEY) is None:
        source = metadata_of(parent) if parent is not None else {}
        workload = _key(source, WORKLOAD_KEY)
        if workload is None:
            return None
        annotations[WORKLOAD_KEY] = workload
        version = _key(source, VERSION_KEY)
        if version:
            annotations[VERSION_KEY] = version
        for key in _COPIED_KEYS:
            value = _key(source, key)
            if value:
                annotations[key] = value
    warnings: tuple[str, ...] = ()
    if _key(view, VERSION_KEY) is None:
        try:
            version = calculate_version(pod, label_or_annotation(view, CONTAINER_KEY) or "")
        except VersionError as exc:  # KLT admits the pod: the version ignores the annotation
            version, warnings = calculate_version(pod), (f"keptn: {exc}",)
        annotations[VERSION_KEY] = version
    workload_name = _key(view, WORKLOAD_KEY) or ""
    app_value = _key(view, APP_KEY)
    single_service = app_value is None
    if single_service:
        annotations[APP_KEY] = workload_name
    app = _app_name(app_value or workload_name)
    gate = operation == "CREATE"
    workload_body: KeptnWorkloadBody = {
        "apiVersion": KEPTN_WORKLOAD.api_version,
        "kind": KEPTN_WORKLOAD.kind,
        "metadata": {
            "name": naming.workload_name(app, workload_name),
            "namespace": namespace,
            "annotations": dict(carrier),
            "ownerReferences": [owner.reference()],
        },
        "spec": {
            "app": app,
            "version": (_key(view, VERSION_KEY) or "").lower(),
            "preDeploymentTasks": _split_list(label_or_annotation(view, PRE_TASKS_KEY)),
            "postDeploymentTasks": _split_list(label_or_annotation(view, POST_TASKS_KEY)),
            "preDeploymentEvaluations": _split_list(label_or_annotation(view, PRE_EVALUATIONS_KEY)),
            "postDeploymentEvaluations": _split_list(
                label_or_annotation(view, POST_EVALUATIONS_KEY)
            ),
            "resourceReference": owner.resource_reference(),
            "metadata": parse_metadata(label_or_annotation(view, METADATA_KEY)),
        },
    }
    request_annotations = dict(carrier)
    request_annotations[naming.APP_TYPE_ANNOTATION] = (
        naming.APP_TYPE_SINGLE_SERVICE if single_service else naming.APP_TYPE_MULTI_SERVICE
    )
    app_request: KeptnAppCreationRequestBody = {
        "apiVersion": KEPTN_APP_CREATION_REQUEST.api_version,
        "kind": KEPTN_APP_CREATION_REQUEST.kind,
        "metadata": {"name": app, "namespace": namespace, "annotations": request_annotations},
        "spec": {"appName": app},
    }
    return PodPlan(
        annotations=annotations,
        gate=gate,
        patch=json_patch(pod, annotations, gate),
        workload=workload_body,
        app_request=app_request,
        single_service=single_service,
        warnings=warnings,
    )


def request_needed(app: KeptnAppBody | None, workload: KeptnWorkloadBody) -> bool:
    """False when the KeptnApp is the user's (the request controller deletes requests for it
    unread) or Keptn's, already listing this KeptnWorkload at this version (no change)."""
    labels = metadata_of(app or {}).get("labels") or {}
    if app is None or labels.get(naming.MANAGED_BY_LABEL) != naming.MANAGED_BY_VALUE:
        return app is None
    spec = workload["spec"]
    listed = {
        (naming.workload_name(str(spec["app"]), str(r.get("name", ""))), str(r.get("version")))
        for r in (app.get("spec") or {}).get("workloads") or ()
    }
    return (str(workload["metadata"]["name"]), str(spec["version"])) not in listed
