"""A cap on the Jobs the task controller runs at once (``--max-jobs``, default 50).

``JobSlots.acquire(task)`` is asked before a task's Job is created: the running Jobs are those
owned by a KeptnTask in the Job cache without a final condition, plus the Jobs this process
created that the cache does not show yet; at the cap the task waits (``status.reason``
``WaitingForJobSlot``, retried every few seconds) instead of creating one more. ``release`` frees
the slot when the task's Job finished. A restarted operator counts the running Jobs from the cache.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Final, Protocol

from lifecycle.core.meta import owner_references_of, uid_of

__all__ = ["JobSlots"]

_CACHE_LAG: Final = 30.0
"""Seconds a Job this process created may be missing from the cache before it stops counting."""


class _Store(Protocol):
    def list(self, namespace: str | None = None) -> list[dict[str, Any]]: ...


def _task_owned(job: Mapping[str, Any]) -> str:
    for ref in owner_references_of(job):
        if ref.get("kind") == "KeptnTask" and ref.get("controller"):
            return str(ref.get("uid") or "")
    return ""


class JobSlots:
    """Counts running task Jobs against ``limit``."""

    def __init__(
        self,
        limit: int,
        jobs: _Store,
        running: Callable[[Mapping[str, Any]], bool],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = max(1, limit)
        self._jobs = jobs
        self._running = running
        self._clock = clock
        self._started: dict[str, float] = {}  # task uid -> when this process created its Job

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

    def acquire(self, task: Mapping[str, Any]) -> bool:
        """Take a slot for ``task``'s Job; False when ``limit`` Jobs already run."""
        uid = uid_of(task)
        busy = self._busy()
        if uid not in busy and len(busy) >= self.limit:
            return False
        self._started[uid] = self._clock()
        return True

    def release(self, task: Mapping[str, Any]) -> None:
        """The task's Job finished."""
        self._started.pop(uid_of(task), None)
