"""The custom resources and built-in kinds the operator touches.

Role: one table of every kind (group, version, plural, kind, namespaced) that the operator, the
webhook and the evaluator read or write, with module constants (``KEPTN_APP_VERSION``, ``POD``,
``JOB`` ...) and a lookup by kind. Each kind carries the type of its body (lifecycle.core.bodies):
``KEPTN_TASK: ResourceKind[KeptnTaskBody]``, so a cache or a lookup keyed by it is typed.

Invariants: the table matches ``deploy/crds/*.yaml`` (tests/core/test_crds.py checks it); kinds
are unique.

Must not: do I/O (schema loading lives in ``lifecycle.admission.schemas``), import anything beyond the
standard library, or hold behaviour beyond building an ownerReference from the table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Generic, cast

from typing_extensions import TypeVar

from lifecycle.core import bodies as b
from lifecycle.core import kubebodies as k
from lifecycle.core.meta import metadata_of

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
    "owner_reference",
]

LIFECYCLE_GROUP: Final = "lifecycle.keptn.sh"
METRICS_GROUP: Final = "metrics.keptn.sh"
OPTIONS_GROUP: Final = "options.keptn.sh"


BodyT = TypeVar("BodyT", covariant=True, default=Mapping[str, object])


@dataclass(frozen=True, slots=True)
class ResourceKind(Generic[BodyT]):
    """Where a kind lives in the API: enough to build every URL and ``apiVersion`` for it.

    ``BodyT`` is the type of its bodies, only for the type checker: a ``ResourceKind[KeptnTaskBody]``
    is a ``ResourceKind`` (of ``Mapping[str, object]`` bodies) wherever the body type does not matter.
    """

    group: str  # "" for the core API group
    version: str
    plural: str
    kind: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        """``apiVersion`` as written in a body: ``v1`` for core, ``<group>/<version>`` otherwise."""
        return f"{self.group}/{self.version}" if self.group else self.version

    def view(self, body: Mapping[str, object]) -> BodyT:
        """``body`` (a raw object of this kind from the API or a cache) typed as this kind's body."""
        return cast(BodyT, body)


_B = TypeVar("_B")


def _kind(
    group: str, kind: str, body: type[_B], version: str = "v1", namespaced: bool = True
) -> ResourceKind[_B]:
    """A kind whose plural is its lower-cased name plus "s" (all but Analysis: ``analyses``)."""
    plural = "analyses" if kind == "Analysis" else f"{kind.lower()}s"
    return ResourceKind(group, version, plural, kind, namespaced)


_LC, _MT, _KUBE = LIFECYCLE_GROUP, METRICS_GROUP, b.KubeBody
KEPTN_APP: Final = _kind(_LC, "KeptnApp", b.KeptnAppBody)
KEPTN_APP_CONTEXT: Final = _kind(_LC, "KeptnAppContext", b.KeptnAppContextBody)
KEPTN_APP_VERSION: Final = _kind(_LC, "KeptnAppVersion", b.KeptnAppVersionBody)
KEPTN_WORKLOAD: Final = _kind(_LC, "KeptnWorkload", b.KeptnWorkloadBody)
KEPTN_WORKLOAD_VERSION: Final = _kind(_LC, "KeptnWorkloadVersion", b.KeptnWorkloadVersionBody)
KEPTN_TASK_DEFINITION: Final = _kind(_LC, "KeptnTaskDefinition", b.KeptnTaskDefinitionBody)
KEPTN_TASK: Final = _kind(_LC, "KeptnTask", b.KeptnTaskBody)
KEPTN_EVALUATION_DEFINITION: Final = _kind(
    _LC, "KeptnEvaluationDefinition", b.KeptnEvaluationDefinitionBody
)
KEPTN_EVALUATION: Final = _kind(_LC, "KeptnEvaluation", b.KeptnEvaluationBody)
KEPTN_APP_CREATION_REQUEST: Final = _kind(
    _LC, "KeptnAppCreationRequest", b.KeptnAppCreationRequestBody
)
KEPTN_METRICS_PROVIDER: Final = _kind(_MT, "KeptnMetricsProvider", b.KeptnMetricsProviderBody)
KEPTN_METRIC: Final = _kind(_MT, "KeptnMetric", b.KeptnMetricBody)
ANALYSIS_VALUE_TEMPLATE: Final = _kind(_MT, "AnalysisValueTemplate", b.AnalysisValueTemplateBody)
ANALYSIS_DEFINITION: Final = _kind(_MT, "AnalysisDefinition", b.AnalysisDefinitionBody)
ANALYSIS: Final = _kind(_MT, "Analysis", b.AnalysisBody)
KEPTN_CONFIG: Final = _kind(OPTIONS_GROUP, "KeptnConfig", b.KeptnConfigBody, "v1alpha1")

POD: Final = _kind("", "Pod", k.PodBody)
CONFIG_MAP: Final = _kind("", "ConfigMap", k.ConfigMapBody)
SECRET: Final = _kind("", "Secret", k.SecretBody)
EVENT: Final = _kind("", "Event", k.EventBody)
NAMESPACE: Final = _kind("", "Namespace", _KUBE, namespaced=False)
REPLICA_SET: Final = _kind("apps", "ReplicaSet", _KUBE)
DEPLOYMENT: Final = _kind("apps", "Deployment", _KUBE)
STATEFUL_SET: Final = _kind("apps", "StatefulSet", _KUBE)
DAEMON_SET: Final = _kind("apps", "DaemonSet", _KUBE)
JOB: Final = _kind("batch", "Job", b.JobBody)
LEASE: Final = _kind("coordination.k8s.io", "Lease", _KUBE)
# The webhook follows a ReplicaSet up to an Argo Rollout as KLT does (keptn.md §8.3).
ARGO_ROLLOUT: Final = _kind("argoproj.io", "Rollout", _KUBE, "v1alpha1")

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

_BY_API_VERSION: Final[dict[tuple[str, str], ResourceKind]] = {
    (k.api_version, k.kind): k for k in ALL_KINDS
}


def kind_by_api_version(api_version: str, kind: str) -> ResourceKind | None:
    """The ResourceKind for a body's ``apiVersion`` and ``kind``, or None if we do not know it."""
    return _BY_API_VERSION.get((api_version, kind))


def owner_reference(
    obj: k.AnyBody, kind: ResourceKind | None = None, *, controller: bool | None = True
) -> b.OwnerReference:
    """An ownerReference to ``obj`` (apiVersion/kind from ``kind`` when given, else the body's).

    ``controller=True`` makes it the controlling owner (the garbage collector and ``owner_keys``
    follow it) with ``blockOwnerDeletion``; ``controller=None`` writes a plain reference (an
    object shared by several owners, or a pod owner's reference restated).
    """
    meta = metadata_of(obj)
    ref: b.OwnerReference = {
        "apiVersion": kind.api_version if kind else obj.get("apiVersion") or "",
        "kind": kind.kind if kind else obj.get("kind") or "",
        "name": meta.get("name", ""),
        "uid": meta.get("uid", ""),
    }
    if controller is not None:
        ref["controller"] = controller
        ref["blockOwnerDeletion"] = True
    return ref
