"""Span attributes for the deployment flow: KLT's ``keptn.deployment.*`` keys plus OTel conventions.

Role: turn the Kubernetes bodies (read through :mod:`tracing.views`) of KeptnAppVersion, KeptnWorkloadVersion, KeptnTask and
KeptnEvaluation into the attribute maps their spans carry. Three families are emitted side by side:

* ``keptn.deployment.*`` -- exactly KLT's keys (reference keptn.md §5), so existing trace queries and
  dashboards keep working;
* OTel ``cicd.*`` and ``deployment.*`` semantic conventions (peers.md §5.4): an AppVersion is a
  ``cicd.pipeline.run``, a task or evaluation a ``cicd.pipeline.task``;
* every key of the app-context metadata (KeptnAppContext ``spec.metadata`` merged with the workload's
  ``keptn.sh/metadata``), copied verbatim as KLT does.

Invariants: pure functions of their inputs (no clock, no I/O); values are always ``str``/``int``/
``float``/``bool``; a missing field yields an empty string rather than a missing key only for KLT's
own keys (KLT always sets them). Must not import ``lifecycle`` (import-linter): bodies are typed
by tracing.views, which lifecycle's typed bodies satisfy.
"""

from __future__ import annotations

from collections.abc import Mapping

from tracing import views

__all__ = [
    "APP_NAME",
    "APP_NAMESPACE",
    "APP_VERSION",
    "EVALUATION_NAME",
    "EVALUATION_TYPE",
    "TASK_NAME",
    "TASK_TYPE",
    "WORKLOAD_NAME",
    "WORKLOAD_NAMESPACE",
    "WORKLOAD_VERSION",
    "AttributeMap",
    "app_version_attributes",
    "context_metadata",
    "evaluation_attributes",
    "pipeline_result",
    "task_attributes",
    "workload_version_attributes",
]

AttributeMap = dict[str, str | int | float | bool]

APP_NAME = "keptn.deployment.app.name"
APP_VERSION = "keptn.deployment.app.version"
APP_NAMESPACE = "keptn.deployment.app.namespace"
WORKLOAD_NAME = "keptn.deployment.workload.name"
WORKLOAD_VERSION = "keptn.deployment.workload.version"
WORKLOAD_NAMESPACE = "keptn.deployment.workload.namespace"
TASK_NAME = "keptn.deployment.task.name"
TASK_TYPE = "keptn.deployment.task.type"
EVALUATION_NAME = "keptn.deployment.evaluation.name"
EVALUATION_TYPE = "keptn.deployment.evaluation.type"

# KeptnState -> cicd.pipeline.result / deployment.status. Warning is a failure the user chose not
# to block on (blockDeployment=false), so it is still reported as a failure to CI/CD tooling.
_PIPELINE_RESULT = {
    "Succeeded": "success",
    "Failed": "failure",
    "Warning": "failure",
    "Deprecated": "cancellation",
}
_DEPLOYMENT_STATUS = {"Succeeded": "succeeded", "Failed": "failed", "Warning": "failed"}


def _str(value: object) -> str:
    return "" if value is None else str(value)


def pipeline_result(state: str | None) -> str | None:
    """The ``cicd.pipeline.result`` value for a KeptnState, or None while it is not final."""
    return _PIPELINE_RESULT.get(state or "")


def context_metadata(*maps: Mapping[str, object] | None) -> AttributeMap:
    """Merge metadata maps (later ones win) into span attributes; ``traceparent`` is no attribute."""
    merged: AttributeMap = {}
    for source in maps:
        for key, value in (source or {}).items():
            if key in ("traceparent", "tracestate", "baggage") or value is None:
                continue
            merged[str(key)] = str(value)
    return merged


def _environment(attrs: AttributeMap, metadata: AttributeMap) -> None:
    # Users put the stage in metadata (KLT's docs use "stage"/"environment"); lift it into the
    # stable OTel key so trace backends can group by environment without knowing Keptn.
    for key in ("deployment.environment.name", "environment", "stage", "env"):
        if key in metadata:
            attrs["deployment.environment.name"] = str(metadata[key])
            return


