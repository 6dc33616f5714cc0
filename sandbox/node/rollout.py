"""PURE rollout logic of the workload controllers: what to create, delete, scale, and the status.

Deployment -> ReplicaSets -> Pods, StatefulSet -> Pods, DaemonSet -> Pod, with the status
counters the real controllers keep. No I/O, no clock (``now`` is passed in). Simplifications,
on purpose: a Deployment's RollingUpdate surges the whole new ReplicaSet at once and scales the
old ones down as new pods become available (maxSurge 100%); StatefulSet pods start in parallel
and are replaced one at a time from the highest ordinal; one node, so a DaemonSet has one pod.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from sandbox.node.pods import bound_node, is_active, is_ready, is_terminating, owner_ref, timestamp

__all__ = [
    "HASH_LABEL",
    "REVISION_LABEL",
    "DeploymentPlan",
    "PodPlan",
    "daemonset_plan",
    "deployment_plan",
    "merge_conditions",
    "replicas_of",
    "replicaset_plan",
    "statefulset_plan",
    "status_patch",
    "template_hash",
]

Body = dict[str, Any]

HASH_LABEL = "pod-template-hash"
REVISION_LABEL = "controller-revision-hash"
_REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
_SAFE = "bcdfghjklmnpqrstvwxz2456789"


def template_hash(template: Body) -> str:
    """A stable short hash of a pod template (order of keys does not matter)."""
    meta = template.get("metadata") or {}
    if "labels" in meta:  # without its own label, copying only what changes
        labels = {k: v for k, v in meta["labels"].items() if k != HASH_LABEL}
        template = {**template, "metadata": {**meta, "labels": labels}}
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).digest()
    n = int.from_bytes(digest[:8], "big")
    out = []
    for _ in range(10):
        n, r = divmod(n, len(_SAFE))
        out.append(_SAFE[r])
    return "".join(out)


def replicas_of(obj: Body) -> int:
    """spec.replicas, defaulting to 1 like the API server."""
    value = obj.get("spec", {}).get("replicas")
    return 1 if value is None else int(value)


def status_patch(old: Body, new: Body) -> Body | None:
    """Merge patch turning status ``old`` into ``new`` (top-level keys), None when equal."""
    patch: Body = {k: v for k, v in new.items() if old.get(k) != v}
    patch.update({k: None for k in old if k not in new})
    return patch or None


def merge_conditions(old: list[Body], new: list[Body], now: float) -> list[Body]:
    """New conditions, keeping an old one's timestamps when its status is unchanged."""
    by_type = {c.get("type"): c for c in old}
    out = []
    for cond in new:
        prev = by_type.get(cond["type"])
        if prev is not None and prev.get("status") == cond["status"]:
            same = all(prev.get(k) == cond.get(k) for k in ("reason", "message"))
            cond = {**cond, "lastTransitionTime": prev.get("lastTransitionTime", timestamp(now))}
            if same and "lastUpdateTime" in prev:
                cond["lastUpdateTime"] = prev["lastUpdateTime"]
        out.append(cond)
    return out


def _cond(kind: str, ok: bool, reason: str, message: str, now: float) -> Body:
    cond: Body = {"type": kind, "status": "True" if ok else "False", "reason": reason}
    cond["message"] = message
    cond["lastTransitionTime"] = cond["lastUpdateTime"] = timestamp(now)
    return cond


def _scaled(value: object, total: int, default: str) -> int:
    """An int-or-percent (maxUnavailable) against ``total``, percent rounded down."""
    raw = default if value is None else value
    if isinstance(raw, str) and raw.endswith("%"):
        return total * int(raw[:-1]) // 100
    return int(str(raw))


@dataclass(frozen=True, slots=True)
class PodPlan:
    """Pods to create and delete, and the status the owner should show."""

    create: tuple[str, ...] = ()
    """Names (or, for ReplicaSets/Jobs/DaemonSets, placeholders: one entry per pod)."""
    delete: tuple[str, ...] = ()
    status: Body = field(default_factory=dict)


