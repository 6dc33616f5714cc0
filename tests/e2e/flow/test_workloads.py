"""Workload kinds and re-created pods, and a multi-workload KeptnApp applied partly with kubectl."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from lifecycle.core import model
from lifecycle.core.naming import app_version_name
from tests.e2e.flow.conftest import Cluster
from tests.e2e.flow.workloads import deployment, gated, running, succeeded, workload


@pytest.mark.parametrize(
    ("kind", "resource"), [("StatefulSet", model.STATEFUL_SET), ("DaemonSet", model.DAEMON_SET)]
)
async def test_statefulset_and_daemonset(
    cluster: Cluster, kind: str, resource: model.ResourceKind
) -> None:
    name = kind.lower()
    await cluster.client.create(resource, workload(kind, name, version="2.0"), cluster.namespace)
    wv = await cluster.wait_for(model.KEPTN_WORKLOAD_VERSION, f"{name}-{name}-2.0", succeeded)
    assert wv["spec"]["resourceReference"]["kind"] == kind
    await cluster.wait_for(model.KEPTN_APP_VERSION, f"{name}-2.0-6b86b273", succeeded)
    await cluster.wait_list(model.POD, running, label_selector=f"app={name}")


@pytest.mark.parametrize(
    ("kind", "resource"), [("StatefulSet", model.STATEFUL_SET), ("DaemonSet", model.DAEMON_SET)]
)
async def test_a_new_version_of_a_statefulset_or_daemonset_waits_for_its_own_checks(
    cluster: Cluster, kind: str, resource: model.ResourceKind
) -> None:
    """They keep their uid across versions: the finished old version must not release new pods."""
    await cluster.keptn_config(definitionWaitSeconds=30)
    ns, name = cluster.namespace, f"{kind.lower()}-up"
    await cluster.client.create(resource, workload(kind, name, version="1.0"), ns)
    await cluster.wait_for(model.KEPTN_WORKLOAD_VERSION, f"{name}-{name}-1.0", succeeded)
    await cluster.wait_list(model.POD, running, label_selector=f"app={name}")
    upgrade = workload(
        kind, name, version="2.0", keys={"keptn.sh/pre-deployment-tasks": "not-there-yet"}
    )
    await cluster.client.patch(resource, name, {"spec": upgrade["spec"]}, ns)
    await cluster.wait_for(
        model.KEPTN_WORKLOAD_VERSION,
        f"{name}-{name}-2.0",
        lambda wv: (wv.get("status") or {}).get("currentPhase") == "WorkloadPreDeployTasks",
    )
    pods = await cluster.wait_list(
        model.POD,
        lambda ps: any(
            (p["metadata"].get("annotations") or {}).get("keptn.sh/version") == "2.0" for p in ps
        ),
        label_selector=f"app={name}",
    )
    await asyncio.sleep(0.3)  # a wrongly released pod would be ungated by now
    pods, _ = await cluster.client.list(model.POD, ns, label_selector=f"app={name}")
    new = [p for p in pods if p["metadata"]["annotations"].get("keptn.sh/version") == "2.0"]
    assert new and all(gated(p) for p in new), [p["spec"].get("schedulingGates") for p in pods]


async def test_pods_recreated_after_completion_are_released_at_once(cluster: Cluster) -> None:
    ns = cluster.namespace
    await cluster.client.create(model.DEPLOYMENT, deployment("web", replicas=2), ns)
    await cluster.wait_for(model.KEPTN_WORKLOAD_VERSION, "web-web-0.1.0", succeeded)
    pods = await cluster.wait_list(model.POD, lambda ps: running(ps, 2), label_selector="app=web")
    await cluster.client.delete(model.POD, pods[0]["metadata"]["name"], ns, grace_period_seconds=0)
    await cluster.client.patch(model.DEPLOYMENT, "web", {"spec": {"replicas": 3}}, ns)
    names = {p["metadata"]["name"] for p in pods}
    fresh = await cluster.wait_list(
        model.POD,
        lambda ps: running([p for p in ps if not p["metadata"].get("deletionTimestamp")], 3),
        label_selector="app=web",
        within=5,
    )
    new = [p for p in fresh if p["metadata"]["name"] not in names]
    assert len(new) >= 2
    for pod in new:
        assert not gated(pod)
        assert pod["metadata"]["annotations"]["keptn.sh/scheduling-gate-removed"] == "true"
    # the completed WorkloadVersion was not run again
    wv = await cluster.get(model.KEPTN_WORKLOAD_VERSION, "web-web-0.1.0")
    assert wv is not None and succeeded(wv)


MANIFEST = """
apiVersion: lifecycle.keptn.sh/v1
kind: KeptnAppContext
metadata: {name: shop, namespace: demo}
spec:
  metadata: {team: checkout, commitID: abc123}
