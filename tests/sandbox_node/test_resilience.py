"""The node converges through API faults, rolls StatefulSets/DaemonSets, honours the start delay."""

from __future__ import annotations

import asyncio
import base64
import time
from pathlib import Path
from typing import Any

from sandbox.node import NodeHandle, NodeSettings
from sandbox.node.client import (
    DAEMONSETS,
    DEPLOYMENTS,
    JOBS,
    PODS,
    STATEFULSETS,
    ApiClient,
    PatchType,
    Transient,
)

from .conftest import NS_RES, Cluster, Sandbox
from .test_jobs import CONFIGMAPS, PY_CODE, SECRETS, condition, finished, function_job, pod_log
from .test_workloads import available, workload

Body = dict[str, Any]


async def set_faults(c: Cluster, **faults: Any) -> None:
    await c.api.request("PUT", "/sandbox/faults", body=faults)


async def create(c: Cluster, res: Any, body: Body) -> None:
    """Create through injected faults (the test's own client is hit too)."""
    for _ in range(50):
        try:
            await c.api.create(res, c.namespace, body)
            return
        except Transient:
            await asyncio.sleep(0.01)
    raise AssertionError("create kept failing")


async def test_converges_through_api_errors_and_dropped_watches(cluster: Cluster) -> None:
    c = cluster
    await set_faults(
        c,
        error_rate={"create": 0.3, "patch": 0.3, "delete": 0.3},
        error_kind="503",
        watch_drop_seconds=0.2,
        seed=7,
    )
    try:
        await create(c, DEPLOYMENTS, workload("Deployment", "shaky", replicas=3))
        await c.wait_for(DEPLOYMENTS, "shaky", available(3), within=30)
        pods = await c.wait_list(PODS, "app=shaky", lambda p: len(p) == 3)
        assert all(p["status"]["phase"] == "Running" for p in pods)
        faults = await c.api.request("GET", "/sandbox/faults")
        assert faults["injected"] >= 3, faults  # the node really went through failures
    finally:
        await set_faults(c)


async def test_node_relists_after_410(cluster: Cluster) -> None:
    c = cluster
    await set_faults(c, watch_gone=True)
    try:
        await c.api.create(DEPLOYMENTS, c.namespace, workload("Deployment", "gone", replicas=2))
        await asyncio.sleep(0.2)  # the node keeps re-listing meanwhile, without spinning
    finally:
        await set_faults(c)
    await c.wait_for(DEPLOYMENTS, "gone", available(2))


async def test_statefulset_rolls_to_a_new_template(cluster: Cluster) -> None:
    c = cluster
    await c.api.create(STATEFULSETS, c.namespace, workload("StatefulSet", "db", replicas=2))

    def settled(sts: Body | None) -> bool:
        s = (sts or {}).get("status") or {}
        return (
            s.get("readyReplicas") == 2
            and s.get("updatedReplicas") == 2
            and s.get("currentRevision") == s.get("updateRevision")
            and s.get("observedGeneration") == (sts or {}).get("metadata", {}).get("generation")
        )

    first = await c.wait_for(STATEFULSETS, "db", settled)
    assert first is not None
    await c.api.patch(
        STATEFULSETS,
        c.namespace,
        "db",
        {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:2"}]}}}},
        patch_type=PatchType.STRATEGIC,
    )
    second = await c.wait_for(
        STATEFULSETS,
        "db",
        lambda s: (
            settled(s)
            and (s or {})["status"]["updateRevision"] != first["status"]["updateRevision"]
        ),
    )
    assert second is not None
    pods = await c.wait_list(PODS, "app=db", lambda p: len(p) == 2)
    for p in pods:
        assert p["spec"]["containers"][0]["image"] == "nginx:2"
        assert (
            p["metadata"]["labels"]["controller-revision-hash"]
            == second["status"]["updateRevision"]
        )


async def test_daemonset_replaces_its_pod_on_template_change(cluster: Cluster) -> None:
    c = cluster
    await c.api.create(DAEMONSETS, c.namespace, workload("DaemonSet", "agent", replicas=None))
    await c.wait_for(
        DAEMONSETS, "agent", lambda d: ((d or {}).get("status") or {}).get("numberReady") == 1
    )
    (old,) = await c.wait_list(PODS, "app=agent", lambda p: len(p) == 1)
    await c.api.patch(
        DAEMONSETS,
        c.namespace,
        "agent",
        {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "agent:2"}]}}}},
        patch_type=PatchType.STRATEGIC,
    )

    def replaced(pods: list[Body]) -> bool:
        return (
            len(pods) == 1
            and pods[0]["metadata"]["uid"] != old["metadata"]["uid"]
            and pods[0].get("status", {}).get("phase") == "Running"
        )

    (new,) = await c.wait_list(PODS, "app=agent", replaced)
    assert new["spec"]["containers"][0]["image"] == "agent:2"
    ds = await c.wait_for(
        DAEMONSETS,
        "agent",
        lambda d: (
            ((d or {}).get("status") or {}).get("numberReady") == 1
            and d["status"].get("observedGeneration") == d["metadata"].get("generation")
        ),
    )
    assert ds is not None and ds["status"]["updatedNumberScheduled"] == 1


