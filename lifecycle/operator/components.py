"""What one operator runs: the controller modules and the informers.

Role: `CONTROLLER_MODULES` names the modules whose `setup(ctx)` the composition root calls in
order, and `build_informers` one Informer per kind of `lifecycle.flow.context.KINDS` (scoped to
the watched namespace, except the kinds read across namespaces) plus Argo Rollouts when the
cluster serves them.
"""

from __future__ import annotations

from lifecycle.core import model
from lifecycle.flow.context import INDEXES, KINDS
from lifecycle.kube.client import KubeClient
from lifecycle.kube.informer import Informer
from lifecycle.kube.transforms import Shared
from lifecycle.operator.cachefields import cache_transform

__all__ = ["CONTROLLER_MODULES", "build_informers"]

CONTROLLER_MODULES = (
    "lifecycle.controllers.config",
    "lifecycle.controllers.appcreation",
    "lifecycle.controllers.app",
    "lifecycle.controllers.workload",
    "lifecycle.controllers.appversion",
    "lifecycle.controllers.workloadversion",
    "lifecycle.controllers.gate",
    "lifecycle.controllers.adopt",
    "lifecycle.controllers.taskdefinition",
    "lifecycle.controllers.task",
    "lifecycle.controllers.evaluation",
    "lifecycle.controllers.metric",
    "lifecycle.controllers.analysis",
)
"""Modules exposing `setup(ctx) -> Controller[ObjectKey]`, in start order."""

# Kinds read across namespaces even when the operator is scoped to one: definitions and
# metrics may live in the Keptn namespace, and any KeptnConfig counts.
_CLUSTER_WIDE = frozenset(
    {
        model.KEPTN_TASK_DEFINITION,
        model.KEPTN_EVALUATION_DEFINITION,
        model.KEPTN_CONFIG,
        model.KEPTN_METRIC,
        model.KEPTN_METRICS_PROVIDER,
    }
)


def build_informers(
    client: KubeClient, watch_namespace: str | None, *, rollouts: bool
) -> dict[model.ResourceKind, Informer]:
    """One Informer per kind; `rollouts` adds Argo Rollouts (optional, when served)."""
    informers: dict[model.ResourceKind, Informer] = {}
    shared = Shared()  # empty containers and equal conditions, held once across the caches
    for kind in (*KINDS, model.ARGO_ROLLOUT) if rollouts else KINDS:
        scoped = kind.namespaced and kind not in _CLUSTER_WIDE
        informers[kind] = Informer(
            client,
            kind,
            namespace=watch_namespace if scoped else None,
            indexes=dict(INDEXES.get(kind, {})),
            transform=cache_transform(kind, shared),
        )
    return informers