---
apiVersion: lifecycle.keptn.sh/v1
kind: KeptnApp
metadata: {name: shop, namespace: demo}
spec:
  version: "1.2"
  workloads:
    - {name: cart, version: "1.0"}
    - {name: front, version: "2.0"}
    - {name: db, version: "3.1"}
"""


async def test_multi_workload_app_with_context_applied_with_kubectl(
    cluster: Cluster, tmp_path: Path
) -> None:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is installed in this environment"
    ns = cluster.namespace
    path = str(tmp_path / "app.yaml")
    (tmp_path / "app.yaml").write_text(MANIFEST)
    proc = await asyncio.create_subprocess_exec(
        kubectl,
        "--kubeconfig",
        str(cluster.sandbox.kubeconfig_path),
        "apply",
        "-f",
        path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    await cluster.client.create(model.DEPLOYMENT, deployment("cart", version="1.0", app="shop"), ns)
    await cluster.client.create(
        model.DEPLOYMENT, deployment("front", version="2.0", app="shop", replicas=2), ns
    )
    await cluster.client.create(
        model.STATEFUL_SET, workload("StatefulSet", "db", version="3.1", app="shop"), ns
    )
    av = await cluster.wait_for(model.KEPTN_APP_VERSION, "shop-1.2-6b86b273", succeeded)
    assert av["spec"]["metadata"] == {"team": "checkout", "commitID": "abc123"}
    statuses = {w["workload"]["name"]: w["status"] for w in av["status"]["workloadStatus"]}
    assert statuses == {"cart": "Succeeded", "front": "Succeeded", "db": "Succeeded"}
    for wl in ("shop-cart-1.0", "shop-front-2.0", "shop-db-3.1"):
        wv = await cluster.wait_for(model.KEPTN_WORKLOAD_VERSION, wl, succeeded)
        assert wv["status"]["appContextMetadata"] == {"team": "checkout", "commitID": "abc123"}
    app = await cluster.get(model.KEPTN_APP, "shop")
    assert app is not None and "app.kubernetes.io/managed-by" not in (
        app["metadata"].get("labels") or {}
    )
    # the user's app was left alone: its creation requests are gone
    await cluster.wait_list(model.KEPTN_APP_CREATION_REQUEST, lambda items: not items)
    proc = await asyncio.create_subprocess_exec(
        kubectl,
        "--kubeconfig",
        str(cluster.sandbox.kubeconfig_path),
        "get",
        "events",
        "-n",
        ns,
        "-o",
        "json",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    reasons = [
        e["reason"]
        for e in json.loads(out)["items"]
        if e["involvedObject"]["name"] == "shop-1.2-6b86b273"
    ]
    assert "AppDeploySucceeded" in reasons


async def test_multi_service_app_is_created_without_waiting_for_the_discovery_window(
    cluster: Cluster,
) -> None:
    ns = cluster.namespace
    await cluster.keptn_config(keptnAppCreationRequestTimeoutSeconds=2)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await cluster.client.create(model.DEPLOYMENT, deployment("ui", version="1.0", app="auto"), ns)
    await cluster.client.create(model.DEPLOYMENT, deployment("api", version="2.0", app="auto"), ns)

    def both(app: dict[str, object]) -> bool:
        return len(app["spec"]["workloads"]) == 2  # type: ignore[index, arg-type]

    app = await cluster.wait_for(model.KEPTN_APP, "auto", both, within=5)
    assert loop.time() - started < 5  # KLT waits keptnAppCreationRequestTimeoutSeconds (30 s)
    assert app["metadata"]["annotations"]["keptn.sh/app-type"] == "multi-service"
    assert app["spec"]["workloads"] == [
        {"name": "api", "version": "2.0"},
        {"name": "ui", "version": "1.0"},
    ]
    version = app["spec"]["version"]
    assert len(version) == 10
    av_name = app_version_name("auto", version, int(app["metadata"]["generation"]))
    await cluster.wait_for(model.KEPTN_APP_VERSION, av_name, succeeded)
    for wv in ("auto-ui-1.0", "auto-api-2.0"):
        await cluster.wait_for(model.KEPTN_WORKLOAD_VERSION, wv, succeeded)

    # the discovery window stays open as an upper bound: then the request is removed
    await cluster.wait_list(model.KEPTN_APP_CREATION_REQUEST, lambda items: not items, within=10)
    assert loop.time() - started >= 1  # creationTimestamp has a resolution of one second
