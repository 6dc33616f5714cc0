"""Controller wired to informers against the sandbox: a child's change wakes its owner."""

from __future__ import annotations

from lifecycle.core.model import CONFIG_MAP, SECRET
from lifecycle.kube.client import Body, KubeClient
from lifecycle.kube.controller import Controller, ObjectKey, Result, owner_keys, self_key
from lifecycle.kube.errors import NotFound
from lifecycle.kube.informer import Informer, owner_uids
from lifecycle.kube.queue import WorkQueue
from sandbox import Sandbox
from sandbox.faults import FaultSettings
from tests.support.waiting import eventually


async def test_child_change_wakes_owner_and_reconcile_reads_the_cache(
    client: KubeClient, sandbox: Sandbox
) -> None:
    parents = Informer(client, CONFIG_MAP, namespace="inf")
    children = Informer(client, SECRET, namespace="inf", indexes={"owner": owner_uids})
    summaries: dict[ObjectKey, int] = {}

    async def reconcile(key: ObjectKey) -> Result:
        parent = parents.store.get(key.namespace, key.name)
        if parent is None:
            return Result()
        kids = children.store.by_index("owner", parent["metadata"]["uid"])
        summaries[key] = len(kids)
        count = str(len(kids))
        if (parent.get("data") or {}).get("children") != count:
            await client.patch(CONFIG_MAP, key.name, {"data": {"children": count}}, key.namespace)
        return Result()

    ctl: Controller[ObjectKey] = Controller("parent", reconcile, workers=2)
    ctl.watch(parents, self_key)
    ctl.watch(children, owner_keys("ConfigMap"))
    for inf in (parents, children):
        inf.start()
    ctl.start()
    try:
        await parents.synced.wait()
        await children.synced.wait()
        parent = await client.create(CONFIG_MAP, {"metadata": {"name": "p", "namespace": "inf"}})
        ref = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "name": "p",
            "uid": parent["metadata"]["uid"],
            "controller": True,
        }
        for i in range(3):
            child: Body = {
                "metadata": {"name": f"s{i}", "namespace": "inf", "ownerReferences": [ref]}
            }
            await client.create(SECRET, child)

        def settled() -> bool:
            p = parents.store.get("inf", "p")
            return p is not None and (p.get("data") or {}).get("children") == "3"

        await eventually(settled)
        await client.delete(SECRET, "s0", "inf")
        await eventually(lambda: summaries.get(ObjectKey("inf", "p")) == 2)
        assert ctl.errors == 0
    finally:
        await ctl.stop()
        for inf in (parents, children):
            await inf.stop()


async def test_injected_api_errors_are_retried_with_backoff(
    client: KubeClient, sandbox: Sandbox
) -> None:
    await client.create(CONFIG_MAP, {"metadata": {"name": "target", "namespace": "faults"}})
    attempts = 0

    async def reconcile(key: str) -> Result:
        nonlocal attempts
        attempts += 1
        try:
            await client.patch(CONFIG_MAP, key, {"data": {"done": "yes"}}, "faults")
        except NotFound:
            return Result()
        return Result()

    sandbox.faults.replace(FaultSettings(error_rate={"patch": 1.0}, error_kind="503"))
    ctl: Controller[str] = Controller(
        "retry", reconcile, workers=1, queue=WorkQueue(base_delay=0.01)
    )
    ctl.start()
    try:
        ctl.enqueue("target")
        await eventually(lambda: ctl.errors >= 3)
        assert attempts >= 3 and ctl.queue.failures("target") >= 3
        sandbox.faults.replace(FaultSettings())
        await eventually(lambda: ctl.queue.failures("target") == 0, 3)
        got = await client.get(CONFIG_MAP, "target", "faults")
        assert got["data"] == {"done": "yes"}
    finally:
        sandbox.faults.replace(FaultSettings())
        await ctl.stop()
