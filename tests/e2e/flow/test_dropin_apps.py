"""Drop-in stories, apps (issue 12, points 1-5): KLT users' manifests applied with kubectl.

Each test is what a KLT user does after reading KLT's documentation: write the manifests, apply
them with the real kubectl against the sandbox, look with kubectl. Each failed before the fix.
"""

from __future__ import annotations

import asyncio

from lifecycle.core import model
from tests.e2e.flow.conftest import Cluster
from tests.e2e.flow.klt_manifests import (
    apply,
    deployment,
    failed,
    gated,
    get_json,
    keys,
    pods_of,
    python_task,
    reasons_of,
    succeeded,
)

APP_AND_CONTEXT = """
apiVersion: lifecycle.keptn.sh/v1
kind: KeptnApp
metadata:
  name: shop
spec:
  version: "1.0.0"
  workloads:
    - name: cart
      version: "1.0.0"
---
apiVersion: lifecycle.keptn.sh/v1
kind: KeptnAppContext
metadata:
  name: shop
spec:
  preDeploymentTasks:
    - announce
  metadata:
    commitID: 3f2a9c1
"""


async def test_app_and_its_context_applied_together_run_the_context_checks(
    cluster: Cluster,
) -> None:
    """Point 1: KeptnApp + KeptnAppContext in one `kubectl apply -f`; an app without one says so."""
    await apply(
        cluster,
        APP_AND_CONTEXT,
        python_task("announce", "import os\nprint('deploying', os.environ['KEPTN_CONTEXT'])"),
        deployment(
            "cart",
            annotations=keys("cart", "1.0.0", app="shop"),
        ),
    )
    av = await cluster.wait_for(model.KEPTN_APP_VERSION, "shop-1.0.0-6b86b273", succeeded)
    assert av["spec"]["preDeploymentTasks"] == ["announce"]
    assert av["spec"]["metadata"] == {"commitID": "3f2a9c1"}
    assert [i["status"] for i in av["status"]["preDeploymentTaskStatus"]] == ["Succeeded"]
    assert "AppContextNotFound" not in await reasons_of(cluster, "shop-1.0.0-6b86b273")

    await apply(
        cluster,
        deployment(
            "solo", labels={"app.kubernetes.io/name": "solo", "app.kubernetes.io/version": "2.0"}
        ),
    )
    await cluster.wait_for(model.KEPTN_APP_VERSION, "solo-2.0-6b86b273", succeeded)
    assert (await reasons_of(cluster, "solo-2.0-6b86b273")).count("AppContextNotFound") == 1


async def test_a_late_context_reaches_the_phases_not_started(cluster: Cluster) -> None:
    """Point 1: a context applied after the auto-created app still runs its post-deployment task."""
    await apply(
        cluster,
        python_task("warm-cache", "import time\ntime.sleep(2)"),
        deployment(
            "slowpoke", annotations=keys("slowpoke", "1.0", pre_deployment_tasks="warm-cache")
        ),
    )
    name = "slowpoke-1.0-6b86b273"
    await cluster.wait_events(name, "AppContextNotFound")
    context = """
apiVersion: lifecycle.keptn.sh/v1
kind: KeptnAppContext
metadata:
  name: slowpoke
spec:
  postDeploymentTasks:
    - wrap-up
"""
    await apply(cluster, context, python_task("wrap-up", "print('done')"))
    av = await cluster.wait_for(model.KEPTN_APP_VERSION, name, succeeded, within=30)
    assert av["spec"]["postDeploymentTasks"] == ["wrap-up"]
    assert [i["status"] for i in av["status"]["postDeploymentTaskStatus"]] == ["Succeeded"]
    assert "AppContextTakenIn" in await reasons_of(cluster, name)


async def test_workloads_created_together_give_one_app_version(cluster: Cluster) -> None:
    """Point 2: four annotated Deployments of one app, arriving 0.4 s apart: one AppVersion."""
    context = """
apiVersion: lifecycle.keptn.sh/v1
kind: KeptnAppContext
metadata:
  name: shop
spec:
  preDeploymentTasks:
    - announce
"""
    await apply(cluster, context, python_task("announce", "print('ready')"))

    def part(name: str) -> str:
        return deployment(
            name,
            labels={
                "app.kubernetes.io/name": name,
                "app.kubernetes.io/part-of": "shop",
                "app.kubernetes.io/version": "0.1.0",
            },
        )

    await apply(cluster, part("frontend"), part("cart"))
    await asyncio.sleep(0.4)
    await apply(cluster, part("checkout"))
    await asyncio.sleep(0.4)
    await apply(cluster, part("payment"))
    app = await cluster.wait_for(
        model.KEPTN_APP, "shop", lambda a: len(a["spec"]["workloads"]) == 4
    )
    versions = await cluster.wait_list(
        model.KEPTN_APP_VERSION, lambda avs: bool(avs) and all(succeeded(a) for a in avs)
    )
    assert [a["metadata"]["name"] for a in versions] == [f"shop-{app['spec']['version']}-6b86b273"]
    tasks = (await get_json(cluster, "keptntasks"))["items"]
    assert [t["spec"]["taskDefinition"] for t in tasks] == ["announce"]
    assert app["metadata"]["generation"] == 1


