"""An operator restart over finished and waiting work: no writes, no timers before deadlines.

A completed KeptnWorkloadVersion must not be written by a restarted operator (its informer's
initial list delivers it as ADDED, and the reconcile must see it is done), and a
WorkloadVersion waiting on a pre-deployment task that runs for minutes must not be woken by a
timer before a real deadline (the task's timeout): the waiting costs no reconciles.
Not timed: the assertions are on resourceVersions, request counters and queued timers.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from lifecycle.core import model
from lifecycle.kube import KubeClient
from lifecycle.operator.root import Operator
from lifecycle.operator.server import ServerConfig
from tests.e2e.flow.conftest import Cluster, operator_settings
from tests.e2e.flow.workloads import deployment, succeeded

WRITES = ("create", "update", "patch", "delete")
TASK_TIMEOUT = 600.0  # seconds: the waiting task's (and so the WorkloadVersion's) deadline


def waiting_definition() -> dict[str, object]:
    """A container task that runs until its timeout (the node's default outcome is "run")."""
    return {
        "apiVersion": model.KEPTN_TASK_DEFINITION.api_version,
        "kind": "KeptnTaskDefinition",
        "metadata": {"name": "wait"},
        "spec": {
            "container": {"name": "wait", "image": "example/wait:1"},
            "retries": 0,
            "timeout": f"{int(TASK_TIMEOUT)}s",
        },
    }


async def quiet(operator: Operator, seconds: float) -> int:
    """Wait until no controller reconciled for ``seconds``; the reconcile count then."""
    last, still = -1, 0.0
    async with asyncio.timeout(30):
        while still < seconds:
            count = sum(c.reconciles for c in operator.controllers)
            still = still + 0.1 if count == last else 0.0
            last = count
            await asyncio.sleep(0.1)
    return last


def earliest_timer(operator: Operator) -> float:
    """Seconds until the earliest pending work-queue timer of any controller (inf if none)."""
    now = asyncio.get_running_loop().time()
    deadlines = [deadline - now for c in operator.controllers for deadline in c.queue.deadlines()]
    return min(deadlines, default=float("inf"))


async def test_restart_writes_nothing_and_sets_no_early_timer(
    cluster: Cluster, tmp_path: Path
) -> None:
    ns, client = cluster.namespace, cluster.client
    await client.create(model.KEPTN_TASK_DEFINITION, waiting_definition(), ns)
    await client.create(model.DEPLOYMENT, deployment("done"), ns)
    keys = {"keptn.sh/pre-deployment-tasks": "wait"}
    await client.create(model.DEPLOYMENT, deployment("slow", keys=keys), ns)
    done = await cluster.wait_for(model.KEPTN_WORKLOAD_VERSION, "done-done-0.1.0", succeeded)
    await cluster.wait_list(model.JOB, lambda jobs: len(jobs) == 1)
    await quiet(cluster.operator, 1.0)
    assert earliest_timer(cluster.operator) > TASK_TIMEOUT - 60, "a timer before the deadline"

    port = cluster.operator.ports["webhook"]  # the same replica: the same webhook URL
    await cluster.operator.stop()
    server = ServerConfig(host="127.0.0.1", webhook_port=port, metrics_port=0, probe_port=0)
    settings = operator_settings(cluster.sandbox, tmp_path, server=server)
    restarted = Operator(settings)
    try:
        await restarted.start()
        async with asyncio.timeout(15):
            await restarted.wait_ready()
            await restarted.wait_leading()
        before = await quiet(restarted, 1.0)
        fired = sum(c.queue.fired for c in restarted.controllers)
        await asyncio.sleep(1.0)

        counts = restarted.client.request_counts_by_resource
        # Lease renewals are leader election's heartbeat, not writes of the flow
        writes = {
            k: n for k, n in counts.items() if k.split(" ")[0] in WRITES and "leases" not in k
        }
        assert writes == {}, f"the restarted operator wrote {writes}"
        after = await client.get(model.KEPTN_WORKLOAD_VERSION, "done-done-0.1.0", ns)
        assert after["metadata"]["resourceVersion"] == done["metadata"]["resourceVersion"]
        # the waiting WorkloadVersion: no reconcile and no timer fired while it waits, and
        # the earliest wake-up is the task's deadline, not a poll
        assert sum(c.reconciles for c in restarted.controllers) == before
        assert sum(c.queue.fired for c in restarted.controllers) == fired
        assert earliest_timer(restarted) > TASK_TIMEOUT - 60, "a timer before the deadline"
    finally:
        await restarted.stop()


async def test_operator_cache_keeps_what_the_gate_needs(cluster: Cluster) -> None:
    """The slimmed pod cache still releases gates (covered end to end) and drops the rest."""
    await cluster.client.create(model.DEPLOYMENT, deployment("svc"), cluster.namespace)
    await cluster.wait_for(model.KEPTN_WORKLOAD_VERSION, "svc-svc-0.1.0", succeeded)
    pods = cluster.operator.informers[model.POD].store.list(cluster.namespace)
    assert pods and all(set(p["spec"]) <= {"containers", "schedulingGates"} for p in pods)
    assert all("status" not in p for p in pods)
    client: KubeClient = cluster.client
    full, _ = await client.list(model.POD, cluster.namespace)
    assert all("status" in p for p in full)  # the API still serves whole pods


async def test_rollout_and_resource_caches_are_slim_and_interned(cluster: Cluster) -> None:
    """ReplicaSets keep only the pod template's metadata and read fields; strings are shared.

    The pod webhook confirms a pod against its ReplicaSet's template from this cache, so two
    workloads completing shows the slim template is enough.
    """
    for name in ("one", "two"):
        await cluster.client.create(model.DEPLOYMENT, deployment(name), cluster.namespace)
    for name in ("one", "two"):
        await cluster.wait_for(model.KEPTN_WORKLOAD_VERSION, f"{name}-{name}-0.1.0", succeeded)
    informers = cluster.operator.informers
    for rs in informers[model.REPLICA_SET].store.list(cluster.namespace):
        assert set(rs["spec"]) <= {"replicas", "template"} and "selector" not in rs["spec"]
        assert set(rs["spec"]["template"]) <= {"metadata", "spec"}
        assert set(rs["spec"]["template"]["spec"]) <= {"containers", "schedulingGates"}
        assert rs["spec"]["template"]["metadata"]["annotations"]  # the keptn keys stay
    one, two = (
        informers[model.KEPTN_WORKLOAD_VERSION].store.get(cluster.namespace, f"{n}-{n}-0.1.0")
        for n in ("one", "two")
    )
    assert one is not None and two is not None
    assert one["status"]["status"] is two["status"]["status"]  # one "Succeeded" for both
    assert one["metadata"]["namespace"] is two["metadata"]["namespace"]
    # completed: cached without its conditions (lifecycle.operator.cachefields.done_slim)
    served = await cluster.client.get(
        model.KEPTN_WORKLOAD_VERSION, "one-one-0.1.0", cluster.namespace
    )
    assert served["status"]["conditions"] and "conditions" not in one["status"]
    workloads = [
        informers[model.KEPTN_WORKLOAD].store.get(cluster.namespace, f"{n}-{n}")
        for n in ("one", "two")
    ]
    assert workloads[0] is not None and workloads[1] is not None
    pairs = zip(
        workloads[0]["status"]["conditions"], workloads[1]["status"]["conditions"], strict=True
    )
    assert all(a is b for a, b in pairs if a == b)  # equal conditions: one dict
