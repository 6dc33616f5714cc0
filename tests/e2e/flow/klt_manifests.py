"""KLT-style manifests (YAML text, as a KLT user writes them) for the drop-in stories."""

from __future__ import annotations

import json
from typing import Any

from lifecycle.core import model
from tests.e2e.flow.conftest import Cluster

Body = dict[str, Any]


def deployment(
    name: str,
    *,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    image: str = "ghcr.io/podtato-head/podtato-server:v0.3.1",
    replicas: int = 1,
) -> str:
    """A Deployment whose pod template carries the given keptn labels/annotations."""
    return f"""
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: {replicas}
  selector:
    matchLabels:
      component: {name}
  template:
    metadata:
      labels: {json.dumps({"component": name, **(labels or {})})}
      annotations: {json.dumps(annotations or {})}
    spec:
      containers:
        - name: server
          image: {image}
"""


def _task_definition(name: str, retries: int, runtime: str) -> str:
    return f"""
apiVersion: lifecycle.keptn.sh/v1
kind: KeptnTaskDefinition
metadata:
  name: {name}
spec:
  retries: {retries}
{runtime}"""


def container_task(name: str, script: str, *, image: str = "busybox:1.36", retries: int = 0) -> str:
    """A KeptnTaskDefinition running ``sh -c script`` in ``image`` (KLT's container runtime)."""
    command = json.dumps(["sh", "-c", script])
    runtime = f"  container:\n    name: {name}\n    image: {image}\n    command: {command}\n"
    return _task_definition(name, retries, runtime)


def python_task(name: str, code: str, *, retries: int = 0) -> str:
    """A KeptnTaskDefinition with inline Python (KLT's python runtime)."""
    body = "".join(f"        {line}\n" for line in code.strip("\n").splitlines())
    return _task_definition(name, retries, f"  python:\n    inline:\n      code: |\n{body}")


def keys(workload: str, version: str, **checks: str) -> dict[str, str]:
    """The keptn.sh annotations of a workload: ``pre_deployment_tasks="a,b"`` and so on."""
    result = {"keptn.sh/workload": workload, "keptn.sh/version": version}
    result |= {f"keptn.sh/{k.replace('_', '-')}": v for k, v in checks.items()}
    return result


def docs(*parts: str) -> str:
    """Several manifests as one file for `kubectl apply -f -`."""
    return "\n---\n".join(p.strip("\n") for p in parts) + "\n"


async def apply(cluster: Cluster, *parts: str) -> str:
    """`kubectl apply -n <ns> -f -` of the manifests, in one call."""
    return await cluster.kubectl("apply", "-n", cluster.namespace, "-f", "-", stdin=docs(*parts))


def state(obj: Body, field: str = "status") -> str:
    return str((obj.get("status") or {}).get(field, ""))


def succeeded(obj: Body) -> bool:
    return state(obj) == "Succeeded"


def failed(obj: Body) -> bool:
    return state(obj) == "Failed"


async def get_json(cluster: Cluster, *args: str) -> Body:
    """`kubectl get ... -o json` in the test namespace."""
    out = await cluster.kubectl("get", "-n", cluster.namespace, *args, "-o", "json")
    result: Body = json.loads(out)
    return result


async def reasons_of(cluster: Cluster, name: str) -> list[str]:
    """Event reasons on one object, as `kubectl get events --field-selector` lists them."""
    events = await get_json(cluster, "events", "--field-selector", f"involvedObject.name={name}")
    return [str(e["reason"]) for e in events["items"]]


async def pods_of(cluster: Cluster, component: str) -> list[Body]:
    items, _ = await cluster.client.list(
        model.POD, cluster.namespace, label_selector=f"component={component}"
    )
    return items


def gated(pod: Body) -> bool:
    gates = (pod.get("spec") or {}).get("schedulingGates") or ()
    return any(g.get("name") == "keptn-prechecks-gate" for g in gates)
