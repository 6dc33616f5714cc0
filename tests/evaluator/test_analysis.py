"""The Analysis engine against the real Prometheus: worked example, dedupe, raw shape, metrics."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from prometheus_client import CollectorRegistry

from evaluator.analysis import (
    AnalysisRequest,
    ObjectiveQuery,
    ProviderPool,
    TimeframeError,
    resolve_timeframe,
    run_analysis,
)
from evaluator.metrics import AnalysisMetrics
from evaluator.providers import ProviderConfig
from evaluator.scoring import ObjectiveStatus, TotalScore, Verdict, parse_objective
from evaluator.templates import TemplateError, escape_value, render_query, template_args
from tests.evaluator.conftest import version_window
from tests.evaluator.promlauncher import Prometheus, free_port

RESPONSE_TIME = 'klt_response_time_p95{app="{{.app}}",version="{{.version}}"}'
ERROR_RATE = 'klt_error_rate{app="{{.app}}",version="{{.version}}"}'
TOTAL = TotalScore(90, 75)

RESPONSE_BODY: dict[str, Any] = {
    "analysisValueTemplateRef": {"name": "response-time-p95"},
    "target": {
        "failure": {"greaterThan": {"fixedValue": 800}},
        "warning": {"relative": {"operator": ">", "percent": 10}},
    },
}
ERROR_BODY: dict[str, Any] = {
    "analysisValueTemplateRef": {"name": "error-rate"},
    "target": {"failure": {"greaterThan": {"fixedValue": 0}}},
    "weight": 2,
    "keyObjective": True,
}


def objectives(url: str) -> list[ObjectiveQuery]:
    prom = ProviderConfig("prometheus", url)
    return [
        ObjectiveQuery(parse_objective(RESPONSE_BODY), RESPONSE_TIME, prom, RESPONSE_BODY),
        ObjectiveQuery(parse_objective(ERROR_BODY), ERROR_RATE, prom, ERROR_BODY),
    ]


async def test_worked_example_end_to_end(
    prometheus: Prometheus, http: aiohttp.ClientSession
) -> None:
    """peers.md §3.5: history 500/520/540, current 580, error_rate 0 weight 2 -> 83.3% warning."""
    pool = ProviderPool(http)
    history: dict[str, list[tuple[float | None, str]]] = {}
    for version in ("1", "2", "3"):
        start, end = version_window(version)
        request = AnalysisRequest(
            objectives(prometheus.url),
            TOTAL,
            start,
            end,
            {"app": "podtato", "version": version},
            {name: list(reversed(v)) for name, v in history.items()},
        )
        outcome = await run_analysis(request, pool=pool)
        assert outcome.score.verdict is Verdict.PASS, outcome.score.reason
        for result in outcome.score.objectives:
            history.setdefault(result.name, []).append((result.value, outcome.score.verdict))

    assert [v for v, _ in history["response-time-p95"]] == [500, 520, 540]
    start, end = resolve_timeframe({"recent": "1m"}, datetime.now(UTC))
    request = AnalysisRequest(
        objectives(prometheus.url),
        TOTAL,
        start,
        end,
        {"app": "podtato", "version": "4"},
        {name: list(reversed(v)) for name, v in history.items()},
    )
    outcome = await run_analysis(request, pool=pool)
    score = outcome.score
    assert round(score.percentage, 1) == 83.3
    assert score.verdict is Verdict.WARNING and score.warning and not score.passed
    response, errors = score.objectives
    assert (response.status, response.value, response.score) == (ObjectiveStatus.WARNING, 580, 0.5)
    assert "580 fulfils >572" in response.reason and "avg=520 of 3" in response.reason
    assert (errors.status, errors.value, errors.score) == (ObjectiveStatus.PASS, 0, 2)

    raw = json.loads(outcome.raw_json)
    assert raw["totalScore"] == 2.5 and raw["maximumScore"] == 3
    assert raw["pass"] is False and raw["warning"] is True
    first = raw["objectiveResults"][0]
    assert first["query"] == 'klt_response_time_p95{app="podtato",version="4"}'
    assert first["value"] == 580 and first["score"] == 0.5
    assert first["result"] == {
        "failResult": {"operator": {"greaterThan": {"fixedValue": 800}}, "fulfilled": False},
        "warnResult": {
            "operator": {"relative": {"operator": ">", "percent": 10}},
            "fulfilled": True,
        },
        "warning": True,
        "pass": False,
    }
    assert first["objective"] == RESPONSE_BODY
    assert first["target"] == "failure >800; warning >+10% of avg(last 3)"
    assert raw["reason"] == "score 83.3% (2.5 of 3) ≥ warning 75% but < pass 90% -> warning"
    assert outcome.stored_values["error-rate"]["value"] == 0
    assert outcome.retryable is False

    registry = CollectorRegistry()
    AnalysisMetrics(registry).record(
        name="podtato-v4", namespace="demo", start=start, end=end, outcome=outcome
    )
    labels = {"name": "podtato-v4", "namespace": "demo"}
    frm, to = start.isoformat().replace("+00:00", "Z"), end.isoformat().replace("+00:00", "Z")
    value = registry.get_sample_value("keptn_analysis_result", {**labels, "from": frm, "to": to})
    assert value == pytest.approx(83.333, abs=0.001)
    objective_value = registry.get_sample_value(
        "keptn_objective_result",
        {
            "name": "response-time-p95",
            "namespace": "demo",
            "analysis_name": "podtato-v4",
            "analysis_namespace": "demo",
            "key_objective": "false",
            "weight": "1",
            "from": frm,
            "to": to,
        },
    )
    assert objective_value == 580


def test_metrics_skip_objectives_without_value() -> None:
    from evaluator.analysis import AnalysisOutcome
    from evaluator.scoring import evaluate_objective, score_analysis

    spec = parse_objective({"analysisValueTemplateRef": {"name": "gone"}, "noData": "pass"})
    score = score_analysis([evaluate_objective(spec, None)], TOTAL)
    outcome = AnalysisOutcome(score, {}, {}, False, {})
    registry = CollectorRegistry()
    AnalysisMetrics(registry).record(name="a", namespace="n", start=NOW, end=NOW, outcome=outcome)
    stamp = "2026-11-27T12:00:00Z"
    labels = {"name": "a", "namespace": "n", "from": stamp, "to": stamp}
    assert registry.get_sample_value("keptn_analysis_result", labels) == 100
    assert not [
        s for m in registry.collect() if m.name == "keptn_objective_result" for s in m.samples
    ]


async def _counting_proxy(
    target: str, http: aiohttp.ClientSession
) -> tuple[TestServer, Counter[str]]:
    seen: Counter[str] = Counter()

    async def forward(request: web.Request) -> web.Response:
        seen[request.query.get("query", "")] += 1
        async with http.get(f"{target}{request.path_qs}") as upstream:
            return web.Response(body=await upstream.read(), content_type="application/json")

    app = web.Application()
    app.router.add_get("/{tail:.*}", forward)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return server, seen


async def test_identical_queries_are_sent_once_and_failures_stay_per_objective(
    prometheus: Prometheus, http: aiohttp.ClientSession
) -> None:
    server, seen = await _counting_proxy(prometheus.url, http)
    url = str(server.make_url("")).rstrip("/")
    prom = ProviderConfig("prometheus", url)
    down = ProviderConfig("prometheus", f"http://127.0.0.1:{free_port()}")

    def objective(name: str, **extra: Any) -> dict[str, Any]:
        return {"analysisValueTemplateRef": {"name": name}, **extra}

    bodies = [
        objective("a", target={"failure": {"greaterThan": {"fixedValue": 1000}}}),
        objective("b", target={"warning": {"greaterThan": {"fixedValue": 100}}}),
        objective("c", informational=True),
        objective("missing", noData="ignore"),
        objective("missing-warn", noData="warning"),
        objective("down", weight=3),
        objective("badtemplate"),
    ]
    templates = [
        RESPONSE_TIME,
        RESPONSE_TIME,  # same query as "a": sent once
        RESPONSE_TIME,
        'klt_nothing{app="{{.app}}"}',
        'klt_nothing{app="{{.app}}"}',
        "up",
        "{{.nope}}",
    ]
    queries = [
        ObjectiveQuery(
            parse_objective(b),
            t,
            down if b["analysisValueTemplateRef"]["name"] == "down" else prom,
            b,
        )
        for b, t in zip(bodies, templates, strict=True)
    ]
    start, end = version_window("2")
    request = AnalysisRequest(queries, TOTAL, start, end, {"app": "podtato", "version": "2"})
    try:
        outcome = await run_analysis(request, pool=ProviderPool(http))
    finally:
        await server.close()
    assert seen == {
        'klt_response_time_p95{app="podtato",version="2"}': 1,
        'klt_nothing{app="podtato"}': 1,
    }
    statuses = {r.name: r.status for r in outcome.score.objectives}
    assert statuses == {
        "a": ObjectiveStatus.PASS,
        "b": ObjectiveStatus.WARNING,
        "c": ObjectiveStatus.INFO,
        "missing": ObjectiveStatus.IGNORED,
        "missing-warn": ObjectiveStatus.WARNING,
        "down": ObjectiveStatus.FAIL,
        "badtemplate": ObjectiveStatus.FAIL,
    }
    by_name = {r.name: r for r in outcome.score.objectives}
    assert "unreachable" in (by_name["down"].error or "")
    assert by_name["badtemplate"].reason == "fail: query failed: template: missing args: nope"
    # 1 (a) + 0.5 (b) + 0.5 (missing-warn) of 1+1+1+3+1 = 2/7
    assert outcome.score.maximum_score == 7 and outcome.score.total_score == 2
    assert outcome.retryable is True  # the unreachable provider may come back
    raw = outcome.raw
    assert raw["objectiveResults"][5]["error"].startswith("prometheus /api/v1/query_range")
    assert outcome.stored_values["badtemplate"]["query"] == ""
    assert outcome.stored_values["down"]["errMsg"].endswith("(ClientConnectorError)")
    assert len(outcome.query_seconds) == 3


@pytest.mark.parametrize(
    ("template", "args", "rendered"),
    [
        ('up{job="{{.workload}}"}', {"workload": "podtato"}, 'up{job="podtato"}'),
        ('up{job="{{ .w }}",v="{{.w}}"}', {"w": "x"}, 'up{job="x",v="x"}'),
        ('up{job="{{.w}}"}', {"w": 'a"} or up{x="'}, 'up{job="a\\"} or up{x=\\""}'),
        ('up{job="{{.w}}"}', {"w": "a\\"}, 'up{job="a\\\\"}'),
        ("no args", {}, "no args"),
    ],
)
def test_render_query_escapes(template: str, args: dict[str, str], rendered: str) -> None:
    assert render_query(template, args) == rendered


@pytest.mark.parametrize(
    ("template", "args", "message"),
    [
        ('up{job="{{.w}}"}', {"w": "a\nb"}, "newlines or control characters"),
        ("{{if .x}}y{{end}}", {"x": "1"}, "unsupported template action"),
        ("{{.x | printf}}", {"x": "1"}, "unsupported template action"),
        ("{{.a}} {{.b}}", {}, "missing args: a, b"),
    ],
)
def test_render_query_rejects(template: str, args: dict[str, str], message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        render_query(template, args)


async def test_escaped_arg_cannot_break_out_of_the_matcher(
    prometheus: Prometheus, http: aiohttp.ClientSession
) -> None:
    """An injected `"} or vector(1) or up{x="` stays one label value: no data, not 1."""
    from evaluator.providers import NoDataError, open_provider

    prom = open_provider(ProviderConfig("prometheus", prometheus.url), http)
    query = render_query('klt_live{app="{{.app}}"}', {"app": '"} or vector(1) or up{x="'})
    with pytest.raises(NoDataError):
        await prom.query(query, at=datetime.now(UTC))


def test_template_args_and_escape() -> None:
    assert template_args("{{.a}}{{ .b }}{{.a}}") == ["a", "b"]
    assert escape_value('x"y') == 'x\\"y'


NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("timeframe", "expected"),
    [
        ({"recent": "5m"}, (NOW - timedelta(minutes=5), NOW)),
        (
            {"from": "2026-11-27T10:00:00Z", "to": "2026-11-27T11:00:00Z"},
            (NOW - timedelta(hours=2), NOW - timedelta(hours=1)),
        ),
        (
            {"from": "2026-11-27T10:00:00", "to": "2026-11-27T12:00:00+00:00"},
            (NOW - timedelta(hours=2), NOW),
        ),
    ],
)
def test_resolve_timeframe(timeframe: dict[str, str], expected: tuple[datetime, datetime]) -> None:
    assert resolve_timeframe(timeframe, NOW) == expected


@pytest.mark.parametrize(
    ("timeframe", "message"),
    [
        ({"recent": "5m", "from": "2026-11-27T10:00:00Z"}, "can not be used in conjunction"),
        ({"from": "2026-11-27T10:00:00Z"}, "either 'recent' or both"),
        ({}, "either 'recent' or both"),
        ({"from": "2026-11-27T10:00:00Z", "to": "2026-11-27T09:00:00Z"}, "later than 'from'"),
        ({"from": "yesterday", "to": "2026-11-27T09:00:00Z"}, "not an RFC 3339"),
        ({"recent": "soon"}, "invalid duration"),
    ],
)
def test_resolve_timeframe_errors(timeframe: dict[str, str], message: str) -> None:
    with pytest.raises(TimeframeError, match=message):
        resolve_timeframe(timeframe, NOW)
