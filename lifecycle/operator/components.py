"""What one operator runs: KLT's event components, the controller modules, the informers.

Role: `COMPONENTS` names an EventRecorder per KLT event source, `CONTROLLER_MODULES` the modules
whose `setup(ctx)` the composition root calls in order, and `build_informers` one Informer per
kind of `lifecycle.flow.context.KINDS` (scoped to the watched namespace, except the kinds read
across namespaces) plus Argo Rollouts when the cluster serves them.
"""

from __future__ import annotations

from lifecycle.core import model
from lifecycle.flow.context import INDEXES, KINDS
from lifecycle.kube.client import KubeClient
from lifecycle.kube.informer import Informer
from lifecycle.operator.cachefields import cache_transform

__all__ = ["COMPONENTS", "CONTROLLER_MODULES", "build_informers"]

COMPONENTS = (
    "keptnappversion-controller",
    "keptnworkloadversion-controller",
    "keptnapp-controller",
    "keptnworkload-controller",
    "keptntask-controller",
    "keptntaskdefinition-controller",
    "keptnevaluation-controller",
    "keptn/webhook",
)
"""KLT's event source components; a recorder for any other name is made on first use."""

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
    for kind in KINDS:
        scoped = kind.namespaced and kind not in _CLUSTER_WIDE
        informers[kind] = Informer(
            client,
            kind,
            namespace=watch_namespace if scoped else None,
            indexes=dict(INDEXES.get(kind, {})),
            transform=cache_transform(kind),
        )
    if rollouts:
        informers[model.ARGO_ROLLOUT] = Informer(
            client,
            model.ARGO_ROLLOUT,
            namespace=watch_namespace,
            transform=cache_transform(model.ARGO_ROLLOUT),
        )
    return informers