async def test_missing_secret_waits_then_runs_once_created(cluster: Cluster) -> None:
    c = cluster
    await c.api.create(
        CONFIGMAPS,
        c.namespace,
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "keptnfn-hello"},
            "data": {"code": PY_CODE},
        },
    )
    await c.api.create(
        JOBS, c.namespace, function_job("late", "python", {"user": "lou"}, code_map="keptnfn-hello")
    )

    def config_error(pods: list[Body]) -> bool:
        states = [
            s["state"] for p in pods for s in (p.get("status") or {}).get("containerStatuses") or []
        ]
        return any(
            st.get("waiting", {}).get("reason") == "CreateContainerConfigError" for st in states
        )

    (pod,) = await c.wait_list(PODS, "job-name=late", config_error)
    assert (
        'secret "task-secret" not found'
        in pod["status"]["containerStatuses"][0]["state"]["waiting"]["message"]
    )
    secret = base64.b64encode(b"finally").decode()
    await c.api.create(
        SECRETS,
        c.namespace,
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "task-secret"},
            "data": {"SECURE_DATA": secret},
        },
    )
    job = await c.wait_for(JOBS, "late", finished, within=20)
    assert condition(job, "Complete")
    (pod,) = await c.wait_list(PODS, "job-name=late", lambda p: len(p) == 1)
    assert "hello lou with finally" in await pod_log(c, pod)


async def test_pod_start_delay_shows_container_creating(slow_cluster: Cluster) -> None:
    c = slow_cluster
    t0 = time.monotonic()
    await c.api.create(DEPLOYMENTS, c.namespace, workload("Deployment", "slow", replicas=1))

    def creating(pods: list[Body]) -> bool:
        states = [
            s["state"] for p in pods for s in (p.get("status") or {}).get("containerStatuses") or []
        ]
        return any(st.get("waiting", {}).get("reason") == "ContainerCreating" for st in states)

    await c.wait_list(PODS, "app=slow", creating)
    await c.wait_for(DEPLOYMENTS, "slow", available(1))
    assert time.monotonic() - t0 >= 0.4


async def test_the_sandbox_starts_the_node_itself(tmp_path: Path) -> None:
    """The entry point the API server uses: Sandbox(node=True) calls sandbox.node.start_node."""
    settings = NodeSettings(pod_start_delay=0.0, work_dir=tmp_path / "node")
    sb = await Sandbox.start(node_settings=settings)
    try:
        assert isinstance(sb.node, NodeHandle)
        api = ApiClient(sb.url, sb.token)
        try:
            await api.create(
                NS_RES, None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "own"}}
            )
            c = Cluster(api=api, node=sb.node, namespace="own")
            await c.api.create(DEPLOYMENTS, "own", workload("Deployment", "solo", replicas=1))
            await c.wait_for(DEPLOYMENTS, "solo", available(1))
        finally:
            await api.close()
    finally:
        await sb.stop()
