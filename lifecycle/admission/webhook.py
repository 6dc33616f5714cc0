"""Admission webhooks: the pod mutator's async layer and the AdmissionReview v1 envelope.

Role: ``PodMutator.review`` takes an AdmissionReview for a pod, reads the namespace and confirms the
pod's owner in the cluster (``lifecycle.admission.owner``: the owner must exist with the pod's uid;
keys and containers come from its pod template, never from the review body) through a small
``AdmissionStore`` protocol, asks the pure ``lifecycle.admission.pod.plan_pod`` what to do, creates or updates the KeptnWorkload, creates the
KeptnAppCreationRequest if missing and the KeptnApp needs one, and answers with a JSONPatch. ``validate_review`` wraps the
pure validators of ``lifecycle.admission.validators`` the same way. The composition root implements
``AdmissionStore`` with lifecycle/kube (informer cache for reads, the client for writes, the event
recorder for ``warn``); tests implement it with a dict.

Failure policy (the webhook configuration uses ``failurePolicy: Ignore``):
* a pod whose owner cannot be confirmed (absent, another uid) is allowed unchanged with a warning
  and a log line, and nothing is written: a forged review changes no KeptnWorkload;
* a pod we do not manage (namespace not opted in, no supported owner, no workload key on the pod or
  its parent) is allowed unchanged, always; so is a pod the gate controller released (its
  ``keptn.sh/scheduling-gate-removed`` marker), before anything is read: the body can only make
  us do nothing;
* if we cannot tell whether a pod is managed (namespace or parent unreadable) we allow it unchanged
  with an admission warning and a log line: blocking or gating a pod we may not own would freeze
  workloads that never opted in;
* a Transient error (5xx, 429, timeout, reset) of a KeptnWorkload/KeptnAppCreationRequest read
  or write is retried with jittered backoff for up to ``_RETRY_BUDGET`` (2 s for both writes of a
  request, well inside the configuration's ``timeoutSeconds: 5``);
* the answer never waits on the writes for more than ``answer_within`` (0.25 s): an API server
  too busy to take them in time would otherwise make the call time out, and under
  failurePolicy Ignore admit the pod ungated (a burst of 1,000 on a CPU-starved machine:
  866 pods ungated when the answer waited for the writes, 0 with 0.25 s). The pod is gated in the answer and the writes go on in the background (``drain``
  awaits them at shutdown); the adoption controller writes whatever a stopped operator left;
* a managed pod whose KeptnWorkload/KeptnAppCreationRequest write still fails is GATED, with a
  warning, a log line and a Warning Event (``CreateWorkloadFailed`` ...): letting it schedule
  ungated would deploy it unchecked, the worst outcome. The adoption controller
  (lifecycle/controllers/adopt.py) creates the missing objects from the pod's next event, and the
  next UPDATE of the pod retries the writes too, because the mutator upserts the workload on UPDATE;
* a managed pod whose ``keptn.sh/container`` names no container is denied with KLT's message, so the
  ReplicaSet's FailedCreate events show the configuration error.
Requests with ``dryRun: true`` get the patch but write nothing (sideEffects: None).

Must not: import kubernetes_asyncio, hold state between requests (beyond the writes still
running), or raise out of ``review`` for a well-formed request.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
from collections.abc import Mapping
from typing import Final, Protocol, TypeVar

from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from lifecycle.admission.jsonpatch import PatchOp, encode_patch, json_patch
from lifecycle.admission.owner import Unconfirmed, confirm_owner
from lifecycle.admission.pod import (
    OWNER_KINDS,
    PodPlan,
    namespace_enabled,
    needs_parent,
    plan_pod,
    released,
    request_needed,
    supported_owner,
)
from lifecycle.admission.review import (
    AdmissionRequest,
    AdmissionResponse,
    AdmissionReview,
    admission_request,
)
from lifecycle.admission.validators import Validator
from lifecycle.core.bodies import KeptnAppCreationRequestBody, KeptnWorkloadBody, KubeBody
from lifecycle.core.kubebodies import AnyBody, PodBody
from lifecycle.core.meta import metadata_of
from lifecycle.core.model import (
    KEPTN_APP,
    KEPTN_APP_CREATION_REQUEST,
    KEPTN_WORKLOAD,
    NAMESPACE,
    REPLICA_SET,
    ResourceKind,
)
from lifecycle.kube.errors import Transient

__all__ = [
    "AdmissionStore",
    "PodMutator",
    "admission_response",
    "pod_parent",
    "validate_review",
]

_log = logging.getLogger(__name__)
_PROPAGATOR: Final = TraceContextTextMapPropagator()
_WRITE_ATTEMPTS: Final = 3
_RETRY_BUDGET: Final = 2.0
"""Seconds one admission request spends retrying Transient errors (timeoutSeconds is 5)."""
_RETRY_BASE: Final = 0.05
_B = TypeVar("_B", bound=Mapping[str, object])
_Written = KeptnWorkloadBody | KeptnAppCreationRequestBody


class AdmissionStore(Protocol):
    """The reads and writes the pod mutator needs; the composition root backs it with lifecycle/kube."""

    async def get(
        self, kind: ResourceKind[_B], namespace: str | None, name: str, *, fresh: bool = False
    ) -> _B | None:
        """The object as ``kind``'s body, None when it does not exist; raises on any other failure.

        ``fresh=False`` may answer from an informer cache; ``fresh=True`` must read the API server
        (the mutator asks for it after a write lost a race, when the cache may lag).
        """
        ...

    async def create(self, kind: ResourceKind, body: Mapping[str, object]) -> bool:
        """Create the object; False when one of that name already exists (409 AlreadyExists)."""
        ...

    async def update(self, kind: ResourceKind, body: Mapping[str, object]) -> bool:
        """Replace the object (PUT with the body's resourceVersion); False on 409 Conflict."""
        ...

    async def warn(self, obj: AnyBody, reason: str, message: str) -> None:
        """Record a Warning Event on ``obj`` (source ``keptn/webhook``); must not raise."""
        ...


def admission_response(
    uid: str,
    *,
    allowed: bool = True,
    patch: list[PatchOp] | None = None,
    message: str = "",
    code: int = 200,
    warnings: list[str] | None = None,
) -> AdmissionReview:
    """An AdmissionReview v1 answer."""
    response: AdmissionResponse = {"uid": uid, "allowed": allowed}
    if patch:
        response["patchType"] = "JSONPatch"
        response["patch"] = encode_patch(patch)
    if message or not allowed:
        response["status"] = {"code": code, "message": message}
        if not allowed:
            response["status"]["reason"] = "Invalid" if code == 422 else "Forbidden"
    if warnings:
        response["warnings"] = warnings
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response}


