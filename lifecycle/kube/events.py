"""EventRecorder: core/v1 Events in KLT's format, emitted in the background, never raising.

``emit()`` returns at once with the task that writes the Event (None when dropped), so a caller
that must know its own Events are written (the flow, before a status write) awaits just those
with ``wait(tasks)`` instead of every emission in flight (``flush()``, for shutdown), which
under a burst would make each reconcile wait for all the others' Events. Two ways to name one:
- with ``key`` (a transition, e.g. ``"AppPreDeployTasksStarted"`` plus the phase's trace id):
  the name is ``<obj name>.<16 hex of sha256(uid + key)>``, so re-emitting the same transition
  after an operator restart gets 409 AlreadyExists and is a no-op (no duplicate Event and no
  duplicate CloudEvent);
- without ``key``: repeats of the same (object uid, type, reason, message) fold into the first
  Event's ``count``/``lastTimestamp`` (one PATCH), like client-go's correlator.

Invariants: writes for one involved object happen in emission order (a per-object lock), so
``kubectl get events`` lists them in the order the flow emitted them; at most ``concurrency``
writes are in flight; beyond ``max_pending`` queued emissions new ones are dropped with a
warning rather than letting memory grow; a Transient error (5xx, 429, timeout, reset) is
retried in the background with capped exponential backoff for up to ``RETRY_FOR`` (30 s), the
object's later Events waiting behind it; other API errors are logged and the Event dropped,
never raised into a reconcile. Subscribers (``subscribe(fn)``; the CloudEvents sender) are called with the Event
body and the involved object after the Event was created or its count bumped, never for an
AlreadyExists no-op; they must not block. ``keptn_annotations``/``format_message`` build
KLT's annotations and message text; callers choose reasons, this module does not.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import socket
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime

from evaluator.redact import scrub
from lifecycle.core.model import EVENT
from lifecycle.kube.client import Body, KubeClient
from lifecycle.kube.errors import AlreadyExists, KubeError, NotFound, Transient

__all__ = [
    "EventRecorder",
    "Subscriber",
    "event_name",
    "format_message",
    "keptn_annotations",
    "micro_time",
]

log = logging.getLogger(__name__)

Subscriber = Callable[[Body, Body], None]
_FoldKey = tuple[str, str, str, str]  # (uid, type, reason, message)


def micro_time(t: datetime) -> str:
    """``metav1.MicroTime``: microseconds, ``Z``."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_MAX_NAME = 253


def event_name(obj_name: str, uid: str, key: str) -> str:
    """The deterministic Event name for a keyed emission."""
    digest = hashlib.sha256((uid + key).encode()).hexdigest()[:16]
    # `<obj>.<hex>` stays a valid name of at most 253 characters: the object's part is trimmed.
    return f"{obj_name[: _MAX_NAME - len(digest) - 1].rstrip('-.')}.{digest}"


# KLT's GetEventAnnotations per kind: annotation key -> path in the object.
_ANNOTATION_PATHS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "KeptnAppVersion": (
        ("appName", ("spec", "appName")),
        ("appVersion", ("spec", "version")),
        ("appVersionName", ("metadata", "name")),
    ),
    "KeptnWorkloadVersion": (
        ("appName", ("spec", "app")),
        ("workloadName", ("spec", "workloadName")),
        ("workloadVersion", ("spec", "version")),
        ("workloadVersionName", ("metadata", "name")),
    ),
    "KeptnTask": (
        ("appName", ("spec", "context", "appName")),
        ("appVersion", ("spec", "context", "appVersion")),
        ("workloadName", ("spec", "context", "workloadName")),
        ("workloadVersion", ("spec", "context", "workloadVersion")),
        ("taskName", ("metadata", "name")),
        ("taskDefinitionName", ("spec", "taskDefinition")),
    ),
    "KeptnEvaluation": (
        ("appName", ("spec", "appName")),
        ("appVersion", ("spec", "appVersion")),
        ("workloadName", ("spec", "workload")),
        ("workloadVersion", ("spec", "workloadVersion")),
        ("evaluationName", ("metadata", "name")),
        ("evaluationDefinitionName", ("spec", "evaluationDefinition")),
    ),
    "KeptnApp": (
        ("appName", ("metadata", "name")),
        ("appVersion", ("spec", "version")),
        ("appRevision", ("spec", "revision")),
    ),
    "KeptnWorkload": (
        ("appName", ("spec", "app")),
        ("workloadName", ("metadata", "name")),
        ("workloadVersion", ("spec", "version")),
    ),
}


