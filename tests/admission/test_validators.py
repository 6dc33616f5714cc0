"""Validating webhooks with KLT's messages, and the AdmissionReview envelope around them."""

from __future__ import annotations

from typing import Any

import pytest

from lifecycle.admission.validators import (
    VALIDATORS,
    validate_analysis,
    validate_analysis_definition,
    validate_keptn_metric,
    validate_task_definition,
)
from lifecycle.admission.webhook import validate_review


def body(spec: dict[str, Any], name: str = "x") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "demo"}, "spec": spec}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"deno": {"inline": {"code": "1"}}}, None),
        ({"python": {"httpRef": {"url": "http://x"}}}, None),
        ({"container": {"name": "c", "image": "busybox"}}, None),
        (
            {},
            'KeptnTaskDefinition.lifecycle.keptn.sh "x" is invalid: spec: Invalid value: "object": '
            "Forbidden! Either Container, Python, or Deno field must be defined",
        ),
        (
            {"deno": {}, "python": {}},
            'KeptnTaskDefinition.lifecycle.keptn.sh "x" is invalid: spec: Invalid value: "object": '
            "Forbidden! Only one of Container, Python, or Deno field can be defined",
        ),
    ],
)
def test_task_definition(spec: dict[str, Any], message: str | None) -> None:
    verdict = validate_task_definition(body(spec))
    assert verdict.allowed is (message is None)
    if message is not None:
        assert verdict.message == message
        assert verdict.code == 422


_PARSE = "Forbidden! The time interval cannot be parsed. Please check for suitable conventions"


@pytest.mark.parametrize(
    ("window", "errors"),
    [
        (None, []),
        ({"interval": "5m"}, []),
        ({}, []),
        ({"interval": "1h30m", "step": "1m", "aggregation": "p95"}, []),
        ({"interval": "5 minutes"}, [f'spec.range.interval: Invalid value: "5 minutes": {_PARSE}']),
        (
            {"interval": "5m", "step": "1x", "aggregation": "max"},
            [f'spec.range.step: Invalid value: "1x": {_PARSE}'],
        ),
        (
            {"step": "1m"},
            [
                "spec.range.aggregation: Required value: "
                "Forbidden! Aggregation field is required if defining the step field"
            ],
        ),
        (
            {"aggregation": "avg"},
            [
                "spec.range.step: Required value: "
                "Forbidden! Step interval is required for the aggregation to work"
            ],
        ),
        (
            {"interval": "", "aggregation": "avg"},
            [
                f'spec.range.interval: Invalid value: "": {_PARSE}',
                "spec.range.step: Required value: "
                "Forbidden! Step interval is required for the aggregation to work",
            ],
        ),
    ],
)
def test_keptn_metric(window: dict[str, Any] | None, errors: list[str]) -> None:
    spec: dict[str, Any] = {"provider": {"name": "prom"}, "query": "up", "fetchIntervalSeconds": 5}
    if window is not None:
        spec["range"] = window
    verdict = validate_keptn_metric(body(spec, "m"))
    assert verdict.allowed is (not errors)
    if errors:
        detail = errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"
        assert verdict.message == f'KeptnMetric.metrics.keptn.sh "m" is invalid: {detail}'


def objective(target: dict[str, Any], weight: Any = 1) -> dict[str, Any]:
    return {"analysisValueTemplateRef": {"name": "t"}, "target": target, "weight": weight}


SCORE = {"passPercentage": 90, "warningPercentage": 70}


