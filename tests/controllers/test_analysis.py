"""Analysis controller against the real Prometheus: the worked example of peers.md §3.5.

History 500/520/540 comes from three earlier Analyses of the same definition and args (each run
for real over its own past window); the current Analysis measures 580 and error_rate 0 (weight 2):
the relative warning `>+10%` of avg(500, 520, 540) = 572 holds, so 0.5 + 2 of 3 = 83.3% -> warning.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from lifecycle.core import model
from tests.evaluator.promlauncher import Prometheus, Series, push
from tests.support.waiting import eventually_async

from .conftest import Env, OperatorFactory
from .test_evaluations import provider

Body = dict[str, Any]


def template(name: str, query: str) -> Body:
    return {
        "apiVersion": model.ANALYSIS_VALUE_TEMPLATE.api_version,
        "kind": "AnalysisValueTemplate",
        "metadata": {"name": name},
        "spec": {"provider": {"name": "prom"}, "query": query},
    }


def quality_definition(name: str) -> Body:
    return {
        "apiVersion": model.ANALYSIS_DEFINITION.api_version,
        "kind": "AnalysisDefinition",
        "metadata": {"name": name},
        "spec": {
            "objectives": [
                {
                    "analysisValueTemplateRef": {"name": "response-time-p95"},
                    "target": {
                        "failure": {"greaterThan": {"fixedValue": 800}},
                        "warning": {
                            "relative": {
                                "operator": ">",
                                "percent": 10,
                                "aggregation": "avg",
                                "lookback": 3,
                                "include": "pass",
                            }
                        },
                    },
                    "weight": 1,
                },
                {
                    "analysisValueTemplateRef": {"name": "error-rate"},
                    "target": {"failure": {"greaterThan": {"fixedValue": 0}}},
                    "weight": 2,
                },
                {
                    "analysisValueTemplateRef": {"name": "throughput"},
                    "informational": True,
                    "noData": "ignore",
                },
            ],
            "totalScore": {"passPercentage": 90, "warningPercentage": 75},
        },
    }


def below_one(*templates: str) -> Body:
    """AnalysisDefinition "quality": each template's value must be below 1."""
    target = {"failure": {"lessThan": {"fixedValue": 1}}}
    return {
        "apiVersion": model.ANALYSIS_DEFINITION.api_version,
        "kind": "AnalysisDefinition",
        "metadata": {"name": "quality"},
        "spec": {
            "objectives": [
                {"analysisValueTemplateRef": {"name": t}, "target": target} for t in templates
            ],
            "totalScore": {"passPercentage": 90, "warningPercentage": 75},
        },
    }


def analysis(name: str, app: str, timeframe: Body) -> Body:
    return {
        "apiVersion": model.ANALYSIS.api_version,
        "kind": "Analysis",
        "metadata": {"name": name},
        "spec": {
            "timeframe": timeframe,
            "args": {"app": app},
            "analysisDefinition": {"name": "quality"},
        },
    }


def rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def completed(obj: Body | None) -> bool:
    return bool(obj and (obj.get("status") or {}).get("state") == "Completed")


