"""Pure, table-driven tests of evaluator.objectives: targets, operators, criteria, baselines."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evaluator.criteria import parse_criterion
from evaluator.objectives import (
    Aggregation,
    AnalysisOperator,
    Baseline,
    Comparison,
    Include,
    ObjectiveError,
    OperatorKind,
    RelativeTarget,
    aggregate,
    check_evaluation_target,
    format_number,
    parse_evaluation_target,
    parse_operator,
    parse_quantity,
    parse_target,
)

finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e9, max_value=1e9)


@pytest.mark.parametrize(
    ("value", "target", "fulfilled"),
    [
        ("499", "<500", True),
        ("500", "<500", False),  # strict
        ("501", ">500", True),
        ("500", ">500", False),
        ("0.5", ">0.25", True),
        ("-1", "<0", True),
    ],
)
def test_klt_evaluation_target(value: str, target: str, fulfilled: bool) -> None:
    check = check_evaluation_target(value, target)
    assert check.fulfilled is fulfilled
    assert check.target == target
    assert check.value == float(value)
    verb = "met" if fulfilled else "did not meet"
    assert check.reason == f"value '{value}' {verb} objective '{target}'"


@pytest.mark.parametrize(
    ("value", "target", "message"),
    [
        ("1", "", "empty evaluation target"),
        ("1", "=5", "invalid operator"),
        ("1", "<=5", "invalid target value"),
        ("1", "<abc", "invalid target value"),
        ("1", "<nan", "invalid target value"),
        ("", "<5", "empty value"),
        ("abc", "<5", "not a number"),
        ("NaN", "<5", "NaN"),
    ],
)
def test_klt_evaluation_target_errors(value: str, target: str, message: str) -> None:
    with pytest.raises(ObjectiveError, match=message):
        check_evaluation_target(value, target)


def test_evaluation_target_str() -> None:
    assert str(parse_evaluation_target("<500.0")) == "<500"
    assert str(parse_evaluation_target(">0.25")) == ">0.25"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("500", 500.0),
        ("3m", 0.003),
        ("500m", 0.5),
        ("1.5", 1.5),
        ("1.5k", 1500.0),
        ("2Ki", 2048.0),
        ("1Mi", 1048576.0),
        ("1e3", 1000.0),
        ("-2", -2.0),
        (".5", 0.5),
        ("5n", 5e-9),
        ("7u", 7e-6),
        ("1G", 1e9),
        ("1T", 1e12),
        ("1P", 1e15),
        ("1E", 1e18),
        ("1Gi", 2.0**30),
        ("1Ti", 2.0**40),
        ("1Pi", 2.0**50),
        ("1Ei", 2.0**60),
        ("1M", 1e6),
        (" 4 ", 4.0),
        (7, 7.0),
        (0.25, 0.25),
    ],
)
def test_quantity(raw: object, expected: float) -> None:
    assert parse_quantity(raw) == pytest.approx(expected)


@pytest.mark.parametrize("raw", ["", "abc", "1x", "1.2.3", "--1", True, None, [1], math.nan])
def test_quantity_rejects(raw: object) -> None:
    with pytest.raises(ObjectiveError, match=r"^quantities must match the regular expression '"):
        parse_quantity(raw)


@pytest.mark.parametrize(
    ("body", "value", "fulfilled", "text"),
    [
        ({"lessThan": {"fixedValue": "500"}}, 499, True, "<500"),
        ({"lessThan": {"fixedValue": "500"}}, 500, False, "<500"),
        ({"lessThanOrEqual": {"fixedValue": 500}}, 500, True, "<=500"),
        ({"lessThanOrEqual": {"fixedValue": 500}}, 501, False, "<=500"),
        ({"greaterThan": {"fixedValue": "3m"}}, 0.004, True, ">0.003"),
        ({"greaterThan": {"fixedValue": "3m"}}, 0.003, False, ">0.003"),
        ({"greaterThanOrEqual": {"fixedValue": "1k"}}, 1000, True, ">=1000"),
        ({"greaterThanOrEqual": {"fixedValue": "1k"}}, 999, False, ">=1000"),
        ({"equalTo": {"fixedValue": "0"}}, 0, True, "=0"),
        ({"equalTo": {"fixedValue": "0"}}, 0.1, False, "=0"),
        ({"inRange": {"lowBound": "1", "highBound": "5"}}, 1, True, "in [1, 5]"),
        ({"inRange": {"lowBound": "1", "highBound": "5"}}, 5, True, "in [1, 5]"),
        ({"inRange": {"lowBound": "1", "highBound": "5"}}, 5.5, False, "in [1, 5]"),
        ({"notInRange": {"lowBound": "1", "highBound": "5"}}, 0, True, "not in [1, 5]"),
        ({"notInRange": {"lowBound": "1", "highBound": "5"}}, 3, False, "not in [1, 5]"),
        ({"notInRange": {"lowBound": "1", "highBound": "5"}}, math.nan, False, "not in [1, 5]"),
        ({"lessThan": {"fixedValue": "500"}, "greaterThan": None}, 1, True, "<500"),
    ],
)
def test_analysis_operators(body: dict[str, Any], value: float, fulfilled: bool, text: str) -> None:
    op = parse_operator(body)
    check = op.check(value)
    assert check.fulfilled is fulfilled
    assert check.target == text == str(op)
    assert text in check.reason
    assert ("does not fulfil" in check.reason) is not fulfilled
    assert op.body is body


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "no operator set"),
        (
            {"lessThan": {"fixedValue": 1}, "greaterThan": {"fixedValue": 2}},
            "multiple operators can not be set",
        ),
        ({"lessThan": 5}, "must be an object"),
        ({"lessThan": {}}, "needs fixedValue"),
        ({"inRange": {"lowBound": 1}}, "needs lowBound and highBound"),
        ({"inRange": {"lowBound": 5, "highBound": 1}}, "lower bound of the range"),
        ({"notInRange": {"lowBound": 5, "highBound": 5}}, "lower bound of the range"),
        ({"equalTo": {"fixedValue": "x"}}, "quantities must match the regular expression"),
    ],
)
def test_operator_errors(body: dict[str, Any], message: str) -> None:
    with pytest.raises(ObjectiveError, match=message):
        parse_operator(body)


@given(value=finite, threshold=finite)
def test_fixed_operators_agree_with_python(value: float, threshold: float) -> None:
    expectations = {
        OperatorKind.LESS_THAN: value < threshold,
        OperatorKind.LESS_THAN_OR_EQUAL: value <= threshold,
        OperatorKind.GREATER_THAN: value > threshold,
        OperatorKind.GREATER_THAN_OR_EQUAL: value >= threshold,
        OperatorKind.EQUAL_TO: value == threshold,
    }
    for kind, expected in expectations.items():
        op = parse_operator({kind.value: {"fixedValue": threshold}})
        assert op.check(value).fulfilled is expected


@given(value=finite, a=finite, b=finite)
def test_ranges_are_complements(value: float, a: float, b: float) -> None:
    if a == b:
        return
    low, high = min(a, b), max(a, b)
    inside = AnalysisOperator(OperatorKind.IN_RANGE, low=low, high=high)
    outside = AnalysisOperator(OperatorKind.NOT_IN_RANGE, low=low, high=high)
    assert inside.check(value).fulfilled != outside.check(value).fulfilled


# --- criteria and baselines ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "comparison", "amount", "percent", "relative"),
    [
        ("<=+10%", Comparison.LE, 10, True, True),
        ("<= +10 %", Comparison.LE, 10, True, True),
        ("<=10%", Comparison.LE, 10, True, True),  # unsigned % is an increase (#1498)
        (">-5", Comparison.GT, -5, False, True),
        ("<+5", Comparison.LT, 5, False, True),
        ("<=800", Comparison.LE, 800, False, False),
        ("<600", Comparison.LT, 600, False, False),
        ("=0", Comparison.EQ, 0, False, False),
        (">=0.5", Comparison.GE, 0.5, False, False),
        ("<-5%", Comparison.LT, -5, True, True),
    ],
)
def test_parse_criterion(
    text: str, comparison: Comparison, amount: float, percent: bool, relative: bool
) -> None:
    c = parse_criterion(text)
    assert (c.comparison, c.amount, c.percent, c.relative) == (
        comparison,
        amount,
        percent,
        relative,
    )


@pytest.mark.parametrize("text", ["", "<", "<=+%", "!5", "<5x", "5", "<.", "<<5"])
def test_parse_criterion_rejects(text: str) -> None:
    with pytest.raises(ObjectiveError, match="invalid criterion"):
        parse_criterion(text)


B520 = Baseline(520.0, 3, Aggregation.AVG)


@pytest.mark.parametrize(
    ("text", "value", "threshold", "fulfilled"),
    [
        ("<=+10%", 572, 572, True),
        ("<=+10%", 580, 572, False),
        ("<=-10%", 468, 468, True),
        (">-5", 516, 515, True),
        (">-5", 515, 515, False),
        ("<+20", 539, 540, True),
        ("<600", 580, 600, True),
        ("<=800", 801, 800, False),
    ],
)
def test_criterion_against_baseline(
    text: str, value: float, threshold: float, fulfilled: bool
) -> None:
    c = parse_criterion(text)
    assert c.threshold(B520) == pytest.approx(threshold)
    check = c.check(value, B520, no_baseline=True)
    assert check.fulfilled is fulfilled
    assert format_number(threshold) in check.target
    if c.relative:
        assert "avg=520 of 3" in check.reason


def test_relative_criterion_without_baseline_uses_the_given_default() -> None:
    c = parse_criterion("<=+10%")
    assert c.threshold(None) is None
    met = c.check(10_000, None, no_baseline=True)
    assert met.fulfilled and "no baseline" in met.reason and "met" in met.reason
    unmet = c.check(10_000, None, no_baseline=False)
    assert not unmet.fulfilled and "not met" in unmet.reason
    # a fixed criterion never needs a baseline
    assert parse_criterion("<600").check(580, None, no_baseline=False).fulfilled


@pytest.mark.parametrize(
    ("values", "how", "expected"),
    [
        ([500, 520, 540], Aggregation.AVG, 520),
        ([540, 500, 520], Aggregation.P50, 520),
        ([1, 2, 3, 4], Aggregation.P50, 2.5),  # pos 2.5: between 2 and 3
        ([1, 2, 3, 4], Aggregation.P90, 4),  # pos 4.5 ≥ n: max
        ([10, 20], Aggregation.P90, 20),
        ([10], Aggregation.P95, 10),
        ([5, 1], Aggregation.P50, 3),
        (list(range(1, 101)), Aggregation.P90, 90.9),
        (list(range(1, 101)), Aggregation.P95, 95.95),
        ([7, 8, 9], Aggregation.P50, 8),
    ],
)
def test_aggregate(values: list[float], how: Aggregation, expected: float) -> None:
    assert aggregate(values, how) == pytest.approx(expected)


def test_aggregate_low_position_is_min() -> None:
    # p50 of one value: pos = 1 -> exactly the value
    assert aggregate([3.0], Aggregation.P50) == 3.0
    assert aggregate([9.0, 3.0], Aggregation.P50) == 6.0
    with pytest.raises(ObjectiveError, match="empty"):
        aggregate([], Aggregation.AVG)


@given(st.lists(finite, min_size=1, max_size=30), st.sampled_from(list(Aggregation)))
def test_aggregate_is_within_bounds(values: list[float], how: Aggregation) -> None:
    result = aggregate(values, how)
    tolerance = 1e-6 * max(1.0, *map(abs, values))
    assert min(values) - tolerance <= result <= max(values) + tolerance


# --- the relative CRD extension -----------------------------------------------------------


def relative(**spec: Any) -> RelativeTarget:
    target = parse_target({"relative": spec})
    assert isinstance(target, RelativeTarget)
    return target


def test_relative_target_defaults_and_text() -> None:
    target = relative(operator=">", percent=10)
    assert (target.aggregation, target.lookback, target.include) == (
        Aggregation.AVG,
        3,
        Include.PASS,
    )
    assert str(target) == ">+10% of avg(last 3)"
    assert str(relative(operator="<=", absolute=-5)) == "<=-5 of avg(last 3)"


PREVIOUS = [(540.0, "pass"), (520.0, "pass"), (9999.0, "fail"), (500.0, "warning"), (1.0, "pass")]


@pytest.mark.parametrize(
    ("include", "lookback", "aggregation", "expected", "count"),
    [
        ("pass", 3, "avg", (540 + 520 + 1) / 3, 3),
        ("pass", 2, "avg", 530, 2),
        ("pass_or_warn", 3, "avg", 520, 3),
        ("all", 3, "p50", 540, 3),
        ("all", 5, "p90", 9999, 5),
    ],
)
def test_relative_baseline(
    include: str, lookback: int, aggregation: str, expected: float, count: int
) -> None:
    target = relative(
        operator=">", percent=10, include=include, lookback=lookback, aggregation=aggregation
    )
    baseline = target.baseline(PREVIOUS)
    assert baseline is not None
    assert baseline.value == pytest.approx(expected)
    assert baseline.count == count


def test_relative_baseline_skips_missing_values_and_none_is_no_baseline() -> None:
    target = relative(operator=">", percent=10, include="all", lookback=2)
    assert target.baseline([(None, "pass"), (math.nan, "pass"), (5.0, "pass")]) is None
    assert target.baseline([]) is None
    assert target.baseline([(None, "pass"), (4.0, "pass")]) == Baseline(4.0, 1, Aggregation.AVG)


def test_relative_check_with_and_without_baseline() -> None:
    target = relative(operator=">", percent=10)
    baseline = target.baseline([(500.0, "pass"), (520.0, "pass"), (540.0, "pass")])
    hit = target.check(580, baseline)
    assert hit.fulfilled and hit.target.startswith(">572") and "580 fulfils >572" in hit.reason
    assert not target.check(570, baseline).fulfilled
    none = target.check(10_000, None)  # first analysis: the failure target is not fulfilled
    assert not none.fulfilled and "no baseline" in none.reason and "passes" in none.reason


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"relative": {"operator": "!", "percent": 1}}, "invalid operator"),
        ({"relative": {"operator": ">"}}, "exactly one of percent and absolute"),
        ({"relative": {"operator": ">", "percent": 1, "absolute": 1}}, "exactly one"),
        ({"relative": {"operator": ">", "percent": "1"}}, "percent must be a number"),
        ({"relative": {"operator": ">", "absolute": True}}, "absolute must be a number"),
        ({"relative": {"operator": ">", "percent": 1, "aggregation": "p99"}}, "relative:"),
        ({"relative": {"operator": ">", "percent": 1, "include": "none"}}, "relative:"),
        ({"relative": {"operator": ">", "percent": 1, "lookback": 0}}, "lookback"),
        ({"relative": {"operator": ">", "percent": 1, "lookback": 1.5}}, "lookback"),
        ({"relative": 5}, "must be an object"),
        (
            {"relative": {"operator": ">", "percent": 1}, "lessThan": {"fixedValue": 1}},
            "can not be combined",
        ),
    ],
)
def test_relative_errors(body: dict[str, Any], message: str) -> None:
    with pytest.raises(ObjectiveError, match=message):
        parse_target(body)


def test_parse_target_plain_operator() -> None:
    assert isinstance(parse_target({"lessThan": {"fixedValue": 3}}), AnalysisOperator)


@pytest.mark.parametrize(
    ("value", "text"),
    [(500.0, "500"), (0.25, "0.25"), (1 / 3, "0.333333"), (math.nan, "nan"), (1e20, "1e+20")],
)
def test_format_number(value: float, text: str) -> None:
    assert format_number(value) == text
