"""CloudEvents sender: one CloudEvent 1.0 (HTTP binary mode) per Kubernetes Event, queued and retried.

Role: controllers call :meth:`CloudEventSender.submit` right after they emit a Kubernetes Event; a
single background worker delivers the events in order to ``KeptnConfig.spec.cloudEventsEndpoint``
using the cloudevents 2.x ``cloudevents.core`` API over aiohttp. The table of types and the data
schema are in docs/cloudevents.md.

Mapping (:func:`to_cloudevent`):
* ``type`` = ``sh.keptn.lifecycle.<phase>.<outcome>`` in kebab case, derived one-to-one from the
  Event reason (:func:`event_type`; :func:`reason_for_type` inverts it) -- KLT's types contain
  spaces (``App Pre-Deployment Tasks.Started``), which CloudEvents routers cannot match well;
* ``source`` = ``keptn.sh`` (as KLT); ``subject`` = ``namespaces/<ns>/<plural>/<name>``;
* ``id`` = the Kubernetes Event's uid (stable across retries, so receivers can de-duplicate);
* ``datacontenttype`` ``application/json``, data ``{message, type, version, resource: {group,
  version, kind, name, namespace}}`` with the real GVK (KLT often sends empty strings);
* ``traceparent`` extension = the phase span of the event (from the object's phaseTraceIDs).

Invariants: ``submit`` never awaits and never raises; when the bounded queue is full the event is
dropped and counted (``keptn_cloudevents_dropped_total{reason="queue_full"}``). Delivery is
at-least-once within the bound: the head event is retried with exponential backoff (the queue
keeps order, so Started always precedes Succeeded) until it is accepted, rejected with a 4xx, or
``max_attempts`` is exhausted. The endpoint can change at runtime (:meth:`set_endpoint`); with no
endpoint nothing is queued, as in KLT. Must not import kubernetes_asyncio.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import cast

import aiohttp
from cloudevents.core.bindings import http as ce_http
from cloudevents.core.v1.event import CloudEvent

from lifecycle.core.kubebodies import EventBody
from lifecycle.core.meta import annotations_of, name_of, namespace_of, uid_of
from lifecycle.core.phases import Phase
from lifecycle.observability.telemetry import Telemetry
from lifecycle.observability.telemetry_labels import VersionBody, as_text

__all__ = [
    "KNOWN_PHASES",
    "SOURCE",
    "TYPE_PREFIX",
    "CloudEventSender",
    "RetryPolicy",
    "event_type",
    "reason_for_type",
    "to_cloudevent",
]

log = logging.getLogger(__name__)

SOURCE = "keptn.sh"  # what KLT sends: routers match on it
TYPE_PREFIX = "sh.keptn.lifecycle."

# Phase-like prefixes of Event reasons: the phases of lifecycle.core.phases (not the bare states
# Completed and Deprecated) and two non-flow events of the seed. The longest prefix wins, so
# "WorkloadDeployReconcileErrored" is WorkloadDeploy + ReconcileErrored. Reasons with no known
# prefix still map one-to-one (kebab of the reason).
KNOWN_PHASES = (
    *(str(p) for p in Phase if p not in (Phase.COMPLETED, Phase.DEPRECATED)),
    "CreateApp",
    "CreateWorkloadInstance",
)
_BY_LENGTH = sorted(KNOWN_PHASES, key=len, reverse=True)
_WORD = re.compile(r"[A-Z][a-z0-9]*|[a-z0-9]+")


def _kebab(camel: str) -> str:
    return "-".join(word.lower() for word in _WORD.findall(camel))


def _camel(kebab: str) -> str:
    return "".join(word[:1].upper() + word[1:] for word in kebab.split("-"))


def event_type(reason: str) -> str:
    """``AppPreDeployTasksStarted`` -> ``sh.keptn.lifecycle.app-pre-deploy-tasks.started``."""
    for phase in _BY_LENGTH:
        if reason.startswith(phase) and len(reason) > len(phase):
            return f"{TYPE_PREFIX}{_kebab(phase)}.{_kebab(reason[len(phase) :])}"
    return f"{TYPE_PREFIX}{_kebab(reason)}"


def reason_for_type(ce_type: str) -> str:
    """The inverse of :func:`event_type` (for consumers and the one-to-one test)."""
    rest = ce_type.removeprefix(TYPE_PREFIX)
    return "".join(_camel(part) for part in rest.split("."))


def to_cloudevent(event: EventBody, obj: Mapping[str, object] | None = None) -> CloudEvent:
    """The CloudEvent for a Kubernetes Event (core/v1 or events.k8s.io/v1) about ``obj``."""
    about = cast(VersionBody, obj or {})  # what is read is a version's; other kinds lack it
    ref = event.get("involvedObject") or event.get("regarding") or {}
    api_version = as_text(ref.get("apiVersion") or about.get("apiVersion"))
    group, _, version = api_version.rpartition("/")
    kind = as_text(ref.get("kind") or about.get("kind"))
    name = as_text(ref.get("name") or name_of(about))
    namespace = as_text(ref.get("namespace") or namespace_of(about))
    annotations = annotations_of(event)
    reason = as_text(event.get("reason"))
    obj_version = (
        annotations.get("workloadVersion")
        or annotations.get("appVersion")
        or about.get("spec", {}).get("version")
    )
    attributes: dict[str, object] = {
        "type": event_type(reason),
        "source": SOURCE,
        "subject": f"namespaces/{namespace}/{kind.lower()}s/{name}",
        "id": uid_of(event) or str(uuid.uuid4()),
        "datacontenttype": "application/json",
    }
    when = event.get("eventTime") or event.get("lastTimestamp") or event.get("firstTimestamp")
    if when:
        with contextlib.suppress(ValueError):
            attributes["time"] = datetime.fromisoformat(when.replace("Z", "+00:00"))
    traceparent = _traceparent(annotations, about)
    if traceparent:
        attributes["traceparent"] = traceparent
    data = {
        "message": as_text(event.get("message") or event.get("note")),
        "type": as_text(event.get("type")) or "Normal",
        "version": as_text(obj_version),
        "reason": reason,
        "resource": {
            "group": group,
            "version": version,
            "kind": kind,
            "name": name,
            "namespace": namespace,
        },
    }
    return CloudEvent(attributes, data)


def _traceparent(annotations: Mapping[str, str], obj: VersionBody) -> str:
    # The Event's own annotation first (KLT copies the object's), then the span of the phase
    # the event is about, then the object's root span.
    if annotations.get("traceparent"):
        return as_text(annotations["traceparent"])
    carriers = obj.get("status", {}).get("phaseTraceIDs") or {}
    for key in (annotations.get("phase"), "root"):
        value = (carriers.get(key) or {}).get("traceparent") if key else None
        if value:
            return value
    return annotations_of(obj).get("traceparent", "")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    initial_backoff: float = 0.2
    """Seconds before the first retry; doubled per failed attempt."""
    max_backoff: float = 10.0
    """Cap of the backoff, seconds."""
    max_attempts: int = 30
    """Attempts per event before it is dropped (reason retries_exhausted); ~4 min at the defaults."""
    request_timeout: float = 5.0
    """Seconds per HTTP request."""


class _Rejected(Exception):
    """The endpoint answered 4xx: retrying the same event cannot succeed."""


class CloudEventSender:
    """Bounded, ordered, retrying CloudEvents delivery that never blocks a reconcile."""

    def __init__(
        self,
        endpoint: str | None,
        telemetry: Telemetry,
        *,
        queue_size: int = 1000,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._endpoint = endpoint or None
        self._telemetry = telemetry
        self._retry = retry or RetryPolicy()
        self._queue: asyncio.Queue[CloudEvent] = asyncio.Queue(maxsize=queue_size)
        self._worker: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None

    def set_endpoint(self, endpoint: str | None) -> None:
        """Switch the target (KeptnConfig changed); queued events go to the new endpoint."""
        self._endpoint = endpoint or None

    @property
    def queued(self) -> int:
        return self._queue.qsize()

    def submit(
        self, event_body: Mapping[str, object], obj: Mapping[str, object] | None = None
    ) -> bool:
        """Queue the CloudEvent of a Kubernetes Event; False if disabled or dropped. Never blocks."""
        if self._endpoint is None:
            return False
        try:  # the Event as lifecycle.kube.events built it (core/v1 names, tests/core/test_kubebodies)
            cloud_event = to_cloudevent(cast(EventBody, event_body), obj)
        except Exception:  # a malformed Event must never break the caller's reconcile
            log.exception("cannot build a CloudEvent for %s", event_body.get("reason"))
            self._telemetry.cloudevents_dropped.labels("invalid").inc()
            return False
        try:
            self._queue.put_nowait(cloud_event)
        except asyncio.QueueFull:
            self._telemetry.cloudevents_dropped.labels("queue_full").inc()
            return False
        self._telemetry.cloudevents_queue.set(self._queue.qsize())
        return True

    async def start(self) -> None:
        """Start the delivery worker (idempotent)."""
        if self._worker is not None:
            return
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self._retry.request_timeout)
        )
        self._worker = asyncio.create_task(self._run(), name="cloudevents-sender")

    async def stop(self, drain_timeout: float = 5.0) -> None:
        """Deliver what is queued for up to ``drain_timeout`` s, then stop; the rest is dropped."""
        if self._worker is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), drain_timeout)
        self._worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._worker
        self._worker = None
        while not self._queue.empty():
            self._queue.get_nowait()
            self._queue.task_done()
            self._telemetry.cloudevents_dropped.labels("shutdown").inc()
        self._telemetry.cloudevents_queue.set(0)
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _run(self) -> None:
        while True:
            cloud_event = await self._queue.get()
            try:
                await self._deliver(cloud_event)
            finally:
                self._queue.task_done()
                self._telemetry.cloudevents_queue.set(self._queue.qsize())

    async def _deliver(self, cloud_event: CloudEvent) -> None:
        delay = self._retry.initial_backoff
        for attempt in range(1, self._retry.max_attempts + 1):
            endpoint = self._endpoint
            if endpoint is None:
                self._telemetry.cloudevents_dropped.labels("disabled").inc()
                return
            try:
                await self._post(endpoint, cloud_event)
            except _Rejected as exc:
                self._telemetry.cloudevents_failed.inc()
                self._telemetry.cloudevents_dropped.labels("rejected").inc()
                log.warning("CloudEvent %s rejected: %s", cloud_event.get_type(), exc)
                return
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                self._telemetry.cloudevents_failed.inc()
                log.debug("CloudEvent attempt %d failed: %s", attempt, exc)
                if attempt < self._retry.max_attempts:
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self._retry.max_backoff)
                continue
            self._telemetry.cloudevents_sent.inc()
            return
        self._telemetry.cloudevents_dropped.labels("retries_exhausted").inc()

    async def _post(self, endpoint: str, cloud_event: CloudEvent) -> None:
        assert self._session is not None, "start() first"
        message = ce_http.to_binary_event(cloud_event)
        async with self._session.post(
            endpoint, data=message.body, headers=dict(message.headers)
        ) as response:
            await response.read()
            if response.status in (408, 429) or response.status >= 500:
                raise aiohttp.ClientResponseError(response.request_info, (), status=response.status)
            if response.status >= 400:
                raise _Rejected(f"HTTP {response.status}")
