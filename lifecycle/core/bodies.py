"""Typed views of the KLT bodies (spec and status of each CRD) at the Kubernetes boundary.

Role: one ``TypedDict`` per spec and status of the kinds in lifecycle.core.model, and the generic
whole body ``Body[Spec, Status]`` with one alias per kind (``KeptnAppVersionBody`` ...), which
lifecycle.core.model attaches to each kind so that the caches hand out typed bodies.

Invariants: keys are the exact JSON field names of the CRDs (camelCase, including KeptnConfig's
odd ``OTelCollectorUrl``), checked against deploy/crds by tests/core/test_crds.py. All TypedDicts
are ``total=False``: the API server may omit anything that has no default, and readers must say
what they do when a field is missing.

The AnalysisDefinition objective (target, operators) and the KeptnMetric range are
evaluator.bodies' (the evaluator parses them; it never imports lifecycle): declared once, there.

Must not: do I/O, import anything beyond the standard library and evaluator.bodies, or hold
behaviour; data only.
"""

from __future__ import annotations

from typing import Any, Generic, Literal, TypedDict, TypeVar

from evaluator.bodies import MetricRangeBody, ObjectiveBody

KeptnState = Literal[
    "Pending", "Progressing", "Succeeded", "Failed", "Unknown", "Deprecated", "Warning"
]
CheckType = Literal["pre", "post", "promotion", "pre-eval", "post-eval"]


class OwnerReference(TypedDict, total=False):
    apiVersion: str
    kind: str
    name: str
    uid: str
    controller: bool
    blockOwnerDeletion: bool


class ObjectMeta(TypedDict, total=False):
    name: str
    namespace: str
    uid: str
    resourceVersion: str
    generation: int
    creationTimestamp: str
    deletionTimestamp: str
    labels: dict[str, str]
    annotations: dict[str, str]
    ownerReferences: list[OwnerReference]
    finalizers: list[str]


class _Times(TypedDict, total=False):
    startTime: str
    endTime: str


class ItemStatus(_Times, total=False):
    definitionName: str
    name: str
    status: KeptnState


class _ChildDefinitions(TypedDict, total=False):  # what a version runs in its phases
    preDeploymentTasks: list[str]
    postDeploymentTasks: list[str]
    preDeploymentEvaluations: list[str]
    postDeploymentEvaluations: list[str]


class DeploymentTaskSpec(_ChildDefinitions, total=False):
    promotionTasks: list[str]


class WorkloadRef(TypedDict):
    name: str
    version: str


class KeptnAppSpec(TypedDict, total=False):
    version: str
    revision: int
    workloads: list[WorkloadRef]


class Condition(TypedDict, total=False):  # a standard condition (core.conditions writes them)
    type: str
    status: Literal["True", "False", "Unknown"]
    reason: str
    message: str
    observedGeneration: int
    lastTransitionTime: str


class KeptnAppStatus(TypedDict, total=False):  # KeptnWorkload's status too
    currentVersion: str
    conditions: list[Condition]


KeptnWorkloadStatus = KeptnAppStatus


class KeptnAppContextSpec(DeploymentTaskSpec, total=False):
    metadata: dict[str, str]
    spanLinks: list[str]


class KeptnAppVersionSpec(KeptnAppContextSpec, KeptnAppSpec, total=False):
    appName: str
    previousVersion: str
    traceId: dict[str, str]


class WorkloadStatus(TypedDict, total=False):
    workload: WorkloadRef
    status: KeptnState


class _PhaseStatus(_Times, total=False):  # shared by KeptnAppVersion and KeptnWorkloadVersion
    conditions: list[Condition]
    preDeploymentStatus: KeptnState
    preDeploymentEvaluationStatus: KeptnState
    postDeploymentStatus: KeptnState
    postDeploymentEvaluationStatus: KeptnState
    status: KeptnState
    preDeploymentTaskStatus: list[ItemStatus]
    postDeploymentTaskStatus: list[ItemStatus]
    preDeploymentEvaluationTaskStatus: list[ItemStatus]
    postDeploymentEvaluationTaskStatus: list[ItemStatus]
    currentPhase: str
    phaseTraceIDs: dict[str, dict[str, str]]


