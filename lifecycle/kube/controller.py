"""Controller: N workers running a level-based ``reconcile(key)`` off a WorkQueue.

The controller-runtime contract: reconcile gets only a key, reads current state from informer
caches, and returns ``Result(requeue_at=...)`` for a real deadline or raises. Outcomes:

    returns Result()                 forget the key's backoff; nothing scheduled (a timer an
                                     earlier reconcile set is cancelled)
    returns Result(requeue_at=t)     forget the backoff; run again at t (replacing an earlier
                                     reconcile's timer)
    raises Transient                 backoff, logged at INFO (API server hiccup)
    raises another KubeError         backoff, logged at WARNING (Conflict is the common one)
    raises anything else             backoff, logged with traceback and the key
    raises TerminalError             no retry: the backoff is forgotten, the reason logged at
                                     ERROR (controller-runtime's ``reconcile.TerminalError``);
                                     the key runs again only when an event enqueues it

``observer(name, outcome, seconds)`` is called after every reconcile (for metrics); outcome is
``success``, ``requeue``, ``error`` or ``terminal``. Where the reconciler has an object it
records why before raising TerminalError (an Event, or a status reason).

Invariants: a reconcile error never stops a worker or the operator; one key is never
reconciled twice at once (the queue guarantees it). ``watch(informer, mapper)`` wires an
informer's events to keys (the object itself, its owner, the parent an index points to).
This module never talks to the API itself.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, NamedTuple, TypeVar

from lifecycle.core.meta import name_of, namespace_of
from lifecycle.kube.errors import Conflict, KubeError, Transient
from lifecycle.kube.informer import Informer
from lifecycle.kube.queue import QueueShutDown, WorkQueue
from lifecycle.observability.logs import reconciling

__all__ = [
    "Controller",
    "ObjectKey",
    "Result",
    "TerminalError",
    "key_of",
    "owner_keys",
    "self_key",
]

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)


class ObjectKey(NamedTuple):
    """The usual reconcile key: where an object lives."""

    namespace: str
    name: str


def key_of(obj: Mapping[str, Any]) -> ObjectKey:
    """The ObjectKey of a body."""
    return ObjectKey(namespace_of(obj), name_of(obj))


def self_key(event_type: str, obj: dict[str, Any], old: dict[str, Any] | None) -> list[ObjectKey]:
    """Mapper: an object's event wakes that object."""
    return [key_of(obj)]


def owner_keys(
    kind: str, *, controller_only: bool = False
) -> Callable[[str, dict[str, Any], dict[str, Any] | None], list[ObjectKey]]:
    """Mapper: a child's event wakes its owners of ``kind`` (same namespace)."""

    def mapper(event_type: str, obj: dict[str, Any], old: dict[str, Any] | None) -> list[ObjectKey]:
        meta = obj.get("metadata") or {}
        ns = meta.get("namespace") or ""
        return [
            ObjectKey(ns, ref["name"])
            for ref in meta.get("ownerReferences") or ()
            if ref.get("kind") == kind and (ref.get("controller") or not controller_only)
        ]

    return mapper


@dataclass(frozen=True, slots=True)
class Result:
    """What a reconcile asks for: nothing, or another look at ``requeue_at``."""

    requeue_at: datetime | None = None
    requeue_after: float | None = None


class TerminalError(Exception):
    """A reconcile error that retrying the same input cannot fix (a body the API rejects as
    invalid, a reference that can never resolve). The controller stops the key's backoff and logs
    the message; a later event for the key (the object changed) reconciles it again."""


Observer = Callable[[str, str, float], None]
"""observer(controller name, "success" | "requeue" | "error" | "terminal", seconds)."""

Mapper = Callable[[str, dict[str, Any], dict[str, Any] | None], Iterable[K]]


class Controller(Generic[K]):
    """Runs ``reconcile`` for queued keys on ``workers`` concurrent workers."""

    def __init__(
        self,
        name: str,
        reconcile: Callable[[K], Awaitable[Result | None]],
        workers: int = 4,
        *,
        queue: WorkQueue[K] | None = None,
        observer: Observer | None = None,
    ) -> None:
        self.name = name
        self.observer = observer
        """The metrics hook; the composition root may set it after a setup built the controller."""
        self._reconcile = reconcile
        self._workers = workers
        self.queue: WorkQueue[K] = queue if queue is not None else WorkQueue()
        self._tasks: list[asyncio.Task[None]] = []
        self.reconciles = 0
        self.errors = 0

    def enqueue(self, key: K, *, after: float | None = None, at: datetime | None = None) -> None:
        """Queue a key (deduplicated)."""
        self.queue.add(key, after=after, at=at)

    def watch(self, informer: Informer, mapper: Mapper[K]) -> None:
        """Enqueue ``mapper(event_type, obj, old)`` for every event of ``informer``."""

        def handler(event_type: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
            for key in mapper(event_type, obj, old):
                self.queue.add(key)

        informer.add_handler(handler)

    # -- running ------------------------------------------------------------------------

    def start(self) -> None:
        """Start the workers as tasks of the running loop."""
        if self._tasks:
            return
        self._tasks = [
            asyncio.create_task(self._worker(), name=f"{self.name}-worker-{i}")
            for i in range(self._workers)
        ]

    async def run(self) -> None:
        """Start the workers and wait until they stop (cancel to stop)."""
        self.start()
        try:
            await asyncio.gather(*self._tasks)
        finally:
            await self.stop()

    async def stop(self, grace: float = 10.0) -> None:
        """Shut the queue down, let running reconciles finish (up to ``grace`` s), then cancel."""
        self.queue.shutdown()
        tasks, self._tasks = self._tasks, []
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=grace)
        for t in pending:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _worker(self) -> None:
        while True:
            try:
                key = await self.queue.get()
            except QueueShutDown:
                return
            try:
                with reconciling(self.name, key):  # the log context of this reconcile
                    await self._process(key)
            finally:
                self.queue.done(key)

    async def _process(self, key: K) -> None:
        self.reconciles += 1
        started = time.perf_counter()
        outcome = "error"
        try:
            result = await self._reconcile(key)
        except asyncio.CancelledError:
            outcome = ""
            raise
        except TerminalError as exc:
            self.errors += 1
            self.queue.forget(key)
            outcome = "terminal"
            log.error("%s: %s: terminal error, not retried: %s", self.name, key, exc)
        except Transient as exc:
            delay = self._failed(key)
            log.info("%s: %s: transient error, retry in %.3fs: %s", self.name, key, delay, exc)
        except Conflict as exc:
            delay = self._failed(key)
            log.debug("%s: %s: conflict, retry in %.3fs: %s", self.name, key, delay, exc)
        except KubeError as exc:
            delay = self._failed(key)
            log.warning("%s: %s: API error, retry in %.3fs: %s", self.name, key, delay, exc)
        except Exception:
            delay = self._failed(key)
            log.exception("%s: %s: reconcile failed, retry in %.3fs", self.name, key, delay)
        else:
            self.queue.forget(key)
            # This result names every deadline still due: a timer an earlier reconcile set
            # (e.g. a rollout's timeout, now Succeeded) would only wake a finished object.
            self.queue.cancel(key)
            outcome = "success"
            if result is not None and (result.requeue_at or result.requeue_after is not None):
                self.queue.add(key, after=result.requeue_after, at=result.requeue_at)
                outcome = "requeue"
        finally:
            if self.observer is not None and outcome:
                self.observer(self.name, outcome, time.perf_counter() - started)

    def _failed(self, key: K) -> float:
        self.errors += 1
        return self.queue.backoff(key)