def _dig(obj: Body, path: tuple[str, ...]) -> str:
    cur: object = obj
    for part in path:
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    return "" if cur is None else str(cur)


def keptn_annotations(obj: Body, phase: str) -> dict[str, str]:
    """The Event annotations KLT sets (reference keptn.md §3) for ``obj`` in ``phase``."""
    meta = obj.get("metadata") or {}
    result = {
        "namespace": str(meta.get("namespace", "")),
        "name": str(meta.get("name", "")),
        "phase": phase,
        "traceparent": str((meta.get("annotations") or {}).get("traceparent", "")),
    }
    for key, path in _ANNOTATION_PATHS.get(str(obj.get("kind", "")), ()):
        result[key] = _dig(obj, path)
    return result


def format_message(long_name: str, text: str, *, namespace: str, name: str, version: str) -> str:
    """KLT's message: ``<LongName>: <text> / Namespace: <ns>, Name: <obj>[, Version: <v>]``."""
    msg = f"{long_name}: {text} / Namespace: {namespace}, Name: {name}"
    return f"{msg}, Version: {version}" if version else msg


class EventRecorder:
    """Writes Events for one component (``source.component``/``reportingComponent``)."""

    RETRY_FOR = 30.0
    """Seconds a Transient error of one Event write is retried before the Event is dropped."""
    RETRY_BASE = 0.1
    """First backoff, seconds (doubling, jittered to 50-100%)."""
    RETRY_MAX = 5.0
    """Cap of the backoff, seconds."""

    def __init__(
        self,
        client: KubeClient,
        component: str,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        instance: str | None = None,
        concurrency: int = 16,
        max_pending: int = 10_000,
        fold_cache: int = 4096,
    ) -> None:
        self._client = client
        self.component = component
        self._clock = clock
        self.instance = instance or socket.gethostname()
        self._sem = asyncio.Semaphore(concurrency)
        self._max_pending = max_pending
        self._fold_cache_size = fold_cache
        self._folds: OrderedDict[_FoldKey, tuple[str, str, int]] = OrderedDict()
        self._keyed: dict[int, asyncio.Task[None] | None] = {}
        """Keyed Events written (None) or being written (the task), the newest kept; by the
        64-bit hash of their name (the name is a 64-bit digest already; thousands of names
        would cost ~100 bytes each)."""
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._subscribers: list[Subscriber] = []
        self._seq = 0
        self.emitted = 0
        self.folded = 0
        self.duplicates = 0
        self.repeated = 0
        """Keyed emissions answered from memory: no request (a replay of a known transition)."""
        self.dropped = 0
        self.failed = 0
        self.retried = 0

    def subscribe(self, fn: Subscriber) -> None:
        """Call ``fn(event_body, involved_obj)`` after each Event written."""
        self._subscribers.append(fn)

    @property
    def pending(self) -> int:
        return len(self._tasks)

    def emit(
        self,
        obj: Body,
        type: str,
        reason: str,
        message: str,
        *,
        annotations: Mapping[str, str] | None = None,
        key: str | None = None,
    ) -> asyncio.Task[None] | None:
        """Record an Event about ``obj`` in the background (``type`` is Normal or Warning).

        Returns the writing task (it never raises), or None when the backlog was full or the
        keyed Event is known to be written. A keyed Event this recorder wrote or is writing
        costs no request again: the same task (or None) is returned.
        """
        meta = obj.get("metadata") or {}
        uid = str(meta.get("uid", ""))
        if key is not None:
            name = event_name(meta.get("name", "unknown"), uid, key)
            if hash(name) in self._keyed:
                self.repeated += 1
                return self._keyed[hash(name)]
        if len(self._tasks) >= self._max_pending:
            self.dropped += 1
            log.warning("event recorder backlog full, dropping %s %s", reason, message)
            return None
        now = self._clock()
        message = scrub(message)  # Events are readable by people who cannot read Secrets
        annotations = {k: scrub(v) for k, v in (annotations or {}).items()}
        self._seq += 1
        if key is None:
            # client-go style: unique per emission; the fold cache reuses the first one's name.
            name = f"{meta.get('name', 'unknown')}.{int(now.timestamp() * 1e9) + self._seq:x}"
        body: Body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": name,
                "namespace": meta.get("namespace") or "default",
                "annotations": annotations,
            },
            "involvedObject": {
                "apiVersion": obj.get("apiVersion", ""),
                "kind": obj.get("kind", ""),
                "name": meta.get("name", ""),
                "namespace": meta.get("namespace", ""),
                "uid": uid,
                "resourceVersion": str(meta.get("resourceVersion", "")),
            },
            "reason": reason,
            "message": message,
            "type": type,
            "source": {"component": self.component},
            "reportingComponent": self.component,
            "reportingInstance": self.instance,
            "firstTimestamp": (stamp := (micro := micro_time(now))[:19] + "Z"),  # metav1.Time
            "lastTimestamp": stamp,
            "eventTime": micro,
            "count": 1,
        }
        fold = None if key is not None else (uid, type, reason, message)
        task = asyncio.create_task(self._write(body, obj, uid or name, fold))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if key is not None:
            self._keyed[hash(name)] = task
            while len(self._keyed) > self._fold_cache_size:
                del self._keyed[next(iter(self._keyed))]
        return task

    @staticmethod
    async def wait(tasks: Iterable[asyncio.Task[None] | None]) -> None:
        """Wait until the given emissions are written (or failed); None entries are skipped."""
        pending = [t for t in tasks if t is not None]
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    async def flush(self) -> None:
        """Wait until every emission so far has been written (or failed)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """Flush; the recorder can still be used afterwards."""
        await self.flush()

    # -- writing --------------------------------------------------------------------------

    async def _write(self, body: Body, obj: Body, lock_key: str, fold: _FoldKey | None) -> None:
        lock = self._lock(lock_key)
        name = body["metadata"]["name"]
        try:
            async with lock:
                written = await self._write_retrying(body, fold)
            if hash(name) in self._keyed:
                self._keyed[hash(name)] = None  # written (or found): a repeat costs nothing
        except KubeError as exc:
            self._keyed.pop(hash(name), None)  # not written: a repeat tries again
            self.failed += 1
            log.warning("could not write event %s %s: %s", body["reason"], body["message"], exc)
            return
        except Exception:
            self._keyed.pop(hash(name), None)
            self.failed += 1
            log.exception("could not write event %s", body["reason"])
            return
        finally:
            self._unlock(lock_key)
        if written is None:
            return
        for fn in self._subscribers:
            try:
                fn(written, obj)
            except Exception:
                log.exception("event subscriber failed on %s", body["reason"])

    async def _write_retrying(self, body: Body, fold: _FoldKey | None) -> Body | None:
        # Transient errors (5xx, 429, timeouts, resets) are retried with capped, jittered
        # exponential backoff for up to RETRY_FOR seconds. The per-object lock stays held so
        # later Events of the object keep their order; the concurrency slot is released while
        # sleeping so one struggling write does not starve the others.
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self.RETRY_FOR
        delay = self.RETRY_BASE
        while True:
            try:
                async with self._sem:
                    return await self._write_locked(body, fold)
            except Transient:
                wait = delay * (0.5 + random.random() / 2)
                if loop.time() + wait >= give_up:
                    raise
                self.retried += 1
                await asyncio.sleep(wait)
                delay = min(delay * 2, self.RETRY_MAX)

    async def _write_locked(self, body: Body, fold: _FoldKey | None) -> Body | None:
        ns = body["metadata"]["namespace"]
        if fold is not None and fold in self._folds:
            name, fold_ns, count = self._folds[fold]
            self._folds.move_to_end(fold)
            patch = {"count": count + 1, "lastTimestamp": body["lastTimestamp"]}
            try:
                result = await self._client.patch(EVENT, name, patch, fold_ns)
            except NotFound:
                del self._folds[fold]  # expired (TTL); start a new Event
            else:
                self._folds[fold] = (name, fold_ns, count + 1)
                self.folded += 1
                return result
        try:
            result = await self._client.create(EVENT, body, ns)
        except AlreadyExists:
            self.duplicates += 1
            return None
        self.emitted += 1
        if fold is not None:
            self._folds[fold] = (body["metadata"]["name"], ns, 1)
            if len(self._folds) > self._fold_cache_size:
                self._folds.popitem(last=False)
        return result

    def _lock(self, key: str) -> asyncio.Lock:
        lock, users = self._locks.get(key, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[key] = (lock, users + 1)
        return lock

    def _unlock(self, key: str) -> None:
        lock, users = self._locks[key]
        if users <= 1:
            del self._locks[key]
        else:
            self._locks[key] = (lock, users - 1)
