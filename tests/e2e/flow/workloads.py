"""Bodies of the workloads the integration tests deploy."""

from __future__ import annotations

from typing import Any

Body = dict[str, Any]


def _template(name: str, keys: dict[str, str], pod_annotations: dict[str, str]) -> Body:
    return {
        "metadata": {"labels": {"app": name}, "annotations": {**keys, **pod_annotations}},
        "spec": {"containers": [{"name": "main", "image": f"example/{name}:latest"}]},
    }


def workload(
    kind: str,
    name: str,
    *,
    version: str = "0.1.0",
    app: str | None = None,
    replicas: int = 1,
    keys: dict[str, str] | None = None,
    pod_annotations: dict[str, str] | None = None,
) -> Body:
    """A Deployment, StatefulSet or DaemonSet opted in with keptn.sh keys on its pod template."""
    annotations = {"keptn.sh/workload": name, "keptn.sh/version": version, **(keys or {})}
    if app:
        annotations["keptn.sh/app"] = app
    spec: Body = {
        "selector": {"matchLabels": {"app": name}},
        "template": _template(name, annotations, pod_annotations or {}),
    }
    if kind != "DaemonSet":
        spec["replicas"] = replicas
    if kind == "StatefulSet":
        spec["serviceName"] = name
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}


def deployment(name: str, **kw: Any) -> Body:
    return workload("Deployment", name, **kw)


def state(obj: Body, field: str = "status") -> str:
    return str((obj.get("status") or {}).get(field, ""))


def succeeded(obj: Body) -> bool:
    return state(obj) == "Succeeded"


def finished(obj: Body) -> bool:
    return state(obj) in ("Succeeded", "Failed", "Warning", "Deprecated")


def running(pods: list[Body], count: int = 1) -> bool:
    return len(pods) == count and all(
        (p.get("status") or {}).get("phase") == "Running" for p in pods
    )


def gated(pod: Body) -> bool:
    return any(
        g.get("name") == "keptn-prechecks-gate"
        for g in (pod.get("spec") or {}).get("schedulingGates") or ()
    )