@pytest.mark.parametrize(
    ("objectives", "score", "message"),
    [
        ([objective({"failure": {"lessThan": {"fixedValue": "500m"}}})], SCORE, None),
        ([objective({"warning": {"inRange": {"lowBound": "1", "highBound": "2k"}}})], SCORE, None),
        ([{"analysisValueTemplateRef": {"name": "t"}}], SCORE, None),
        (  # our relative extension, as in examples/analysis
            [objective({"warning": {"relative": {"operator": ">", "percent": 10}}})],
            SCORE,
            None,
        ),
        (
            [
                objective(
                    {"failure": {"lessThan": {"fixedValue": 1}, "greaterThan": {"fixedValue": 2}}}
                )
            ],
            SCORE,
            "spec.objectives[0].target.failure: Operator: multiple operators can not be set",
        ),
        (
            [objective({"warning": {}})],
            SCORE,
            "spec.objectives[0].target.warning: Operator: no operator set",
        ),
        (
            [objective({"failure": {"notInRange": {"lowBound": "2", "highBound": "1500m"}}})],
            SCORE,
            "spec.objectives[0].target.failure: RangeValue: lower bound of the range needs to be smaller than higher bound",
        ),
        (
            [objective({"failure": {"inRange": {"lowBound": "1Ki", "highBound": "1k"}}})],
            SCORE,
            "spec.objectives[0].target.failure: RangeValue: lower bound of the range needs to be smaller than higher bound",
        ),
        (
            [],
            {"passPercentage": 70, "warningPercentage": 70},
            "spec.totalScore: "
            "warn percentage score cannot be higher or equal than Pass percentage score",
        ),
        (
            [objective({"failure": {"lessThan": {"fixedValue": 1}}}, weight=0)],
            SCORE,
            "spec.objectives[0].weight: Objective: weight must be a positive integer, got 0",
        ),
    ],
)
def test_analysis_definition(
    objectives: list[dict[str, Any]], score: dict[str, int], message: str | None
) -> None:
    verdict = validate_analysis_definition(body({"objectives": objectives, "totalScore": score}))
    assert verdict.allowed is (message is None)
    if message is not None:
        assert verdict.message == message
        assert verdict.code == 403


_FRAME = 'spec.timeframe: Invalid value: "object": '


@pytest.mark.parametrize(
    ("timeframe", "message"),
    [
        ({"recent": "10m"}, None),
        ({"from": "2026-01-01T00:00:00Z", "to": "2026-01-01T01:00:00Z"}, None),
        (
            {"recent": "10m", "from": "2026-01-01T00:00:00Z"},
            "the field 'recent' can not be used in conjunction with 'from'/'to'",
        ),
        ({"from": "2026-01-01T00:00:00Z"}, "either 'recent' or both 'from' and 'to'  must be set"),
        ({}, "either 'recent' or both 'from' and 'to'  must be set"),
        (
            {"from": "2026-01-01T01:00:00Z", "to": "2026-01-01T01:00:00Z"},
            "value of 'to' must be a timestamp later than 'from'",
        ),
        ({"recent": "ten minutes"}, 'time: invalid duration "ten minutes"'),
    ],
)
def test_analysis(timeframe: dict[str, Any], message: str | None) -> None:
    verdict = validate_analysis(body({"timeframe": timeframe, "analysisDefinition": {"name": "d"}}))
    assert verdict.allowed is (message is None)
    if message is not None:
        assert verdict.message == _FRAME + message


def review(obj: dict[str, Any] | None, operation: str = "CREATE") -> dict[str, Any]:
    return {"request": {"uid": "u1", "operation": operation, "object": obj}}


def test_review_envelope_denies_with_status() -> None:
    validator = VALIDATORS["/validate-lifecycle-keptn-sh-v1-keptntaskdefinition"]
    answer = validate_review(review(body({})), validator)
    assert answer["apiVersion"] == "admission.k8s.io/v1"
    response = answer["response"]
    assert response["uid"] == "u1" and response["allowed"] is False
    assert response["status"]["code"] == 422 and response["status"]["reason"] == "Invalid"
    assert "Either Container, Python, or Deno" in response["status"]["message"]


def test_review_envelope_allows_delete_and_valid() -> None:
    validator = VALIDATORS["/validate-metrics-keptn-sh-v1-analysis"]
    assert validate_review(review(None, "DELETE"), validator)["response"]["allowed"] is True
    valid = body({"timeframe": {"recent": "5m"}})
    assert validate_review(review(valid), validator)["response"] == {"uid": "u1", "allowed": True}


def test_validator_paths_are_klts() -> None:
    assert sorted(VALIDATORS) == [
        "/validate-lifecycle-keptn-sh-v1-keptntaskdefinition",
        "/validate-metrics-keptn-sh-v1-analysis",
        "/validate-metrics-keptn-sh-v1-analysisdefinition",
        "/validate-metrics-keptn-sh-v1-keptnmetric",
    ]
