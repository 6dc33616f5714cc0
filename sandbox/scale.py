"""The `scale` subresource of Deployments, ReplicaSets and StatefulSets (autoscaling/v1 Scale).

`kubectl scale` reads and patches it; a write changes only the owner's `spec.replicas` and
goes through the normal update path (admission, generation bump, watch events). Pure
conversion helpers plus one async entry point used by the resource handlers.
"""

from __future__ import annotations

import json
from typing import Any

from sandbox import errors
from sandbox.patching import apply_patch
from sandbox.resources import ResourceType
from sandbox.store import Entry
from sandbox.verbs import Api, WriteOptions

__all__ = ["scale_of", "write_scale"]


def _selector_string(selector: dict[str, Any] | None) -> str:
    parts = [f"{k}={v}" for k, v in sorted(((selector or {}).get("matchLabels") or {}).items())]
    for expr in (selector or {}).get("matchExpressions") or []:
        op, key, values = expr.get("operator"), expr.get("key"), ",".join(expr.get("values") or [])
        parts.append(
            {"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})", "Exists": key}.get(
                op, f"!{key}"
            )
        )
    return ",".join(parts)


def scale_of(entry: Entry) -> dict[str, Any]:
    """The Scale view of a stored Deployment/ReplicaSet/StatefulSet."""
    obj = entry.obj
    meta = obj["metadata"]
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta["name"],
            "namespace": meta.get("namespace", ""),
            "uid": meta.get("uid"),
            "resourceVersion": meta.get("resourceVersion"),
            "creationTimestamp": meta.get("creationTimestamp"),
        },
        "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 0)},
        "status": {
            "replicas": (obj.get("status") or {}).get("replicas", 0),
            "selector": _selector_string((obj.get("spec") or {}).get("selector")),
        },
    }


async def write_scale(
    api: Api,
    rt: ResourceType,
    entry: Entry,
    method: str,
    content_type: str,
    body: bytes,
    opts: WriteOptions,
) -> dict[str, Any]:
    """Apply a PUT or PATCH of the Scale to its owner; returns the new Scale."""
    try:
        sent = json.loads(body or b"null")
    except ValueError:
        raise errors.bad_request("the body of the request could not be decoded as JSON") from None
    current = scale_of(entry)
    if method == "PUT":
        wanted = sent
        if not isinstance(wanted, dict):
            raise errors.bad_request("Scale must be an object")
    else:
        wanted = apply_patch(content_type.replace("strategic-merge", "merge"), current, sent, False)
    replicas = (wanted.get("spec") or {}).get("replicas")
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        why = f"Invalid value: {replicas!r}: must be greater than or equal to 0"
        cause = ("spec.replicas", "FieldValueInvalid", why)
        raise errors.invalid("Scale", "autoscaling", entry.name, [cause])
    # only a resourceVersion the client sent is a precondition (PUT body or merge patch)
    rv = (sent.get("metadata") or {}).get("resourceVersion") if isinstance(sent, dict) else None
    patch: dict[str, Any] = {"spec": {"replicas": replicas}}
    if rv:
        patch["metadata"] = {"resourceVersion": rv}
    updated, _ = await api.patch(
        rt,
        entry.namespace,
        entry.name,
        "application/merge-patch+json",
        json.dumps(patch).encode(),
        "",
        opts,
    )
    return scale_of(updated)