def _version_attributes(
    body: views.VersionView,
    level: str,
    own: AttributeMap,
    metadata: AttributeMap,
    state: str | None,
    run_id: str,
) -> AttributeMap:
    """An App- or WorkloadVersion's (``level``) span attributes around its KLT keys ``own``."""
    meta, spec = body.get("metadata", {}), body.get("spec", {})
    attrs: AttributeMap = {
        **metadata,
        **own,
        "deployment.name": _str(meta.get("name")),
        "cicd.pipeline.name": own[APP_NAME],
    }
    uid = meta.get("uid")
    if uid:
        attrs["deployment.id"] = str(uid)
    if state in _DEPLOYMENT_STATUS:
        attrs["deployment.status"] = _DEPLOYMENT_STATUS[state or ""]
    result = pipeline_result(state)
    if result is not None:
        attrs["cicd.pipeline.result"] = result
    attrs["service.version"] = _str(spec.get("version"))
    if run_id:
        attrs["cicd.pipeline.run.id"] = run_id
    previous = spec.get("previousVersion")
    if previous:
        attrs[f"keptn.deployment.{level}.previousversion"] = str(previous)
    _environment(attrs, metadata)
    return attrs


def app_version_attributes(
    body: views.AppVersionView, *, state: str | None = None, run_id: str = ""
) -> AttributeMap:
    """Attributes of an AppVersion's root and phase spans."""
    spec = body.get("spec", {})
    own: AttributeMap = {
        APP_NAME: _str(spec.get("appName")),
        APP_VERSION: _str(spec.get("version")),
        APP_NAMESPACE: _str(body.get("metadata", {}).get("namespace")),
    }
    metadata = context_metadata(spec.get("metadata"))
    return _version_attributes(body, "app", own, metadata, state, run_id)


def workload_version_attributes(
    body: views.WorkloadVersionView, *, state: str | None = None, run_id: str = ""
) -> AttributeMap:
    """Attributes of a WorkloadVersion's root and phase spans."""
    spec = body.get("spec", {})
    own: AttributeMap = {
        APP_NAME: _str(spec.get("app")),
        WORKLOAD_NAME: _str(spec.get("workloadName")),
        WORKLOAD_VERSION: _str(spec.get("version")),
        WORKLOAD_NAMESPACE: _str(body.get("metadata", {}).get("namespace")),
    }
    app_context = body.get("status", {}).get("appContextMetadata")
    metadata = context_metadata(app_context, spec.get("metadata"))
    return _version_attributes(body, "workload", own, metadata, state, run_id)


def _child_attributes(
    body: views.ChildView, plural: str, kind: str, state: str | None, own: AttributeMap
) -> AttributeMap:
    """A KeptnTask's or KeptnEvaluation's span attributes around its KLT keys ``own``."""
    meta = body.get("metadata", {})
    name, namespace = _str(meta.get("name")), _str(meta.get("namespace"))
    attrs: AttributeMap = {
        **own,
        "cicd.pipeline.task.name": name,
        "cicd.pipeline.task.run.id": name,
        "cicd.pipeline.task.type": kind,
    }
    result = pipeline_result(state)
    if result is not None:
        attrs["cicd.pipeline.task.run.result"] = result
    attrs["cicd.pipeline.task.run.url.full"] = (
        f"/apis/lifecycle.keptn.sh/v1/namespaces/{namespace}/{plural}/{name}"
    )
    return attrs


def task_attributes(body: views.TaskView) -> AttributeMap:
    """Attributes of a KeptnTask span (KLT keys, cicd.pipeline.task.*, context metadata)."""
    spec = body.get("spec", {})
    context = spec.get("context", {})
    own = context_metadata(context.get("metadata"))
    own.update({
        APP_NAME: _str(context.get("appName")),
        APP_VERSION: _str(context.get("appVersion")),
        WORKLOAD_NAME: _str(context.get("workloadName")),
        WORKLOAD_VERSION: _str(context.get("workloadVersion")),
        TASK_NAME: _str(body.get("metadata", {}).get("name")),
        TASK_TYPE: _str(context.get("taskType") or spec.get("checkType")),
        "keptn.deployment.task.definition": _str(spec.get("taskDefinition")),
    })  # fmt: skip
    state = body.get("status", {}).get("status")
    return _child_attributes(body, "keptntasks", "deploy", state, own)


def evaluation_attributes(body: views.EvaluationView) -> AttributeMap:
    """Attributes of a KeptnEvaluation span; per-metric results go into span events instead."""
    spec = body.get("spec", {})
    state = body.get("status", {}).get("overallStatus")
    own: AttributeMap = {
        APP_NAME: _str(spec.get("appName")),
        APP_VERSION: _str(spec.get("appVersion")),
        WORKLOAD_NAME: _str(spec.get("workload")),
        WORKLOAD_VERSION: _str(spec.get("workloadVersion")),
        EVALUATION_NAME: _str(body.get("metadata", {}).get("name")),
        EVALUATION_TYPE: _str(spec.get("checkType")),
        "keptn.deployment.evaluation.definition": _str(spec.get("evaluationDefinition")),
    }
    return _child_attributes(body, "keptnevaluations", "test", state, own)
