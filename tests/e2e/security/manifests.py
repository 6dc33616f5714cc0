"""Bodies the security tests create (namespace set by the caller)."""

from __future__ import annotations

import base64
from typing import Any

from lifecycle.core import model
from tests.controllers.test_evaluations import keptn_evaluation as evaluation  # noqa: F401 (m.evaluation)

Body = dict[str, Any]


def secret(name: str, data: dict[str, str]) -> Body:
    encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "data": encoded}


def provider(name: str, url: str, secret_name: str | None = None, key: str = "password") -> Body:
    spec: Body = {"type": "prometheus", "targetServer": url}
    if secret_name:
        spec["secretKeyRef"] = {"name": secret_name, "key": key}
    return {
        "apiVersion": model.KEPTN_METRICS_PROVIDER.api_version,
        "kind": "KeptnMetricsProvider",
        "metadata": {"name": name},
        "spec": spec,
    }


def metric(name: str, provider_name: str, query: str = "up") -> Body:
    return {
        "apiVersion": model.KEPTN_METRIC.api_version,
        "kind": "KeptnMetric",
        "metadata": {"name": name},
        "spec": {"provider": {"name": provider_name}, "query": query, "fetchIntervalSeconds": 3600},
    }


def evaluation_definition(name: str, metric_name: str, metric_ns: str | None = None) -> Body:
    ref: Body = {"name": metric_name}
    if metric_ns:
        ref["namespace"] = metric_ns
    return {
        "apiVersion": model.KEPTN_EVALUATION_DEFINITION.api_version,
        "kind": "KeptnEvaluationDefinition",
        "metadata": {"name": name},
        "spec": {"objectives": [{"keptnMetricRef": ref, "evaluationTarget": "<1"}]},
    }


def template(
    name: str, provider_name: str, provider_ns: str | None = None, query: str = "up"
) -> Body:
    ref: Body = {"name": provider_name}
    if provider_ns:
        ref["namespace"] = provider_ns
    return {
        "apiVersion": model.ANALYSIS_VALUE_TEMPLATE.api_version,
        "kind": "AnalysisValueTemplate",
        "metadata": {"name": name},
        "spec": {"provider": ref, "query": query},
    }


def analysis_definition(name: str, template_name: str, template_ns: str | None = None) -> Body:
    ref: Body = {"name": template_name}
    if template_ns:
        ref["namespace"] = template_ns
    return {
        "apiVersion": model.ANALYSIS_DEFINITION.api_version,
        "kind": "AnalysisDefinition",
        "metadata": {"name": name},
        "spec": {
            "objectives": [
                {
                    "analysisValueTemplateRef": ref,
                    "target": {"failure": {"greaterThan": {"fixedValue": 1}}},
                }
            ],
            "totalScore": {"passPercentage": 90, "warningPercentage": 75},
        },
    }


def analysis(name: str, definition: str, definition_ns: str | None = None) -> Body:
    ref: Body = {"name": definition}
    if definition_ns:
        ref["namespace"] = definition_ns
    return {
        "apiVersion": model.ANALYSIS.api_version,
        "kind": "Analysis",
        "metadata": {"name": name},
        "spec": {"timeframe": {"recent": "5m"}, "args": {"app": "shop"}, "analysisDefinition": ref},
    }
