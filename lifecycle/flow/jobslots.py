"""A cap on the Jobs the task controller runs at once (``--max-jobs``, default 50).

``JobSlots.acquire(task)`` is asked before a task's Job is created: the running Jobs are those
owned by a KeptnTask in the Job cache without a final condition, plus the Jobs this process
created that the cache does not show yet; at the cap the task waits (``status.reason``
``WaitingForJobSlot``) instead of creating one more. ``release`` frees the slot when the task's
Job finished. A restarted operator counts the running Jobs from the cache.

Waiting is event-driven, never a timer: a waiting task is queued in line (oldest creation first,
so none starves: a newer task never takes a slot an older waiting one is in line for), and when
a slot frees (a task's Job seen finished or deleted by the Job informer: ``freed``; ``release``;
a waiting task gone or done: ``forget``) the first tasks in line, as many as slots are free, are
woken through the task controller's queue (``wake``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from itertools import islice
from typing import Final

from lifecycle.core.bodies import JobBody, KeptnTaskBody
from lifecycle.core.meta import created_key, name_of, namespace_of, owner_references_of, uid_of
from lifecycle.kube import ObjectKey
from lifecycle.kube.cache import Cache

__all__ = ["JobSlots"]

_CACHE_LAG: Final = 30.0
"""Seconds a Job this process created may be missing from the cache before it stops counting."""


def _task_owned(job: JobBody) -> str:
    for ref in owner_references_of(job):
        if ref.get("kind") == "KeptnTask" and ref.get("controller"):
            return str(ref.get("uid") or "")
    return ""


class JobSlots:
    """Counts running task Jobs against ``limit``; keeps the tasks waiting for one in line."""

    def __init__(
        self,
        limit: int,
        jobs: Cache[JobBody],
        running: Callable[[JobBody], bool],
        *,
        wake: Callable[[ObjectKey], None] = lambda _: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = max(1, limit)
        self._jobs = jobs
        self._running = running
        self._wake = wake
        self._clock = clock
        self._started: dict[str, float] = {}  # task uid -> when this process created its Job
        self._line: dict[
            ObjectKey, tuple[tuple[str, str], ObjectKey]
        ] = {}  # waiting task -> its place

    def _busy(self) -> set[str]:
        cached: set[str] = set()
        seen: set[str] = set()
        for job in self._jobs.list():
            if uid := _task_owned(job):
                seen.add(uid)
                if self._running(job):
                    cached.add(uid)
        horizon = self._clock() - _CACHE_LAG
        self._started = {  # the cache shows it (running or not), or it was gone too long
            uid: at for uid, at in self._started.items() if uid not in seen and at > horizon
        }
        return cached | set(self._started)

    def _first(self, count: int) -> list[ObjectKey]:
        return [key for _, key in islice(sorted(self._line.values()), max(0, count))]

    def acquire(self, task: KeptnTaskBody) -> bool:
        """Take a slot for ``task``'s Job; False (the task waits in line) when none is free."""
        uid, key = uid_of(task), ObjectKey(namespace_of(task), name_of(task))
        busy = self._busy()
        if uid not in busy:
            self._line.setdefault(key, (created_key(task), key))
            if key not in self._first(self.limit - len(busy)):
                return False
        self._line.pop(key, None)
        self._started[uid] = self._clock()
        return True

    def release(self, task: KeptnTaskBody) -> None:
        """The task's Job finished (or was never created): wake who is first in line."""
        self._started.pop(uid_of(task), None)
        self._wake_first()

    def forget(self, key: ObjectKey) -> None:
        """The task is gone or done: out of the line (and the next in line may go)."""
        if self._line.pop(key, None) is not None:
            self._wake_first()

    def freed(self, event_type: str, job: JobBody, old: object) -> list[ObjectKey]:
        """Mapper for the Job informer: a task's Job finished or deleted wakes the first in line."""
        if not self._line or not _task_owned(job):
            return []
        if event_type != "DELETED" and self._running(job):
            return []
        return self._first(self.limit - len(self._busy()))

    def _wake_first(self) -> None:
        if self._line:
            for key in self._first(self.limit - len(self._busy())):
                self._wake(key)
