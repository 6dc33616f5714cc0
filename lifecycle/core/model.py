"""The custom resources and built-in kinds the operator touches.

Role: one table of every kind (group, version, plural, kind, namespaced) that the operator, the
webhook and the evaluator read or write, with module constants (``KEPTN_APP_VERSION``, ``POD``,
``JOB`` ...) and a lookup by kind. The typed views of their bodies are in lifecycle.core.bodies.

Invariants: the table matches ``deploy/crds/*.yaml`` (tests/unit/test_crds.py checks it); kinds
are unique.

Must not: do I/O (schema loading lives in ``lifecycle.admission.schemas``), import anything beyond the
standard library, or hold behaviour beyond building an ownerReference from the table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "ALL_KINDS",
    "ANALYSIS",
    "ANALYSIS_DEFINITION",
    "ANALYSIS_VALUE_TEMPLATE",
    "ARGO_ROLLOUT",
    "CONFIG_MAP",
    "CRD_KINDS",
    "DAEMON_SET",
    "DEPLOYMENT",
    "EVENT",
    "JOB",
    "KEPTN_APP",
    "KEPTN_APP_CONTEXT",
    "KEPTN_APP_CREATION_REQUEST",
    "KEPTN_APP_VERSION",
    "KEPTN_CONFIG",
    "KEPTN_EVALUATION",
    "KEPTN_EVALUATION_DEFINITION",
    "KEPTN_METRIC",
    "KEPTN_METRICS_PROVIDER",
    "KEPTN_TASK",
    "KEPTN_TASK_DEFINITION",
    "KEPTN_WORKLOAD",
    "KEPTN_WORKLOAD_VERSION",
    "LEASE",
    "LIFECYCLE_GROUP",
    "METRICS_GROUP",
    "NAMESPACE",
    "OPTIONS_GROUP",
    "POD",
    "REPLICA_SET",
    "SECRET",
    "STATEFUL_SET",
    "ResourceKind",
    "kind_by_api_version",
    "kind_named",
    "owner_reference",
]

LIFECYCLE_GROUP: Final = "lifecycle.keptn.sh"
METRICS_GROUP: Final = "metrics.keptn.sh"
OPTIONS_GROUP: Final = "options.keptn.sh"


@dataclass(frozen=True, slots=True)
class ResourceKind:
    """Where a kind lives in the API: enough to build every URL and ``apiVersion`` for it."""

    group: str  # "" for the core API group
    version: str
    plural: str
    kind: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        """``apiVersion`` as written in a body: ``v1`` for core, ``<group>/<version>`` otherwise."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def is_custom(self) -> bool:
        """True for the Keptn CRDs (served from deploy/crds), False for built-in kinds."""
        return self.group in (LIFECYCLE_GROUP, METRICS_GROUP, OPTIONS_GROUP)


def _lc(plural: str, kind: str) -> ResourceKind:
    return ResourceKind(LIFECYCLE_GROUP, "v1", plural, kind)


def _mt(plural: str, kind: str) -> ResourceKind:
    return ResourceKind(METRICS_GROUP, "v1", plural, kind)


KEPTN_APP: Final = _lc("keptnapps", "KeptnApp")
KEPTN_APP_CONTEXT: Final = _lc("keptnappcontexts", "KeptnAppContext")
KEPTN_APP_VERSION: Final = _lc("keptnappversions", "KeptnAppVersion")
KEPTN_WORKLOAD: Final = _lc("keptnworkloads", "KeptnWorkload")
KEPTN_WORKLOAD_VERSION: Final = _lc("keptnworkloadversions", "KeptnWorkloadVersion")
KEPTN_TASK_DEFINITION: Final = _lc("keptntaskdefinitions", "KeptnTaskDefinition")
KEPTN_TASK: Final = _lc("keptntasks", "KeptnTask")
KEPTN_EVALUATION_DEFINITION: Final = _lc("keptnevaluationdefinitions", "KeptnEvaluationDefinition")
KEPTN_EVALUATION: Final = _lc("keptnevaluations", "KeptnEvaluation")
KEPTN_APP_CREATION_REQUEST: Final = _lc("keptnappcreationrequests", "KeptnAppCreationRequest")
KEPTN_METRICS_PROVIDER: Final = _mt("keptnmetricsproviders", "KeptnMetricsProvider")
KEPTN_METRIC: Final = _mt("keptnmetrics", "KeptnMetric")
ANALYSIS_VALUE_TEMPLATE: Final = _mt("analysisvaluetemplates", "AnalysisValueTemplate")
ANALYSIS_DEFINITION: Final = _mt("analysisdefinitions", "AnalysisDefinition")
ANALYSIS: Final = _mt("analyses", "Analysis")
KEPTN_CONFIG: Final = ResourceKind(OPTIONS_GROUP, "v1alpha1", "keptnconfigs", "KeptnConfig")