async def test_worked_example_scores_83_percent_warning(
    env: Env, operator_factory: OperatorFactory, prometheus: Prometheus
) -> None:
    op = await operator_factory(["analysis"])
    app = f"podtato-{uuid.uuid4().hex[:6]}"
    now = datetime.fromtimestamp(int(time.time()), UTC)
    windows = {
        "v1": (now - timedelta(minutes=100), 500.0),
        "v2": (now - timedelta(minutes=70), 520.0),
        "v3": (now - timedelta(minutes=40), 540.0),
    }
    series: dict[str, list[tuple[float, float]]] = {"rt": [], "err": []}
    for start, value in windows.values():
        times = [start.timestamp() - 60 + 30 * i for i in range(25)]  # the window ±1 min
        series["rt"] += [(t, value) for t in times]
        series["err"] += [(t, 0.0) for t in times]
    live = [now.timestamp() - 150 + 30 * i for i in range(6)]
    series["rt"] += [(t, 580.0) for t in live]
    series["err"] += [(t, 0.0) for t in live]
    push(
        prometheus.url,
        [
            Series({"__name__": "klt_children_rt", "app": app}, sorted(series["rt"])),
            Series({"__name__": "klt_children_err", "app": app}, sorted(series["err"])),
        ],
    )

    await env.create(model.KEPTN_METRICS_PROVIDER, provider("prom", prometheus.url))
    await env.create(
        model.ANALYSIS_VALUE_TEMPLATE,
        template("response-time-p95", 'max(klt_children_rt{app="{{.app}}"})'),
    )
    await env.create(
        model.ANALYSIS_VALUE_TEMPLATE,
        template("error-rate", 'max(klt_children_err{app="{{ .app }}"})'),
    )
    await env.create(
        model.ANALYSIS_VALUE_TEMPLATE,
        template("throughput", 'sum(klt_children_nothing{app="{{.app}}"})'),
    )
    await env.create(model.ANALYSIS_DEFINITION, quality_definition("quality"))

    for name, (start, value) in windows.items():
        frame = {"from": rfc3339(start), "to": rfc3339(start + timedelta(minutes=10))}
        await env.create(model.ANALYSIS, analysis(f"quality-{name}", app, frame))
        done = await env.wait_for(model.ANALYSIS, f"quality-{name}", completed)
        raw = json.loads(done["status"]["raw"])
        assert raw["objectiveResults"][0]["value"] == value, raw
        assert done["status"]["pass"] is True, raw

    await env.create(model.ANALYSIS, analysis("quality-v4", app, {"recent": "2m"}))
    done = await env.wait_for(model.ANALYSIS, "quality-v4", completed)
    status = done["status"]
    raw = json.loads(status["raw"])
    assert (status["pass"], status["warning"]) == (False, True), raw
    assert (raw["totalScore"], raw["maximumScore"]) == (2.5, 3.0)
    assert round(raw["percentage"], 1) == 83.3
    assert raw["verdict"] == "warning"
    response, errors, info = raw["objectiveResults"]
    assert response["value"] == 580.0 and response["status"] == "warning"
    assert response["score"] == 0.5
    assert response["result"]["warnResult"]["fulfilled"] is True
    assert response["result"]["failResult"]["fulfilled"] is False
    assert "572" in response["reason"], response["reason"]  # baseline 520 + 10%
    assert response["query"] == f'max(klt_children_rt{{app="{app}"}})'
    assert errors["value"] == 0.0 and errors["status"] == "pass" and errors["score"] == 2.0
    assert info["status"] == "info" and info["score"] == 0.0
    frozen = status["timeframe"]
    assert frozen["from"] < frozen["to"]
    assert "storedValues" not in status

    samples = [
        (s.labels, s.value)
        for m in op.registry.collect()
        for s in m.samples
        if s.name == "keptn_analysis_result" and s.labels["name"] == "quality-v4"
    ]
    assert len(samples) == 1 and round(samples[0][1], 1) == 83.3, samples
    objective_values = sorted(
        (s.labels["name"], s.value)
        for m in op.registry.collect()
        for s in m.samples
        if s.name == "keptn_objective_result" and s.labels["analysis_name"] == "quality-v4"
    )
    assert objective_values == [("error-rate", 0.0), ("response-time-p95", 580.0)]


async def test_analysis_waits_for_its_definition_and_handles_bad_input(
    env: Env, operator_factory: OperatorFactory, prometheus: Prometheus
) -> None:
    await operator_factory(["analysis"])
    await env.create(model.KEPTN_METRICS_PROVIDER, provider("prom", prometheus.url))
    await env.create(model.ANALYSIS_VALUE_TEMPLATE, template("needs-arg", 'up{job="{{.job}}"}'))
    # created before its definition: woken when the definition appears
    await env.create(model.ANALYSIS, analysis("early", "x", {"recent": "1m"}))
    await env.create(model.ANALYSIS_DEFINITION, below_one("needs-arg"))
    done = await env.wait_for(model.ANALYSIS, "early", completed)
    raw = json.loads(done["status"]["raw"])
    (objective,) = raw["objectiveResults"]
    assert objective["status"] == "fail"
    assert "missing args: job" in objective["error"]
    assert done["status"]["pass"] is False and done["status"]["warning"] is False


async def test_a_provider_down_counts_in_keptn_provider_failures(
    env: Env, operator_factory: OperatorFactory, prometheus: Prometheus
) -> None:
    """An Analysis queries its provider itself (no KeptnMetric): each failed run counts too."""
    op = await operator_factory(["analysis"])
    await env.create(model.KEPTN_METRICS_PROVIDER, provider("down", "http://127.0.0.1:9"))
    await env.create(model.KEPTN_METRICS_PROVIDER, provider("prom", prometheus.url))
    down = template("latency-down", "up")
    down["spec"]["provider"]["name"] = "down"
    await env.create(model.ANALYSIS_VALUE_TEMPLATE, down)
    await env.create(model.ANALYSIS_VALUE_TEMPLATE, template("latency-up", "vector(1)"))
    await env.create(model.ANALYSIS_DEFINITION, below_one("latency-down", "latency-up"))
    await env.create(model.ANALYSIS, analysis("probe", "x", {"recent": "1m"}))

    def failures(name: str) -> float | None:
        for family in op.registry.collect():
            for s in family.samples:
                if s.name == "keptn_provider_failures_total" and s.labels["provider"] == name:
                    return s.value
        return None

    async def counted() -> bool:
        return (failures("down") or 0) >= 1

    await eventually_async(counted, within=20)
    assert failures("prom") == 0  # the provider that answered is registered, not failed
