"""Pure, table-driven tests of evaluator.scoring: KLT Analysis scoring and Keptn v1 quality gates."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evaluator.objectives import ObjectiveError
from evaluator.scoring import (
    NoData,
    ObjectiveResult,
    ObjectiveSpec,
    ObjectiveStatus,
    TotalScore,
    Verdict,
    evaluate_objective,
    parse_objective,
    parse_total_score,
    score_analysis,
)

TOTAL = TotalScore(90, 75)


def objective(**extra: Any) -> ObjectiveSpec:
    body: dict[str, Any] = {"analysisValueTemplateRef": {"name": "latency"}}
    body.update(extra)
    return parse_objective(body)


LATENCY = objective(
    target={
        "failure": {"greaterThan": {"fixedValue": 800}},
        "warning": {"greaterThan": {"fixedValue": 500}},
    },
    weight=2,
)


@pytest.mark.parametrize(
    ("value", "status", "score", "reason"),
    [
        (900, ObjectiveStatus.FAIL, 0, "failure target met: 900 fulfils >800"),
        (600, ObjectiveStatus.WARNING, 1, "warning target met: 600 fulfils >500"),
        (100, ObjectiveStatus.PASS, 2, "100 does not fulfil >800; 100 does not fulfil >500"),
    ],
)
def test_klt_objective(value: float, status: ObjectiveStatus, score: float, reason: str) -> None:
    result = evaluate_objective(LATENCY, value)
    assert (result.status, result.score, result.weight, result.value) == (status, score, 2, value)
    assert result.reason == f"{status}: {reason}"
    assert result.target == "failure >800; warning >500"


def test_objective_without_targets_passes() -> None:
    result = evaluate_objective(objective(), 5)
    assert result.status is ObjectiveStatus.PASS and result.reason == "pass: no target set"
    assert result.target == ""


def test_only_warning_target() -> None:
    spec = objective(target={"warning": {"lessThan": {"fixedValue": 1}}})
    assert evaluate_objective(spec, 0).status is ObjectiveStatus.WARNING
    assert evaluate_objective(spec, 2).status is ObjectiveStatus.PASS


@pytest.mark.parametrize(
    ("policy", "status", "score", "weight"),
    [
        ("fail", ObjectiveStatus.FAIL, 0, 2),
        ("warning", ObjectiveStatus.WARNING, 1, 2),
        ("pass", ObjectiveStatus.PASS, 2, 2),
        ("ignore", ObjectiveStatus.IGNORED, 0, 0),
    ],
)
@pytest.mark.parametrize("value", [None, math.nan])
def test_no_data_policy(
    policy: str, status: ObjectiveStatus, score: float, weight: float, value: float | None
) -> None:
    spec = objective(noData=policy, weight=2, target={"failure": {"lessThan": {"fixedValue": 1}}})
    result = evaluate_objective(spec, value)
    assert (result.status, result.score, result.weight, result.value) == (
        status,
        score,
        weight,
        None,
    )
    assert f"no data (noData: {policy})" in result.reason


def test_query_error_fails_regardless_of_policy() -> None:
    spec = objective(noData="pass", keyObjective=True)
    result = evaluate_objective(spec, None, error="HTTP 500")
    assert result.status is ObjectiveStatus.FAIL and result.error == "HTTP 500"
    assert result.reason == "fail: query failed: HTTP 500"
    assert score_analysis([result], TOTAL).verdict is Verdict.FAIL


def test_informational_is_reported_never_scored() -> None:
    spec = objective(
        informational=True,
        keyObjective=True,
        target={"failure": {"greaterThan": {"fixedValue": 1}}},
    )
    result = evaluate_objective(spec, 5)
    assert (result.status, result.score, result.weight, result.key) == (
        ObjectiveStatus.INFO,
        0,
        0,
        False,
    )
    assert result.reason.startswith("informational (would be fail): failure target met")
    assert result.failure is not None and result.failure.fulfilled
    ok = evaluate_objective(objective(target={"failure": {"lessThan": {"fixedValue": 1}}}), 5)
    total = score_analysis([result, ok], TOTAL)
    assert (total.verdict, total.percentage, total.maximum_score) == (Verdict.PASS, 100, 1)
    assert total.counts == {"info": 1, "pass": 1}


def test_relative_targets_use_previous_results() -> None:
    spec = objective(target={"failure": {"relative": {"operator": ">", "percent": 10}}})
    previous = [(500.0, "pass"), (520.0, "pass"), (540.0, "pass")]
    failed = evaluate_objective(spec, 580, previous=previous)
    assert failed.status is ObjectiveStatus.FAIL
    assert failed.failure is not None and failed.failure.target.startswith(">572")
    assert evaluate_objective(spec, 570, previous=previous).status is ObjectiveStatus.PASS
    first = evaluate_objective(spec, 10_000)  # no baseline passes
    assert first.status is ObjectiveStatus.PASS and "no baseline" in first.reason


def test_worked_example_in_klt_terms() -> None:
    """peers.md §3.5 expressed with failure/warning targets: 2.5 of 3 = 83.3% -> warning."""
    response = objective(
        analysisValueTemplateRef={"name": "response_time_p95"},
        target={
            "failure": {"greaterThan": {"fixedValue": 800}},
            "warning": {"relative": {"operator": ">", "percent": 10}},
        },
    )
    errors = objective(
        analysisValueTemplateRef={"name": "error_rate"},
        target={"failure": {"greaterThan": {"fixedValue": 0}}},
        weight=2,
    )
    previous = [(540.0, "pass"), (520.0, "pass"), (500.0, "pass")]
    results = [
        evaluate_objective(response, 580, previous=previous),
        evaluate_objective(errors, 0),
    ]
    total = score_analysis(results, TOTAL)
    assert [r.status for r in results] == [ObjectiveStatus.WARNING, ObjectiveStatus.PASS]
    assert round(total.percentage, 1) == 83.3
    assert (total.verdict, total.total_score, total.maximum_score) == (Verdict.WARNING, 2.5, 3)
    assert total.warning and not total.passed
    assert total.reason == "score 83.3% (2.5 of 3) ≥ warning 75% but < pass 90% -> warning"


# --- totals -------------------------------------------------------------------------------


def result(status: ObjectiveStatus, weight: float = 1, key: bool = False) -> ObjectiveResult:
    share = {ObjectiveStatus.PASS: 1.0, ObjectiveStatus.WARNING: 0.5}.get(status, 0.0)
    return ObjectiveResult("x", status, weight * share, weight, key, 1.0, "", "")


P, W, F = ObjectiveStatus.PASS, ObjectiveStatus.WARNING, ObjectiveStatus.FAIL


@pytest.mark.parametrize(
    ("statuses", "verdict", "percentage"),
    [
        ([P, P], Verdict.PASS, 100),
        ([P] * 9 + [F], Verdict.PASS, 90),  # ≥ semantics
        ([P] * 3 + [F], Verdict.WARNING, 75),
        ([P, F], Verdict.FAIL, 50),
        ([W, W], Verdict.FAIL, 50),
        ([], Verdict.PASS, 100),  # nothing to judge
    ],
)
def test_totals(statuses: list[ObjectiveStatus], verdict: Verdict, percentage: float) -> None:
    total = score_analysis([result(s) for s in statuses], TOTAL)
    assert (total.verdict, total.percentage) == (verdict, pytest.approx(percentage))


def test_key_failure_fails_whatever_the_score() -> None:
    results = [result(P, 10), result(F, 1, key=True)]
    total = score_analysis(results, TOTAL)
    assert total.verdict is Verdict.FAIL and total.key_failed == ("x",)
    assert not total.passed and not total.warning
    assert "key objective x failed" in total.reason
    # a key objective in warning does not fail the analysis (score > 0)
    assert score_analysis([result(W, 1, key=True)], TotalScore(40, 20)).verdict is Verdict.PASS


def test_total_without_warning_threshold_is_v1_style() -> None:
    total = score_analysis([result(P), result(F)], TotalScore(90))
    assert total.verdict is Verdict.FAIL and total.reason.endswith("< pass 90% -> fail")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "needs numeric"),
        ({"passPercentage": "x", "warningPercentage": 1}, "needs numeric"),
        ({"passPercentage": 101, "warningPercentage": 1}, "within 0..100"),
        ({"passPercentage": 50, "warningPercentage": -1}, "within 0..100"),
        ({"passPercentage": 50, "warningPercentage": 50}, "cannot be higher or equal"),
    ],
)
def test_total_score_errors(body: dict[str, Any], message: str) -> None:
    with pytest.raises(ObjectiveError, match=message):
        parse_total_score(body)


def test_total_score_parses() -> None:
    assert parse_total_score({"passPercentage": 90, "warningPercentage": 75}) == TOTAL


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "analysisValueTemplateRef.name is required"),
        ({"analysisValueTemplateRef": "x"}, "analysisValueTemplateRef.name is required"),
        ({"analysisValueTemplateRef": {"name": "a"}, "weight": -1}, "weight"),
        ({"analysisValueTemplateRef": {"name": "a"}, "weight": True}, "weight"),
        ({"analysisValueTemplateRef": {"name": "a"}, "noData": "maybe"}, "noData"),
        (
            {"analysisValueTemplateRef": {"name": "a"}, "target": {"failure": {"x": 1}}},
            "no operator set",
        ),
    ],
)
def test_objective_errors(body: dict[str, Any], message: str) -> None:
    with pytest.raises(ObjectiveError, match=message):
        parse_objective(body)


def test_objective_name_includes_namespace_like_klt() -> None:
    spec = parse_objective({"analysisValueTemplateRef": {"name": "a", "namespace": "ns"}})
    assert spec.name == "a-ns"
    assert (spec.weight, spec.key, spec.informational, spec.no_data) == (
        1,
        False,
        False,
        NoData.FAIL,
    )


@given(
    st.lists(
        st.tuples(
            st.sampled_from([P, W, F, ObjectiveStatus.INFO, ObjectiveStatus.IGNORED]),
            st.integers(min_value=0, max_value=10),
            st.booleans(),
        ),
        max_size=12,
    )
)
def test_total_properties(items: list[tuple[ObjectiveStatus, int, bool]]) -> None:
    results = [
        result(
            s, 0 if s in (ObjectiveStatus.INFO, ObjectiveStatus.IGNORED) else w, k and s is not F
        )
        for s, w, k in items
    ]
    total = score_analysis(results, TOTAL)
    assert 0 <= total.percentage <= 100
    assert total.total_score <= total.maximum_score
    # adding a passing objective never makes the verdict worse
    better = score_analysis([*results, result(P, 1)], TOTAL)
    order = [Verdict.FAIL, Verdict.WARNING, Verdict.PASS]
    assert order.index(better.verdict) >= order.index(total.verdict) or total.percentage == 100