POD: Final = ResourceKind("", "v1", "pods", "Pod")
CONFIG_MAP: Final = ResourceKind("", "v1", "configmaps", "ConfigMap")
SECRET: Final = ResourceKind("", "v1", "secrets", "Secret")
EVENT: Final = ResourceKind("", "v1", "events", "Event")
NAMESPACE: Final = ResourceKind("", "v1", "namespaces", "Namespace", namespaced=False)
REPLICA_SET: Final = ResourceKind("apps", "v1", "replicasets", "ReplicaSet")
DEPLOYMENT: Final = ResourceKind("apps", "v1", "deployments", "Deployment")
STATEFUL_SET: Final = ResourceKind("apps", "v1", "statefulsets", "StatefulSet")
DAEMON_SET: Final = ResourceKind("apps", "v1", "daemonsets", "DaemonSet")
JOB: Final = ResourceKind("batch", "v1", "jobs", "Job")
LEASE: Final = ResourceKind("coordination.k8s.io", "v1", "leases", "Lease")
# The webhook follows a ReplicaSet up to an Argo Rollout as KLT does (keptn.md §8.3).
ARGO_ROLLOUT: Final = ResourceKind("argoproj.io", "v1alpha1", "rollouts", "Rollout")

CRD_KINDS: Final[tuple[ResourceKind, ...]] = (
    KEPTN_APP,
    KEPTN_APP_CONTEXT,
    KEPTN_APP_VERSION,
    KEPTN_WORKLOAD,
    KEPTN_WORKLOAD_VERSION,
    KEPTN_TASK_DEFINITION,
    KEPTN_TASK,
    KEPTN_EVALUATION_DEFINITION,
    KEPTN_EVALUATION,
    KEPTN_APP_CREATION_REQUEST,
    KEPTN_METRICS_PROVIDER,
    KEPTN_METRIC,
    ANALYSIS_VALUE_TEMPLATE,
    ANALYSIS_DEFINITION,
    ANALYSIS,
    KEPTN_CONFIG,
)

ALL_KINDS: Final[tuple[ResourceKind, ...]] = (
    *CRD_KINDS,
    POD,
    CONFIG_MAP,
    SECRET,
    EVENT,
    NAMESPACE,
    REPLICA_SET,
    DEPLOYMENT,
    STATEFUL_SET,
    DAEMON_SET,
    JOB,
    LEASE,
    ARGO_ROLLOUT,
)

_BY_KIND: Final[dict[str, ResourceKind]] = {k.kind: k for k in ALL_KINDS}
_BY_API_VERSION: Final[dict[tuple[str, str], ResourceKind]] = {
    (k.api_version, k.kind): k for k in ALL_KINDS
}


def kind_named(kind: str) -> ResourceKind:
    """The ResourceKind for a kind name such as ``"KeptnTask"``; KeyError if unknown."""
    return _BY_KIND[kind]


def kind_by_api_version(api_version: str, kind: str) -> ResourceKind | None:
    """The ResourceKind for a body's ``apiVersion`` and ``kind``, or None if we do not know it."""
    return _BY_API_VERSION.get((api_version, kind))


def owner_reference(
    obj: Mapping[str, Any], kind: ResourceKind | None = None, *, controller: bool | None = True
) -> dict[str, Any]:
    """An ownerReference to ``obj`` (apiVersion/kind from ``kind`` when given, else the body's).

    ``controller=True`` makes it the controlling owner (the garbage collector and ``owner_keys``
    follow it) with ``blockOwnerDeletion``; ``controller=None`` writes a plain reference (an
    object shared by several owners, or a pod owner's reference restated).
    """
    meta = obj.get("metadata") or {}
    ref: dict[str, Any] = {
        "apiVersion": kind.api_version if kind else obj.get("apiVersion", ""),
        "kind": kind.kind if kind else obj.get("kind", ""),
        "name": meta.get("name", ""),
        "uid": meta.get("uid", ""),
    }
    if controller is not None:
        ref["controller"] = controller
        ref["blockOwnerDeletion"] = True
    return ref
