"""PURE Argo Rollouts simulation: a Rollout rolls out like a Deployment, with Argo's status.

What is simulated (enough for KLT's health check, `status.phase == Healthy` and
`status.replicas == status.updatedReplicas`): a Rollout (argoproj.io/v1alpha1) owns one
ReplicaSet per pod-template hash, created and scaled exactly as a Deployment's
(rollout.deployment_plan: the new ReplicaSet at full size at once, old ones scaled down as new
pods become available); its status carries replicas, updatedReplicas, readyReplicas,
availableReplicas, currentPodHash, stableRS (once healthy), selector and HPAReplicas,
observedGeneration (a string, as Argo writes it), conditions, and `phase`: `Healthy` when every
desired pod is updated and available, else `Progressing` with a message. Not simulated: canary
steps, pauses, analysis runs, traffic routing, blue-green preview services, aborts: every
strategy behaves as a canary without steps. `spec.paused: true` (Argo's manual pause, lifted
by `kubectl argo rollouts promote` or by patching it to false) keeps `phase: Paused` while the
pods still run, so a paused Rollout is never Healthy.
"""

from __future__ import annotations

from typing import Any

from sandbox.node.rollout import DeploymentPlan, deployment_plan, replicas_of, template_hash

__all__ = ["rollout_plan"]

Body = dict[str, Any]


def rollout_plan(rollout: Body, rss: list[Body], now: float) -> DeploymentPlan:
    """The ReplicaSet to create, the scaling, and the Rollout's Argo-shaped status."""
    spec = dict(rollout.get("spec") or {})
    spec.pop("strategy", None)  # canary / blueGreen: rolled out as a Deployment's RollingUpdate
    plan = deployment_plan({**rollout, "spec": spec}, rss, now)
    status = dict(plan.status)
    want = replicas_of(rollout)
    new_hash = template_hash(spec.get("template") or {})  # as deployment_plan names it
    healthy = (
        status.get("updatedReplicas") == want
        and status.get("availableReplicas", 0) >= want
        and status.get("replicas") == want
    )
    if spec.get("paused"):
        phase, message, healthy = "Paused", "manually paused", False
    elif healthy:
        phase, message = "Healthy", ""
    else:
        phase, message = "Progressing", "more replicas need to be updated or available"
    labels = (spec.get("selector") or {}).get("matchLabels") or {}
    status |= {
        "observedGeneration": str((rollout.get("metadata") or {}).get("generation", 1)),
        "currentPodHash": new_hash,
        "selector": ",".join(f"{k}={v}" for k, v in sorted(labels.items())),
        "HPAReplicas": status.get("replicas", 0),
        "phase": phase,
        "message": message,
    }
    if healthy:
        status["stableRS"] = new_hash
    elif (rollout.get("status") or {}).get("stableRS"):
        status["stableRS"] = rollout["status"]["stableRS"]
    return DeploymentPlan(create=plan.create, scale=plan.scale, status=status)
