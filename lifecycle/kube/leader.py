"""LeaderElector: one active replica, chosen through a coordination.k8s.io/v1 Lease.

client-go's ``leaderelection`` algorithm, on ``KubeClient``:
- every ``retry_period`` a candidate reads the Lease; it may take it when it does not exist,
  when ``holderIdentity`` is empty (released), or when the record has not changed for
  ``lease_duration`` by *our* monotonic clock (we never compare the holder's timestamps with
  our clock, so clock skew between nodes does not matter);
- taking and renewing are PUTs carrying the read ``resourceVersion``: of two candidates
  racing, one gets 409 Conflict and stays a follower;
- the leader renews every ``retry_period``; if it cannot renew for ``renew_deadline`` it
  stops leading (``on_stop``) before anyone else may take over (renew_deadline < lease_duration);
- fencing: a local timer (and a check after every await of the renew loop) compares the
  monotonic time since the start of the last successful renewal with ``renew_deadline`` and,
  once reached, clears ``leading`` and cancels ``on_start`` at once, even while a renewal is
  still in flight. A process that was paused (SIGSTOP, a long GC, a frozen VM) wakes up with
  that timer overdue: it stops leading before its renew loop makes another round trip, and
  ``is_leader`` compares the clock itself, so it is False from the first instant after resume;
- on shutdown the leader releases the Lease (empty holder, duration 1 s) so a second replica
  takes over within one ``retry_period`` instead of waiting out the lease.

``run(on_start, on_stop)``: ``on_start()`` runs as a task while leading and is cancelled when
leadership is lost; ``on_stop()`` is awaited after that. ``run`` returns when cancelled
(after releasing) and loops back to candidacy after a loss. No other API calls are made.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from lifecycle.core.model import LEASE
from lifecycle.kube.client import Body, KubeClient
from lifecycle.kube.errors import AlreadyExists, Conflict, KubeError, NotFound
from lifecycle.kube.events import micro_time

__all__ = ["LeaderElector"]

log = logging.getLogger(__name__)


class LeaderElector:
    """Campaigns for the Lease ``namespace/name`` as ``identity``."""

    def __init__(
        self,
        client: KubeClient,
        *,
        name: str,
        namespace: str,
        identity: str | None = None,
        lease_duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
    ) -> None:
        if not retry_period < renew_deadline < lease_duration:
            raise ValueError("need retry_period < renew_deadline < lease_duration")
        self._client = client
        self.name = name
        self.namespace = namespace
        self.identity = identity or f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}"
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.leading = asyncio.Event()
        self._observed: tuple[str, str, str] | None = None  # holder, renewTime, resourceVersion
        self._observed_at = 0.0
        self._lease: Body | None = None
        self._renewed_at = 0.0  # monotonic start of the last successful acquire/renew

    @property
    def is_leader(self) -> bool:
        """Leading, and the last renewal is younger than ``renew_deadline`` (by the clock now)."""
        return self.leading.is_set() and not self._expired()

    def _expired(self) -> bool:
        return time.monotonic() - self._renewed_at >= self.renew_deadline

    def _fence(self, work: asyncio.Task[None]) -> bool:
        """Stop acting once the renew deadline passed; True when fenced."""
        if not self._expired():
            return False
        if self.leading.is_set():
            log.warning(
                "%s: no renewal of lease %s for %.1fs: stepping down",
                self.identity,
                self.name,
                time.monotonic() - self._renewed_at,
            )
        self.leading.clear()
        work.cancel()  # no-op when it is done
        return True

    async def run(
        self,
        on_start: Callable[[], Coroutine[Any, Any, None]],
        on_stop: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Campaign, lead while possible, campaign again; release on cancellation."""
        try:
            while True:
                await self._acquire()
                work = asyncio.create_task(on_start(), name=f"leader-{self.name}")
                try:
                    await self._renew_until_lost(work)
                finally:
                    self.leading.clear()
                    work.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await work
                    if on_stop is not None:
                        await on_stop()
                log.warning("%s: lost leadership of lease %s", self.identity, self.name)
        finally:
            await asyncio.shield(self._release())

    async def _acquire(self) -> None:
        while True:
            started = time.monotonic()
            if await self._try_acquire_or_renew():
                self._renewed_at = started
                if self._expired():
                    continue  # it took so long that the lease may be someone else's already
                self.leading.set()
                log.info("%s: leading lease %s/%s", self.identity, self.namespace, self.name)
                return
            await asyncio.sleep(self.retry_period)

    async def _renew_until_lost(self, work: asyncio.Task[None]) -> None:
        loop = asyncio.get_running_loop()

        def arm() -> asyncio.TimerHandle:
            left = self._renewed_at + self.renew_deadline - time.monotonic()
            return loop.call_later(max(0.0, left), self._fence, work)

        timer = arm()
        try:
            while True:
                done, _ = await asyncio.wait({work}, timeout=self.retry_period)
                if self._fence(work):
                    return
                if done:
                    exc = None if work.cancelled() else work.exception()
                    if exc is not None:
                        log.error("%s: leader work failed: %r", self.identity, exc)
                        return
                    # The work ended by itself; keep the lease until cancelled.
                    await asyncio.sleep(self.retry_period)
                started = time.monotonic()
                if await self._try_acquire_or_renew():
                    self._renewed_at = started
                if self._fence(work):
                    return
                timer.cancel()
                timer = arm()
        finally:
            timer.cancel()

    async def _try_acquire_or_renew(self) -> bool:
        now = micro_time(datetime.now(UTC))
        try:
            lease = await self._client.get(LEASE, self.name, self.namespace)
        except NotFound:
            body: Body = {
                "metadata": {"name": self.name, "namespace": self.namespace},
                "spec": self._spec(now, acquire=now, transitions=0),
            }
            try:
                self._lease = await self._client.create(LEASE, body, self.namespace)
            except (AlreadyExists, Conflict):
                return False
            except KubeError as exc:
                log.info("%s: cannot create lease: %s", self.identity, exc)
                return False
            self._observe(self._lease)
            return True
        except KubeError as exc:
            log.info("%s: cannot read lease: %s", self.identity, exc)
            return False

        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity") or ""
        self._observe(lease)
        expired = time.monotonic() - self._observed_at >= float(
            spec.get("leaseDurationSeconds") or self.lease_duration
        )
        if holder and holder != self.identity and not expired:
            return False
        transitions = int(spec.get("leaseTransitions") or 0)
        if holder == self.identity:
            acquire = spec.get("acquireTime") or now
        else:
            acquire = now
            transitions += 1
        lease["spec"] = self._spec(now, acquire=acquire, transitions=transitions)
        try:
            self._lease = await self._client.replace(LEASE, lease)
        except KubeError as exc:
            log.debug("%s: lease update failed: %s", self.identity, exc)
            return False
        self._observe(self._lease)
        return True

    def _spec(self, now: str, *, acquire: str, transitions: int) -> Body:
        return {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": max(1, round(self.lease_duration)),
            "acquireTime": acquire,
            "renewTime": now,
            "leaseTransitions": transitions,
        }

    def _observe(self, lease: Body) -> None:
        spec = lease.get("spec") or {}
        record = (
            str(spec.get("holderIdentity") or ""),
            str(spec.get("renewTime") or ""),
            str((lease.get("metadata") or {}).get("resourceVersion", "")),
        )
        if record != self._observed:
            self._observed = record
            self._observed_at = time.monotonic()

    async def _release(self) -> None:
        """Give the lease up (only if we still hold it) so a peer takes over at once."""
        if self._lease is None:
            return
        self._lease = None
        try:
            current = await self._client.get(LEASE, self.name, self.namespace)
            spec = current.get("spec") or {}
            if spec.get("holderIdentity") != self.identity:
                return
            current["spec"] = {
                **spec,
                "holderIdentity": "",
                "leaseDurationSeconds": 1,
                "renewTime": micro_time(datetime.now(UTC)),
            }
            await self._client.replace(LEASE, current)
            log.info("%s: released lease %s", self.identity, self.name)
        except KubeError as exc:
            log.info("%s: could not release lease: %s", self.identity, exc)
