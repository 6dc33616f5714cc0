"""Finding 1: a forged AdmissionReview must not rewrite a KeptnWorkload (issue 11)."""

from __future__ import annotations

import aiohttp

from lifecycle.core import model
from tests.e2e.flow.conftest import Cluster
from tests.e2e.flow.workloads import deployment

Body = dict[str, object]


def forged(owner_uid: str, rs_name: str) -> dict[str, object]:
    """What an attacker POSTs: the next release's version, no checks, any owner uid."""
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "generateName": "web-",
            "namespace": "demo",
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs_name, "uid": owner_uid}
            ],
            "annotations": {"keptn.sh/workload": "web", "keptn.sh/version": "2.0.0"},
        },
        "spec": {"containers": [{"name": "main", "image": "example/web:2.0.0"}]},
    }
    request = {"uid": "forged-1", "operation": "CREATE", "namespace": "demo", "object": pod}
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}


async def test_forged_review_changes_nothing(cluster: Cluster) -> None:
    keys = {"keptn.sh/pre-deployment-tasks": "check"}
    body = deployment("web", version="1.0.0", keys=keys)
    await cluster.client.create(model.DEPLOYMENT, body, "demo")
    workload = await cluster.wait_for(model.KEPTN_WORKLOAD, "web-web")
    assert workload["spec"]["version"] == "1.0.0"
    rs = (await cluster.wait_list(model.REPLICA_SET, lambda items: len(items) == 1))[0]
    url = f"https://127.0.0.1:{cluster.operator.ports['webhook']}/mutate-v1-pod"
    async with aiohttp.ClientSession() as session:
        for uid in ("made-up-uid", rs["metadata"]["uid"]):  # a made-up owner, then the real one
            async with session.post(url, json=forged(uid, rs["metadata"]["name"]), ssl=False) as r:
                answer = await r.json()
            assert answer["response"]["allowed"] is True
            if uid == "made-up-uid":
                assert "patch" not in answer["response"]
                assert "unconfirmed" in " ".join(answer["response"].get("warnings", []))
    after = await cluster.get(model.KEPTN_WORKLOAD, "web-web")
    assert after is not None
    assert after["spec"]["version"] == "1.0.0"  # the real owner's template, not the review's
    assert after["spec"]["preDeploymentTasks"] == ["check"]
    assert after["spec"] == workload["spec"]
    assert after["metadata"]["ownerReferences"] == workload["metadata"]["ownerReferences"]