def replicaset_plan(rs: Body, pods: list[Body]) -> PodPlan:
    """Scale a ReplicaSet to spec.replicas; status replicas/ready/available/fullyLabeled."""
    want = replicas_of(rs)
    live = [p for p in pods if is_active(p)]
    # Keep the most useful: ready before unready (gated, starting), then the oldest; so the
    # pods deleted are the unready ones, then the newest, as the real controller picks them.
    live.sort(
        key=lambda p: (
            not is_ready(p),
            not bound_node(p),
            p["metadata"].get("creationTimestamp", ""),
            p["metadata"].get("name", ""),
        )
    )
    delete = tuple(p["metadata"]["name"] for p in live[want:])
    create = ("",) * (want - len(live))  # empty unless positive
    kept = live[:want]
    labels = (rs.get("spec", {}).get("template", {}).get("metadata") or {}).get("labels") or {}
    full = sum(
        1
        for p in kept
        if all(p["metadata"].get("labels", {}).get(k) == v for k, v in labels.items())
    )
    ready = sum(1 for p in kept if is_ready(p))
    status = {
        "replicas": len(kept),
        "fullyLabeledReplicas": full,
        "readyReplicas": ready,
        "availableReplicas": ready,
        "observedGeneration": rs.get("metadata", {}).get("generation", 1),
    }
    return PodPlan(create=create, delete=delete, status=status)


@dataclass(frozen=True, slots=True)
class DeploymentPlan:
    """A new ReplicaSet to create (or None), replica counts to set, and the status."""

    create: Body | None
    scale: dict[str, int]
    status: Body


def deployment_plan(dep: Body, rss: list[Body], now: float) -> DeploymentPlan:
    """Roll a Deployment: one ReplicaSet per template hash, old ones scaled down."""
    meta, spec = dep.get("metadata", {}), dep.get("spec", {})
    want = replicas_of(dep)
    template = spec.get("template") or {}
    h = template_hash(template)
    live = [r for r in rss if not is_terminating(r)]
    new = next((r for r in live if r["metadata"].get("labels", {}).get(HASH_LABEL) == h), None)
    old = [r for r in live if r is not new]
    old.sort(key=lambda r: int(r["metadata"].get("annotations", {}).get(_REVISION_ANNOTATION, 0)))
    create: Body | None = None
    recreate = (spec.get("strategy") or {}).get("type") == "Recreate"
    old_pods = sum(int(r.get("status", {}).get("replicas", 0)) for r in old)
    new_want = 0 if recreate and old_pods else want
    scale: dict[str, int] = {}
    if new is None:
        revision = 1 + max(
            (int(r["metadata"].get("annotations", {}).get(_REVISION_ANNOTATION, 0)) for r in rss),
            default=0,
        )
        current = create = _new_replicaset(dep, h, new_want, revision)
    else:
        current = new
        if replicas_of(new) != new_want:
            scale[new["metadata"]["name"]] = new_want
    new_name, new_status = current["metadata"]["name"], current.get("status", {})
    new_available = int(new_status.get("availableReplicas", 0))
    # Old ReplicaSets only ever scale down, newest kept longest, as new pods become available.
    budget = 0 if recreate else max(0, want - new_available)
    for rs in reversed(old):
        keep = min(replicas_of(rs), budget)
        budget -= keep
        if keep != replicas_of(rs):
            scale[rs["metadata"]["name"]] = keep
    all_rs = [*old, current]  # one being created counts as kube's syncRolloutStatus counts it
    total = sum(int(r.get("status", {}).get("replicas", 0)) for r in all_rs)
    ready = sum(int(r.get("status", {}).get("readyReplicas", 0)) for r in all_rs)
    available = sum(int(r.get("status", {}).get("availableReplicas", 0)) for r in all_rs)
    updated = int(new_status.get("replicas", 0))
    rolling = (spec.get("strategy") or {}).get("rollingUpdate") or {}
    min_available = want - (0 if recreate else _scaled(rolling.get("maxUnavailable"), want, "25%"))
    ok = available >= min_available
    done = updated == want and available >= want and total == want
    availability = (
        ("MinimumReplicasAvailable", "Deployment has minimum availability.")
        if ok
        else ("MinimumReplicasUnavailable", "Deployment does not have minimum availability.")
    )
    progressing = (
        ("NewReplicaSetAvailable", f'ReplicaSet "{new_name}" has successfully progressed.')
        if done
        else ("ReplicaSetUpdated", f'ReplicaSet "{new_name}" is progressing.')
    )
    conditions = [
        _cond("Available", ok, *availability, now),
        _cond("Progressing", True, *progressing, now),
    ]
    old_status = dep.get("status") or {}
    status: Body = {
        "observedGeneration": meta.get("generation", 1),
        "replicas": total,
        "updatedReplicas": updated,
        "readyReplicas": ready,
        "availableReplicas": available,
        "conditions": merge_conditions(old_status.get("conditions") or [], conditions, now),
    }
    unavailable = sum(replicas_of(r) for r in all_rs) - available
    if unavailable > 0:
        status["unavailableReplicas"] = unavailable
    return DeploymentPlan(create=create, scale=scale, status=status)