def validate_review(review: Mapping[str, object], validator: Validator) -> AdmissionReview:
    """Run a pure validator on the object of an AdmissionReview; DELETE is always allowed."""
    request: AdmissionRequest[AnyBody] = admission_request(review)
    uid = str(request["uid"])
    obj = request.get("object")
    if request.get("operation") == "DELETE" or not isinstance(obj, Mapping):
        return admission_response(uid)
    verdict = validator(obj)
    if verdict.allowed:
        return admission_response(uid, warnings=list(verdict.warnings) or None)
    return admission_response(uid, allowed=False, message=verdict.message, code=verdict.code)


async def pod_parent(store: AdmissionStore, pod: PodBody, namespace: str) -> KubeBody | None:
    """The Deployment/Rollout/StatefulSet/DaemonSet whose keys apply, read only when needed."""
    owner = supported_owner(metadata_of(pod))
    if owner is None or released(pod) or not needs_parent(pod):
        return None
    if owner.kind == "ReplicaSet":
        rs = await store.get(REPLICA_SET, namespace, owner.name)
        rs_owner = supported_owner(metadata_of(rs or {}))
        if rs_owner is None or rs_owner.kind not in ("Deployment", "Rollout"):
            return None  # a bare ReplicaSet is not followed (KLT)
        owner = rs_owner
    return await store.get(OWNER_KINDS[owner.kind], namespace, owner.name)