class KeptnAppVersionStatus(_PhaseStatus, total=False):
    workloadOverallStatus: KeptnState
    workloadStatus: list[WorkloadStatus]
    promotionStatus: KeptnState
    promotionTaskStatus: list[ItemStatus]


class ResourceReference(TypedDict):
    uid: str
    kind: str
    name: str


class KeptnWorkloadSpec(_ChildDefinitions, total=False):
    app: str
    version: str
    resourceReference: ResourceReference
    metadata: dict[str, str]


class KeptnWorkloadVersionSpec(KeptnWorkloadSpec, total=False):
    workloadName: str
    previousVersion: str
    traceId: dict[str, str]


class KeptnWorkloadVersionStatus(_PhaseStatus, total=False):
    deploymentStatus: KeptnState
    appContextMetadata: dict[str, str]
    deploymentStartTime: str


class RuntimeSpec(TypedDict, total=False):  # spec.deno / spec.python of a KeptnTaskDefinition
    inline: dict[str, str]  # {"code": ...}
    httpRef: dict[str, str]  # {"url": ...}
    configMapRef: dict[str, str]  # {"name": ...}
    functionRef: dict[str, str]  # {"name": <another KeptnTaskDefinition>}
    parameters: dict[str, dict[str, str]]  # {"map": {...}}
    secureParameters: dict[str, str]  # {"secret": <Secret name>}
    cmdParameters: str


class KeptnTaskDefinitionSpec(TypedDict, total=False):
    deno: RuntimeSpec
    python: RuntimeSpec
    container: dict[str, object]  # a corev1.Container
    retries: int
    timeout: str
    ttlSecondsAfterFinished: int
    serviceAccount: dict[str, str]
    automountServiceAccountToken: dict[str, bool]
    imagePullSecrets: list[dict[str, str]]


class KeptnTaskDefinitionStatus(TypedDict, total=False):
    conditions: list[Condition]
    function: dict[str, str]  # {"configMap": <the keptnfn- ConfigMap holding inline code>}


class TaskContext(TypedDict, total=False):
    workloadName: str
    appName: str
    appVersion: str
    workloadVersion: str
    taskType: str
    objectType: Literal["App", "Workload"]
    metadata: dict[str, str]


class KeptnTaskSpec(TypedDict, total=False):
    taskDefinition: str
    context: TaskContext
    parameters: dict[str, dict[str, str]]
    secureParameters: dict[str, str]
    checkType: str
    retries: int
    timeout: str


class KeptnTaskStatus(_Times, total=False):
    conditions: list[Condition]
    jobName: str
    status: KeptnState
    message: str
    reason: str


class _EvaluationObjective(TypedDict, total=False):
    keptnMetricRef: dict[str, str]  # {"name", "namespace"?}
    evaluationTarget: str


class KeptnEvaluationDefinitionSpec(TypedDict, total=False):
    objectives: list[_EvaluationObjective]
    retries: int
    retryInterval: str


class KeptnEvaluationSpec(TypedDict, total=False):
    workload: str
    workloadVersion: str
    appName: str
    appVersion: str
    evaluationDefinition: str
    checkType: str
    retries: int
    retryInterval: str
    failAction: str  # unused; accepted for compatibility with KLT v1alpha1/2


class EvaluationStatusItem(TypedDict, total=False):
    value: str
    status: KeptnState
    message: str
    target: str


class KeptnEvaluationStatus(_Times, total=False):
    conditions: list[Condition]
    retryCount: int
    evaluationStatus: dict[str, EvaluationStatusItem]
    overallStatus: KeptnState
    message: str


