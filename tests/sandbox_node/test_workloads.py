"""Deployments, ReplicaSets, StatefulSets and DaemonSets on the sandbox with the simulated node."""

from __future__ import annotations

import asyncio
from typing import Any

from sandbox.node.client import DAEMONSETS, DEPLOYMENTS, PODS, REPLICASETS, STATEFULSETS, PatchType

from .conftest import Cluster

Body = dict[str, Any]


def workload(
    kind: str, name: str, image: str = "nginx:1", replicas: int | None = 3, gated: bool = False
) -> Body:
    pod_spec: Body = {"containers": [{"name": "app", "image": image}]}
    if gated:
        pod_spec["schedulingGates"] = [{"name": "keptn-prescheduling"}]
    spec: Body = {
        "selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": {"app": name}}, "spec": pod_spec},
    }
    if replicas is not None:
        spec["replicas"] = replicas
    if kind == "StatefulSet":
        spec["serviceName"] = name
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}


def condition(obj: Body | None, kind: str) -> Body:
    for cond in ((obj or {}).get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return dict(cond)
    return {}


def available(replicas: int) -> Any:
    def check(dep: Body | None) -> bool:
        s = (dep or {}).get("status") or {}
        return (
            s.get("availableReplicas") == replicas
            and s.get("updatedReplicas") == replicas
            and s.get("replicas") == replicas
            and s.get("observedGeneration") == (dep or {}).get("metadata", {}).get("generation")
            and condition(dep, "Available").get("status") == "True"
        )

    return check


async def pods_of(c: Cluster, app: str) -> list[Body]:
    items, _ = await c.api.list(PODS, c.namespace, label_selector=f"app={app}")
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


async def test_gated_deployment_stays_pending_until_gates_are_removed(cluster: Cluster) -> None:
    c = cluster
    await c.api.create(DEPLOYMENTS, c.namespace, workload("Deployment", "web", gated=True))

    # Wait until all three pods exist and carry the SchedulingGated condition.
    await c.wait_list(
        PODS,
        "app=web",
        lambda pods: (
            len(pods) == 3
            and all(condition(p, "PodScheduled").get("reason") == "SchedulingGated" for p in pods)
        ),
    )
    await asyncio.sleep(0.3)  # and they stay so
    pods = await pods_of(c, "web")
    assert len(pods) == 3
    for p in pods:
        assert p["status"]["phase"] == "Pending"
        assert condition(p, "PodScheduled")["status"] == "False"
        assert not p["spec"].get("nodeName")
        assert p["spec"]["schedulingGates"] == [{"name": "keptn-prescheduling"}]
    dep = await c.api.get(DEPLOYMENTS, c.namespace, "web")
    assert dep["status"].get("availableReplicas", 0) == 0
    assert condition(dep, "Available")["status"] == "False"

    # Ownership chain: Pod -> ReplicaSet -> Deployment, names and pod-template-hash.
    rs_name = pods[0]["metadata"]["ownerReferences"][0]["name"]
    rs = await c.api.get(REPLICASETS, c.namespace, rs_name)
    assert rs["metadata"]["ownerReferences"][0]["uid"] == dep["metadata"]["uid"]
    h = rs["metadata"]["labels"]["pod-template-hash"]
    assert rs_name == f"web-{h}"
    for p in pods:
        assert p["metadata"]["name"].startswith(f"{rs_name}-")
        assert len(p["metadata"]["name"]) == len(rs_name) + 6
        assert p["metadata"]["labels"]["pod-template-hash"] == h

    for p in pods:  # what the operator does once pre-deployment passed
        await c.api.patch(
            PODS,
            c.namespace,
            p["metadata"]["name"],
            [{"op": "remove", "path": "/spec/schedulingGates"}],
            patch_type=PatchType.JSON,
        )
    dep_ready = await c.wait_for(DEPLOYMENTS, "web", available(3))
    assert dep_ready is not None
    assert dep_ready["status"]["readyReplicas"] == 3
    assert condition(dep_ready, "Progressing")["reason"] == "NewReplicaSetAvailable"
    rs = await c.api.get(REPLICASETS, c.namespace, rs_name)
    assert rs["status"]["readyReplicas"] == 3 and rs["status"]["availableReplicas"] == 3
    assert rs["status"]["fullyLabeledReplicas"] == 3
    for p in await pods_of(c, "web"):
        assert p["spec"]["nodeName"] == "sandbox-node"
        assert p["status"]["phase"] == "Running"
        assert {k["type"]: k["status"] for k in p["status"]["conditions"]} == {
            "Initialized": "True",
            "Ready": "True",
            "ContainersReady": "True",
            "PodScheduled": "True",
        }
        state = p["status"]["containerStatuses"][0]
        assert state["ready"] is True and "running" in state["state"]


async def test_template_change_makes_a_new_replicaset_and_scales_the_old_one_down(
    cluster: Cluster,
) -> None:
    c = cluster
    await c.api.create(DEPLOYMENTS, c.namespace, workload("Deployment", "api", replicas=2))
    await c.wait_for(DEPLOYMENTS, "api", available(2))
    first, _ = await c.api.list(REPLICASETS, c.namespace)
    assert len(first) == 1
    await c.api.patch(
        DEPLOYMENTS,
        c.namespace,
        "api",
        {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:2"}]}}}},
        patch_type=PatchType.STRATEGIC,
    )
    await c.wait_for(DEPLOYMENTS, "api", available(2))
    rss, _ = await c.api.list(REPLICASETS, c.namespace)
    by_name = {r["metadata"]["name"]: r for r in rss}
    assert len(by_name) == 2
    old = by_name[first[0]["metadata"]["name"]]
    (new,) = [r for n, r in by_name.items() if n != old["metadata"]["name"]]
    await c.wait_for(
        REPLICASETS,
        old["metadata"]["name"],
        lambda r: (r or {}).get("status", {}).get("replicas") == 0,
    )
    assert (await c.api.get(REPLICASETS, c.namespace, old["metadata"]["name"]))["spec"][
        "replicas"
    ] == 0
    assert new["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:2"
    assert new["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    pods = await pods_of(c, "api")
    assert len(pods) == 2
    assert {p["metadata"]["labels"]["pod-template-hash"] for p in pods} == {
        new["metadata"]["labels"]["pod-template-hash"]
    }


async def test_scaling_a_deployment(cluster: Cluster) -> None:
    c = cluster
    await c.api.create(DEPLOYMENTS, c.namespace, workload("Deployment", "scale", replicas=1))
    await c.wait_for(DEPLOYMENTS, "scale", available(1))
    await c.api.patch(DEPLOYMENTS, c.namespace, "scale", {"spec": {"replicas": 4}})
    await c.wait_for(DEPLOYMENTS, "scale", available(4))
    await c.api.patch(DEPLOYMENTS, c.namespace, "scale", {"spec": {"replicas": 2}})
    await c.wait_for(DEPLOYMENTS, "scale", available(2))
    await c.wait_list(PODS, "app=scale", lambda pods: len(pods) == 2)


async def test_statefulset_becomes_ready(cluster: Cluster) -> None:
    c = cluster
    await c.api.create(STATEFULSETS, c.namespace, workload("StatefulSet", "db", replicas=3))

    def ready(sts: Body | None) -> bool:
        s = (sts or {}).get("status") or {}
        return (
            s.get("readyReplicas") == 3
            and s.get("availableReplicas") == 3
            and s.get("updatedReplicas") == 3
        )

    sts = await c.wait_for(STATEFULSETS, "db", ready)
    assert sts is not None
    s = sts["status"]
    assert s["replicas"] == 3 and s["currentReplicas"] == 3
    assert s["currentRevision"] == s["updateRevision"] and s["updateRevision"].startswith("db-")
    pods = await pods_of(c, "db")
    assert sorted(p["metadata"]["name"] for p in pods) == ["db-0", "db-1", "db-2"]
    for p in pods:
        assert p["metadata"]["ownerReferences"][0]["kind"] == "StatefulSet"
        assert p["metadata"]["labels"]["controller-revision-hash"] == s["updateRevision"]


async def test_daemonset_becomes_ready(cluster: Cluster) -> None:
    c = cluster
    await c.api.create(DAEMONSETS, c.namespace, workload("DaemonSet", "agent", replicas=None))

    def ready(ds: Body | None) -> bool:
        s = (ds or {}).get("status") or {}
        return s.get("numberReady") == 1 and s.get("desiredNumberScheduled") == 1

    ds = await c.wait_for(DAEMONSETS, "agent", ready)
    assert ds is not None
    s = ds["status"]
    assert (s["currentNumberScheduled"], s["numberAvailable"], s["updatedNumberScheduled"]) == (
        1,
        1,
        1,
    )
    (pod,) = await pods_of(c, "agent")
    assert pod["metadata"]["ownerReferences"][0]["kind"] == "DaemonSet"
    assert pod["spec"]["nodeName"] == "sandbox-node"
