"""Informer (list+watch, cache, indexes, handlers) against the sandbox API server."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from lifecycle.core.model import CONFIG_MAP, NAMESPACE, SECRET
from lifecycle.kube.client import Body, KubeClient
from lifecycle.kube.errors import AlreadyExists, NotFound
from lifecycle.kube.informer import Informer, Informers
from sandbox import Sandbox
from sandbox.faults import FaultSettings
from tests.support.waiting import eventually


def cm(name: str, ns: str, app: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns, "labels": {"app": app}}, "data": {}}


def by_app(obj: Body) -> list[str]:
    return [obj["metadata"].get("labels", {}).get("app", "")]


async def test_list_then_watch_with_handlers_and_indexes(client: KubeClient) -> None:
    await client.create(CONFIG_MAP, cm("pre", "inf", "shop"))
    inf = Informer(client, CONFIG_MAP, namespace="inf", indexes={"app": by_app})
    events: list[tuple[str, str, str | None]] = []

    def handler(etype: str, obj: Body, old: Body | None) -> None:
        # The cache is updated before handlers run.
        cached = inf.store.get("inf", obj["metadata"]["name"])
        assert (cached is None) == (etype == "DELETED")
        events.append((etype, obj["metadata"]["name"], old["metadata"]["name"] if old else None))

    inf.add_handler(handler)
    inf.start()
    try:
        await inf.synced.wait()
        assert events == [("ADDED", "pre", None)]
        await client.create(CONFIG_MAP, cm("w1", "inf", "shop"))
        await client.patch(CONFIG_MAP, "w1", {"metadata": {"labels": {"app": "blog"}}}, "inf")
        await eventually(lambda: len(inf.store.by_index("app", "blog")) == 1)
        assert [o["metadata"]["name"] for o in inf.store.by_index("app", "shop")] == ["pre"]
        await client.delete(CONFIG_MAP, "pre", "inf")
        await eventually(lambda: len(events) == 4)
        assert events[1:] == [
            ("ADDED", "w1", None),
            ("MODIFIED", "w1", "w1"),
            ("DELETED", "pre", "pre"),
        ]
        assert inf.store.by_index("app", "shop") == []
        assert inf.lists == 1
    finally:
        await inf.stop()


async def test_relist_diffs_the_cache_so_missed_deletes_are_delivered(client: KubeClient) -> None:
    for name in ("keep", "gone", "changed"):
        await client.create(CONFIG_MAP, cm(name, "gap", "a"))
    inf = Informer(client, CONFIG_MAP, namespace="gap")
    events: list[tuple[str, str]] = []
    inf.add_handler(lambda e, o, old: events.append((e, o["metadata"]["name"])))
    inf.start()
    await inf.synced.wait()
    await inf.stop()  # the gap: nothing is watched now
    await client.delete(CONFIG_MAP, "gone", "gap")
    await client.patch(CONFIG_MAP, "changed", {"data": {"k": "v"}}, "gap")
    await client.create(CONFIG_MAP, cm("new", "gap", "a"))
    events.clear()
    inf.start()  # restarts with a list, diffed against the kept cache
    try:
        await eventually(lambda: len(events) == 3)
        assert sorted(events) == [("ADDED", "new"), ("DELETED", "gone"), ("MODIFIED", "changed")]
        assert sorted(o["metadata"]["name"] for o in inf.store.list()) == ["changed", "keep", "new"]
        assert inf.lists == 2
    finally:
        await inf.stop()


async def test_many_informers_share_one_client(client: KubeClient) -> None:
    infs = [Informer(client, CONFIG_MAP, namespace=f"share-{i}") for i in range(5)]
    for inf in infs:
        inf.start()
    try:
        for inf in infs:
            await inf.synced.wait()
        for i in range(5):
            await client.create(CONFIG_MAP, cm("x", f"share-{i}", "a"))
        await eventually(lambda: all(len(inf.store) == 1 for inf in infs))
    finally:
        for inf in infs:
            await inf.stop()


async def test_dropped_watches_resume_without_relisting(
    client: KubeClient, sandbox: Sandbox
) -> None:
    inf = Informer(client, CONFIG_MAP, namespace="faults")
    inf.start()
    try:
        await inf.synced.wait()
        sandbox.faults.replace(FaultSettings(watch_drop_seconds=0.1))
        sandbox.store.close_watchers()
        for i in range(10):
            await client.create(CONFIG_MAP, cm(f"d{i}", "faults", "a"))
            await asyncio.sleep(0.05)
        await eventually(lambda: len(inf.store) == 10)
        assert inf.watches >= 3, "streams were dropped and re-opened"
        assert inf.lists == 1, "a dropped stream resumes from its resourceVersion"
    finally:
        sandbox.faults.replace(FaultSettings())
        await inf.stop()


async def test_gone_relists_and_repeated_gone_backs_off(
    client: KubeClient, sandbox: Sandbox
) -> None:
    inf = Informer(client, CONFIG_MAP, namespace="faults", backoff_base=0.05)
    inf.start()
    try:
        await inf.synced.wait()
        await client.create(CONFIG_MAP, cm("before", "faults", "a"))
        await eventually(lambda: len(inf.store) == 1)
        sandbox.faults.replace(FaultSettings(watch_gone=True))
        sandbox.store.close_watchers()  # end the open stream; the next watch gets 410
        await client.create(CONFIG_MAP, cm("during", "faults", "a"))
        await client.delete(CONFIG_MAP, "before", "faults")
        await eventually(lambda: inf.lists >= 2)
        # Every watch now answers 410: the informer re-lists (so it still sees changes) ...
        await eventually(
            lambda: sorted(o["metadata"]["name"] for o in inf.store.list()) == ["during"]
        )
        lists_before = inf.lists
        await asyncio.sleep(1.0)
        # ... but backs off instead of spinning (0.05 s doubling: a handful per second at most).
        assert inf.lists - lists_before <= 6, inf.lists - lists_before
        sandbox.faults.replace(FaultSettings())
        await client.create(CONFIG_MAP, cm("after", "faults", "a"))
        await eventually(lambda: inf.store.get("faults", "after") is not None)
    finally:
        sandbox.faults.replace(FaultSettings())
        await inf.stop()


async def test_list_errors_are_retried_until_synced(client: KubeClient, sandbox: Sandbox) -> None:
    sandbox.faults.replace(FaultSettings(error_rate={"list": 1.0}, error_kind="503"))
    inf = Informer(client, CONFIG_MAP, namespace="faults", backoff_base=0.02)
    inf.start()
    try:
        await asyncio.sleep(0.2)
        assert not inf.synced.is_set()
        assert client.request_counts["list"] >= 2
        sandbox.faults.replace(FaultSettings())
        await asyncio.wait_for(inf.synced.wait(), 3)
    finally:
        sandbox.faults.replace(FaultSettings())
        await inf.stop()


async def test_informers_share_one_instance_per_kind(client: KubeClient) -> None:
    informers = Informers(client, namespace="inf")
    a = informers.get(CONFIG_MAP)
    assert informers.get(CONFIG_MAP) is a
    assert informers.get(NAMESPACE).namespace is None, "cluster-scoped kinds ignore the scope"
    informers.start()
    late = informers.get(SECRET)  # started at once
    try:
        await asyncio.wait_for(informers.wait_synced(), 3)
        assert informers.synced() and late.synced.is_set()
        assert {i.kind.plural for i in informers} == {"configmaps", "namespaces", "secrets"}
        assert a.namespace == "inf"
    finally:
        await informers.stop()


async def test_cache_converges_to_the_server_under_dropped_and_expired_watches(
    client: KubeClient, sandbox: Sandbox
) -> None:
    rng = random.Random(7)
    inf = Informer(client, CONFIG_MAP, namespace="faults", backoff_base=0.01, backoff_max=0.1)
    deliveries: dict[str, str] = {}  # name -> last event type seen by the handler
    inf.add_handler(lambda e, o, old: deliveries.__setitem__(o["metadata"]["name"], e))
    inf.start()
    try:
        await inf.synced.wait()
        names = [f"o{i}" for i in range(15)]
        for step in range(150):
            if step % 30 == 0:
                gone = step % 60 == 0
                sandbox.faults.replace(FaultSettings(watch_drop_seconds=0.03, watch_gone=gone))
                sandbox.store.close_watchers()
            name = rng.choice(names)
            try:
                match rng.randrange(3):
                    case 0:
                        await client.create(CONFIG_MAP, cm(name, "faults", "a"))
                    case 1:
                        await client.patch(CONFIG_MAP, name, {"data": {"s": str(step)}}, "faults")
                    case _:
                        await client.delete(CONFIG_MAP, name, "faults")
            except (AlreadyExists, NotFound):
                pass
            if step % 10 == 0:
                await asyncio.sleep(0.02)
        sandbox.faults.replace(FaultSettings())
        items, _ = await client.list(CONFIG_MAP, "faults")
        want = {i["metadata"]["name"]: i["metadata"]["resourceVersion"] for i in items}

        def cache() -> dict[str, str]:
            return {
                o["metadata"]["name"]: o["metadata"]["resourceVersion"] for o in inf.store.list()
            }

        await eventually(lambda: cache() == want, 5)
        # Handlers saw the final state too: the last event per live object is not DELETED,
        # and every object gone from the server had its DELETED delivered.
        assert all(deliveries[n] != "DELETED" for n in want)
        assert all(e == "DELETED" for n, e in deliveries.items() if n not in want)
        assert inf.lists >= 2 and inf.watches >= 5
    finally:
        sandbox.faults.replace(FaultSettings())
        await inf.stop()