async def test_pods_created_after_a_deploy_timeout_are_released(cluster: Cluster) -> None:
    """Point 3: the gate follows the pre-deployment outcome, not the WorkloadDeploy timeout."""
    await cluster.keptn_config(observabilityTimeout="2s")
    await apply(
        cluster,
        python_task("smoke", "print('smoke test passed')"),
        deployment(
            "web",
            annotations={
                **keys("web", "1.0", pre_deployment_tasks="smoke"),
                "sandbox.klt.dev/outcome": "never-ready",  # its pods never start
            },
        ),
    )
    wv = await cluster.wait_for(model.KEPTN_WORKLOAD_VERSION, "web-web-1.0", failed, within=30)
    assert wv["status"]["preDeploymentStatus"] == "Succeeded"
    assert wv["status"]["deploymentStatus"] == "Failed"
    await cluster.kubectl("scale", "-n", cluster.namespace, "deployment/web", "--replicas=2")
    pods = await cluster.wait_list(
        model.POD,
        lambda ps: len(ps) == 2 and not any(gated(p) for p in ps),
        label_selector="component=web",
    )
    assert all(
        p["metadata"]["annotations"]["keptn.sh/scheduling-gate-removed"] == "true" for p in pods
    )


async def test_readme_troubleshooting_steps_retry_a_failed_workload_check(cluster: Cluster) -> None:
    """Point 4: the README's steps, literally: find the failure, fix it, bump the revision."""
    await apply(
        cluster,
        python_task("check-db", "import sys\nsys.exit('schema 41, need 42')"),
        deployment(
            "api",
            annotations=keys("api", "2.1", pre_deployment_tasks="check-db"),
        ),
    )
    await cluster.wait_for(model.KEPTN_WORKLOAD_VERSION, "api-api-2.1", failed)
    (pod,) = await pods_of(cluster, "api")
    assert gated(pod)
    # 1. is there a WorkloadVersion for the pod's owner?
    assert "api-api-2.1" in await cluster.kubectl("get", "kwv", "-n", cluster.namespace)
    # 2. which phase, which state
    table = await cluster.kubectl("get", "kav,kwv", "-n", cluster.namespace)
    assert "WorkloadPreDeployTasks" in table
    # 3. the Errored event names the failed task
    assert "WorkloadPreDeployTasksErrored" in await reasons_of(cluster, "api-api-2.1")
    # 4. fix the cause, then bump KeptnApp.spec.revision to retry
    await apply(cluster, python_task("check-db", "print('schema 42')"))
    await cluster.kubectl(
        "patch", "keptnapp", "api", "-n", cluster.namespace,
        "--type", "merge", "-p", '{"spec":{"revision":2}}',
    )  # fmt: skip
    wv = await cluster.wait_for(model.KEPTN_WORKLOAD_VERSION, "api-api-2.1", succeeded)
    assert wv["status"]["preDeploymentStatus"] == "Succeeded"
    await cluster.wait_for(model.KEPTN_APP_VERSION, "api-2.1-d4735e3a", succeeded)
    await cluster.wait_list(
        model.POD,
        lambda ps: len(ps) == 1 and not gated(ps[0]) and ps[0]["status"].get("phase") == "Running",
        label_selector="component=api",
    )
    assert "RetryWorkloadVersion" in await reasons_of(cluster, "api")


async def test_container_annotation_and_single_workload_multi_service_version(
    cluster: Cluster,
) -> None:
    """Point 5: `keptn.sh/container` naming no container is admitted; one workload's version."""
    await apply(
        cluster,
        deployment(
            "catalog",
            labels={
                "app.kubernetes.io/name": "catalog",
                "app.kubernetes.io/part-of": "store",
                "app.kubernetes.io/version": "0.3.1",
            },
        ),
        deployment(
            "search",
            labels={"app.kubernetes.io/name": "search", "app.kubernetes.io/part-of": "finder"},
            annotations={"keptn.sh/container": "app"},  # the container is called "server"
            image="ghcr.io/example/search:1.4.0",
        ),
    )
    app = await cluster.wait_for(model.KEPTN_APP, "store")
    assert app["spec"]["version"] == "0.3.1"
    await cluster.wait_for(model.KEPTN_APP_VERSION, "store-0.3.1-6b86b273", succeeded)
    finder = await cluster.wait_for(model.KEPTN_APP, "finder")
    wl = await cluster.wait_for(model.KEPTN_WORKLOAD, "finder-search")
    assert finder["spec"]["version"] == wl["spec"]["version"] == "1.4.0"
    await cluster.wait_list(
        model.POD,
        lambda ps: len(ps) == 1 and ps[0]["status"].get("phase") == "Running",
        label_selector="component=search",
    )