class KeptnConfigSpec(TypedDict, total=False):
    OTelCollectorUrl: str
    keptnAppCreationRequestTimeoutSeconds: int
    cloudEventsEndpoint: str
    blockDeployment: bool
    observabilityTimeout: str
    restApiEnabled: bool
    definitionWaitSeconds: int  # our extension: bounded wait for a missing definition


class KeptnMetricsProviderSpec(TypedDict, total=False):
    type: str
    targetServer: str
    secretKeyRef: dict[str, object]  # corev1.SecretKeySelector {name, key, optional}
    insecureSkipTlsVerify: bool


class KeptnMetricSpec(TypedDict, total=False):
    provider: dict[str, str]
    query: str
    fetchIntervalSeconds: int
    range: MetricRangeBody


class KeptnMetricStatus(TypedDict, total=False):
    conditions: list[Condition]
    value: str
    rawValue: str  # base64 of bytes
    lastUpdated: str
    errMsg: str
    intervalResults: list[dict[str, object]]


class AnalysisValueTemplateSpec(TypedDict, total=False):
    provider: dict[str, str]
    query: str


class AnalysisDefinitionSpec(TypedDict, total=False):
    objectives: list[ObjectiveBody]
    totalScore: dict[str, int]  # {"passPercentage", "warningPercentage"}


class AnalysisSpec(TypedDict, total=False):
    timeframe: dict[str, str]  # {"from", "to"} or {"recent"}
    args: dict[str, str]
    analysisDefinition: dict[str, str]


# Functional form because the JSON key "pass" is a Python keyword.
AnalysisStatus = TypedDict(
    "AnalysisStatus",
    {
        "timeframe": dict[str, str],
        "raw": str,
        "pass": bool,
        "warning": bool,
        "state": Literal["Pending", "Progressing", "Completed"],
        "message": str,
        "storedValues": dict[str, dict[str, object]],
        "conditions": list[Condition],
    },
    total=False,
)


class JobStatus(TypedDict, total=False):  # batch/v1: what the task controller reads of a Job
    conditions: list[Condition]


SpecT = TypeVar("SpecT")
StatusT = TypeVar("StatusT")
JSON = dict[str, Any]  # the one alias for free-form JSON (untyped spec/status, merge patches ...)


class Body(TypedDict, Generic[SpecT, StatusT], total=False):
    """A whole object as the API server serves it."""

    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: SpecT
    status: StatusT


KeptnAppBody = Body[KeptnAppSpec, KeptnAppStatus]
KeptnAppContextBody = Body[KeptnAppContextSpec, JSON]
KeptnAppVersionBody = Body[KeptnAppVersionSpec, KeptnAppVersionStatus]
KeptnWorkloadBody = Body[KeptnWorkloadSpec, KeptnWorkloadStatus]
KeptnWorkloadVersionBody = Body[KeptnWorkloadVersionSpec, KeptnWorkloadVersionStatus]
KeptnTaskDefinitionBody = Body[KeptnTaskDefinitionSpec, KeptnTaskDefinitionStatus]
KeptnTaskBody = Body[KeptnTaskSpec, KeptnTaskStatus]
KeptnEvaluationDefinitionBody = Body[KeptnEvaluationDefinitionSpec, JSON]
KeptnEvaluationBody = Body[KeptnEvaluationSpec, KeptnEvaluationStatus]
KeptnConfigBody = Body[KeptnConfigSpec, JSON]
KeptnMetricsProviderBody = Body[KeptnMetricsProviderSpec, JSON]
KeptnMetricBody = Body[KeptnMetricSpec, KeptnMetricStatus]
AnalysisValueTemplateBody = Body[AnalysisValueTemplateSpec, JSON]
AnalysisDefinitionBody = Body[AnalysisDefinitionSpec, JSON]
AnalysisBody = Body[AnalysisSpec, AnalysisStatus]
KeptnAppCreationRequestBody = Body[dict[str, str], JSON]  # spec: {"appName"}
JobBody = Body[JSON, JobStatus]
KubeBody = Body[JSON, JSON]  # a built-in kind (Pod, ReplicaSet ...): typed metadata only
