"""LeaderElector: two replicas on one Lease against the sandbox API server."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any

from lifecycle.core.model import LEASE
from lifecycle.kube.client import KubeClient
from lifecycle.kube.leader import LeaderElector


def elector(client: KubeClient, identity: str) -> LeaderElector:
    return LeaderElector(
        client,
        name="klt-operator",
        namespace="lease",
        identity=identity,
        lease_duration=3.0,
        renew_deadline=2.0,
        retry_period=0.2,
    )


async def test_only_one_leads_and_the_other_takes_over_after_release(client: KubeClient) -> None:
    leading: list[str] = []
    stopped: list[str] = []

    def work(identity: str) -> Callable[[], Coroutine[Any, Any, None]]:
        async def on_start() -> None:
            leading.append(identity)
            await asyncio.Event().wait()

        return on_start

    def stop(identity: str) -> Callable[[], Coroutine[Any, Any, None]]:
        async def on_stop() -> None:
            stopped.append(identity)

        return on_stop

    a, b = elector(client, "a"), elector(client, "b")
    ta = asyncio.create_task(a.run(work("a"), stop("a")))
    await a.leading.wait()
    tb = asyncio.create_task(b.run(work("b"), stop("b")))
    try:
        await asyncio.sleep(1.0)  # several retry periods: b must stay a follower
        assert leading == ["a"] and not b.is_leader
        lease = await client.get(LEASE, "klt-operator", "lease")
        assert lease["spec"]["holderIdentity"] == "a"
        assert lease["spec"]["leaseDurationSeconds"] == 3

        loop = asyncio.get_running_loop()
        start = loop.time()
        ta.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ta
        assert stopped == ["a"]
        await asyncio.wait_for(b.leading.wait(), 2.0)
        assert loop.time() - start < 1.0, "a released the lease, so b need not wait it out"
        assert leading == ["a", "b"]
        lease = await client.get(LEASE, "klt-operator", "lease")
        assert lease["spec"]["holderIdentity"] == "b"
        assert lease["spec"]["leaseTransitions"] == 1
    finally:
        tb.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await tb


async def test_a_vanished_leader_is_replaced_after_the_lease_expires(client: KubeClient) -> None:
    # A holder that crashed (SIGKILL): its lease is there, nobody renews it.
    await client.create(
        LEASE,
        {
            "metadata": {"name": "expiring", "namespace": "lease"},
            "spec": {
                "holderIdentity": "crashed",
                "leaseDurationSeconds": 2,
                "acquireTime": "2026-01-01T00:00:00.000000Z",
                "renewTime": "2026-01-01T00:00:00.000000Z",
                "leaseTransitions": 4,
            },
        },
    )
    b = elector(client, "b2")
    b.name = "expiring"

    async def idle() -> None:
        await asyncio.Event().wait()

    loop = asyncio.get_running_loop()
    start = loop.time()
    tb = asyncio.create_task(b.run(idle))
    try:
        await asyncio.wait_for(b.leading.wait(), 5.0)
        # Expiry is judged on our own clock from when we first saw the record, never on the
        # holder's renewTime (clock skew), so b waits the full 2 s.
        assert loop.time() - start >= 1.9
        lease = await client.get(LEASE, "expiring", "lease")
        assert lease["spec"]["holderIdentity"] == "b2"
        assert lease["spec"]["leaseTransitions"] == 5
    finally:
        tb.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await tb