def _new_replicaset(dep: Body, h: str, replicas: int, revision: int) -> Body:
    meta, spec = dep["metadata"], dep.get("spec", {})
    template = copy.deepcopy(spec.get("template") or {})
    tmeta = template.setdefault("metadata", {})
    tmeta.setdefault("labels", {})[HASH_LABEL] = h
    selector = copy.deepcopy(spec.get("selector") or {})
    selector.setdefault("matchLabels", {})[HASH_LABEL] = h
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"{meta['name']}-{h}",
            "namespace": meta.get("namespace", "default"),
            "labels": dict(tmeta["labels"]),
            "annotations": {_REVISION_ANNOTATION: str(revision)},
            "ownerReferences": [
                owner_ref(dep, dep.get("kind", "Deployment"), dep.get("apiVersion", "apps/v1"))
            ],
        },
        "spec": {
            "replicas": replicas,
            "minReadySeconds": spec.get("minReadySeconds", 0),
            "selector": selector,
            "template": template,
        },
    }


def statefulset_plan(sts: Body, pods: list[Body]) -> PodPlan:
    """Pods <name>-0..N-1 at the update revision; replace outdated ones highest ordinal first."""
    meta, spec = sts.get("metadata", {}), sts.get("spec", {})
    name, want = meta.get("name", ""), replicas_of(sts)
    update_rev = f"{name}-{template_hash(spec.get('template') or {})}"
    current_rev = (sts.get("status") or {}).get("currentRevision") or update_rev
    by_name = {p["metadata"]["name"]: p for p in pods}
    wanted = [f"{name}-{i}" for i in range(want)]
    create = tuple(n for n in wanted if n not in by_name)
    delete = [
        n
        for n, p in by_name.items()
        if not is_terminating(p) and (n not in wanted or not is_active(p))
    ]
    live = [by_name[n] for n in wanted if n in by_name and is_active(by_name[n])]
    strategy = spec.get("updateStrategy") or {}
    partition = int((strategy.get("rollingUpdate") or {}).get("partition", 0))

    def ordinal(p: Body) -> int:
        return int(p["metadata"]["name"].rsplit("-", 1)[1])

    def revision(p: Body) -> str:
        return str(p["metadata"].get("labels", {}).get(REVISION_LABEL, ""))

    outdated = [p for p in live if revision(p) != update_rev]
    if (
        strategy.get("type", "RollingUpdate") == "RollingUpdate"
        and not create
        and not delete
        and all(is_ready(p) for p in live)
    ):
        candidates = [p for p in outdated if ordinal(p) >= partition]
        if candidates:
            delete.append(max(candidates, key=ordinal)["metadata"]["name"])
    updated = sum(1 for p in live if revision(p) == update_rev)
    if updated == want and len(live) == want:
        current_rev = update_rev
    ready = sum(1 for p in live if is_ready(p))
    status = {
        "observedGeneration": meta.get("generation", 1),
        "replicas": len(live),
        "readyReplicas": ready,
        "availableReplicas": ready,
        "currentReplicas": sum(1 for p in live if revision(p) == current_rev),
        "updatedReplicas": updated,
        "currentRevision": current_rev,
        "updateRevision": update_rev,
        "collisionCount": 0,
    }
    return PodPlan(create=create, delete=tuple(delete), status=status)


def daemonset_plan(ds: Body, pods: list[Body]) -> PodPlan:
    """One pod on the one node, replaced when the template changes."""
    meta, spec = ds.get("metadata", {}), ds.get("spec", {})
    h = template_hash(spec.get("template") or {})
    live = [p for p in pods if is_active(p)]
    current = [p for p in live if p["metadata"].get("labels", {}).get(REVISION_LABEL) == h]
    keep = current[:1]
    delete = tuple(p["metadata"]["name"] for p in pods if not is_terminating(p) and (p not in keep))
    create: tuple[str, ...] = ("",) if not keep else ()
    ready = 1 if keep and is_ready(keep[0]) else 0
    scheduled = 1 if live else 0
    status = {
        "observedGeneration": meta.get("generation", 1),
        "desiredNumberScheduled": 1,
        "currentNumberScheduled": scheduled,
        "numberMisscheduled": 0,
        "numberReady": ready,
        "numberAvailable": ready,
        "updatedNumberScheduled": len(keep),
    }
    if not ready:
        status["numberUnavailable"] = 1
    return PodPlan(create=create, delete=delete, status=status)