class PodMutator:
    """``/mutate-v1-pod``: gate managed pods and create their KeptnWorkload and app request."""

    def __init__(
        self, *, store: AdmissionStore, tracer: trace.Tracer, answer_within: float = 0.25
    ) -> None:
        self._store = store
        self._tracer = tracer
        self._answer_within = answer_within
        self._writing: set[asyncio.Task[list[str]]] = set()

    async def drain(self, within: float) -> None:
        """Wait up to ``within`` s for the writes that outlived their answers (shutdown)."""
        if self._writing:
            await asyncio.wait(set(self._writing), timeout=within)

    async def review(self, review: Mapping[str, object]) -> AdmissionReview:
        """AdmissionReview in, AdmissionReview out; ValueError only for a malformed review."""
        request: AdmissionRequest[PodBody] = admission_request(review)
        uid = str(request["uid"])
        pod = request.get("object")
        namespace = str(request.get("namespace") or "")
        if not isinstance(pod, Mapping) or not namespace:
            return admission_response(uid)
        if released(pod):  # most UPDATEs: nothing to read, write or trace (nothing is trusted)
            return admission_response(uid, message="pod was released by keptn: left alone")
        with self._tracer.start_as_current_span(
            "annotate_pod",
            context=trace.set_span_in_context(trace.INVALID_SPAN),
            kind=trace.SpanKind.SERVER,
        ) as span:
            try:
                ns = await self._store.get(NAMESPACE, None, namespace)
                confirmed = (
                    await confirm_owner(self._store, pod, namespace)
                    if ns and namespace_enabled(ns)
                    else None
                )
            except Unconfirmed as exc:  # a forged or stale review: never trust its body
                _log.warning("pod webhook: %s: changing nothing: %s", namespace, exc)
                span.set_status(trace.StatusCode.ERROR, str(exc))
                return admission_response(
                    uid, warnings=[f"keptn: pod left unchanged, its owner is unconfirmed: {exc}"]
                )
            except Exception as exc:  # unknown whether we manage this pod: never block it
                _log.warning("pod webhook: cannot read %s's context, allowing: %s", namespace, exc)
                span.set_status(trace.StatusCode.ERROR, str(exc))
                return admission_response(
                    uid,
                    warnings=[f"keptn: pod admitted unchecked, could not read its owners: {exc}"],
                )
            if ns is None or not namespace_enabled(ns):
                return admission_response(
                    uid, message="namespace is not enabled for lifecycle controller"
                )
            carrier: dict[str, str] = {}
            _PROPAGATOR.inject(carrier)
            if confirmed is None:
                return admission_response(uid, message="pod is not managed by keptn")
            plan = plan_pod(
                confirmed.pod,
                namespace=namespace,
                operation=str(request.get("operation", "CREATE")),
                parent=confirmed.parent,
                carrier=carrier,
            )
            if plan is None:
                return admission_response(uid, message="pod is not managed by keptn")
            plan = dataclasses.replace(plan, patch=json_patch(pod, plan.annotations, plan.gate))
            for key, value in plan.workload["spec"].items():
                if isinstance(value, str):
                    span.set_attribute(f"keptn.deployment.workload.{key}", value)
            warnings = list(plan.warnings)
            if not request.get("dryRun"):
                warnings += await self._write_in_time(plan, span)
            return admission_response(uid, patch=plan.patch, warnings=warnings or None)

    async def _write_in_time(self, plan: PodPlan, span: trace.Span) -> list[str]:
        """``_write``'s warnings, or, when it outlasts ``answer_within``, one saying it goes on."""
        task = asyncio.create_task(self._write(plan, span))
        done, _ = await asyncio.wait({task}, timeout=self._answer_within)
        if task in done:
            return task.result()
        self._writing.add(task)
        task.add_done_callback(self._writing.discard)
        name = plan.workload["metadata"]["name"]
        _log.info("pod webhook: KeptnWorkload %s still being written after the answer", name)
        return [f"keptn: KeptnWorkload {name} is still being written; the pod stays gated"]

    async def _write(self, plan: PodPlan, span: trace.Span) -> list[str]:
        """Upsert the KeptnWorkload and create the app request; failures become warnings."""
        warnings: list[str] = []
        deadline = asyncio.get_running_loop().time() + _RETRY_BUDGET
        writes: tuple[tuple[ResourceKind[_Written], _Written, bool], ...] = (
            (KEPTN_WORKLOAD, plan.workload, True),
            (KEPTN_APP_CREATION_REQUEST, plan.app_request, False),
        )
        for kind, body, upsert in writes:
            with self._tracer.start_as_current_span(
                "create_workload" if upsert else "create_app", kind=trace.SpanKind.PRODUCER
            ):
                try:
                    if upsert or await self._app_needs_request(plan):
                        await self._apply_retrying(kind, body, upsert=upsert, deadline=deadline)
                except _WriteFailed as failed:  # gate anyway: an unchecked deploy is worse
                    name = body["metadata"]["name"]
                    message = f"could not {failed.verb} {kind.kind} {name}: {failed.__cause__}"
                    _log.error("pod webhook: %s; the pod stays gated until it is updated", message)
                    span.set_status(trace.StatusCode.ERROR, message)
                    reason = f"{failed.verb.capitalize()}{kind.kind.removeprefix('Keptn')}Failed"
                    await self._store.warn(body, reason, f"could not {failed.verb} {kind.kind}")
                    warnings.append(f"keptn: {message}; the pod stays gated")
        return warnings

    async def _app_needs_request(self, plan: PodPlan) -> bool:
        """``request_needed`` for the KeptnApp in the cache; True when it cannot be read."""
        meta = plan.app_request["metadata"]
        try:
            app = await self._store.get(KEPTN_APP, meta["namespace"], meta["name"])
        except Exception:  # the request controller decides then, as before
            return True
        return request_needed(app, plan.workload)

    async def _apply_retrying(
        self, kind: ResourceKind[_Written], body: _Written, *, upsert: bool, deadline: float
    ) -> None:
        """``_apply``, retrying Transient errors with jittered backoff until ``deadline``."""
        loop = asyncio.get_running_loop()
        delay = _RETRY_BASE
        while True:
            try:
                await self._apply(kind, body, upsert=upsert)
                return
            except _WriteFailed as failed:
                wait = delay * random.uniform(0.5, 1.0)
                if not isinstance(failed.__cause__, Transient) or loop.time() + wait > deadline:
                    raise
                await asyncio.sleep(wait)
                delay *= 2

    async def _apply(self, kind: ResourceKind[_Written], body: _Written, *, upsert: bool) -> None:
        """Create, or (upsert) update when it differs; lost races re-read from the API server."""
        meta = body["metadata"]
        fresh = False
        for _ in range(_WRITE_ATTEMPTS):
            verb = "create"
            try:
                current = await self._store.get(kind, meta["namespace"], meta["name"], fresh=fresh)
                if current is None:
                    # not upsert: AlreadyExists is a sibling pod's app request, written after
                    # its KeptnWorkload; it serves this pod too, even if the request controller
                    # consumed it since (it reads the app's KeptnWorkloads when it does)
                    if await self._store.create(kind, body) or not upsert:
                        return
                elif not upsert or _same_workload(current, body):
                    return
                else:
                    verb = "update"
                    updated = dict(current)
                    updated["spec"] = body["spec"]
                    updated["metadata"] = {
                        **dict(current.get("metadata") or {}),
                        "ownerReferences": meta["ownerReferences"],
                    }
                    if await self._store.update(kind, updated):
                        return
            except Exception as exc:
                raise _WriteFailed(verb) from exc
            fresh = True  # a sibling pod's webhook call won the race: compare with its write
        raise _WriteFailed("update") from RuntimeError("it kept changing while being written")


class _WriteFailed(Exception):
    """A KeptnWorkload/KeptnAppCreationRequest write failed; ``verb`` names the Event reason."""

    def __init__(self, verb: str) -> None:
        super().__init__(verb)
        self.verb = verb


def _same_workload(current: _Written, desired: _Written) -> bool:
    owners = (current.get("metadata") or {}).get("ownerReferences") or []
    want = desired["metadata"]["ownerReferences"]
    same_owner = [(o.get("uid"), o.get("kind")) for o in owners] == [
        (o["uid"], o["kind"]) for o in want
    ]
    spec = dict(current.get("spec") or {})
    return same_owner and all(spec.get(k, _EMPTY[k]) == v for k, v in desired["spec"].items())


# What the API server omits for an empty list or map: compare as equal to the desired empty value.
_EMPTY: Final[Mapping[str, object]] = {
    "app": "",
    "version": "",
    "preDeploymentTasks": [],
    "postDeploymentTasks": [],
    "preDeploymentEvaluations": [],
    "postDeploymentEvaluations": [],
    "resourceReference": {},
    "metadata": {},
}
