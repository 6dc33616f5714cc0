"""Dashboards: valid structure, every query parses and selects only metrics Telemetry exports."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from lifecycle.telemetry import Telemetry
from tests.observability.dashboards import (
    dashboard_queries,
    load_dashboards,
    metric_names,
    substitute,
)
from tests.observability.test_telemetry import exercise

# Series Prometheus itself adds to every scrape.
SCRAPE_SERIES = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
EXPECTED = {
    "keptn-applications.json",
    "keptn-workloads.json",
    "keptn-tasks-evaluations.json",
    "keptn-dora.json",
    "keptn-operator.json",
}


def exported_names() -> set[str]:
    registry = CollectorRegistry()
    exercise(Telemetry(registry))
    return {sample.name for family in registry.collect() for sample in family.samples}


def test_dashboards_are_well_formed() -> None:
    dashboards = load_dashboards()
    assert set(dashboards) == EXPECTED
    uids = [d["uid"] for d in dashboards.values()]
    assert len(set(uids)) == len(uids)
    assert dashboards["keptn-applications.json"]["uid"] == "nbiPNgN4z"  # KLT's, for drop-in
    for name, dashboard in dashboards.items():
        ids = [p["id"] for p in dashboard["panels"]]
        assert len(set(ids)) == len(ids), name
        for panel in dashboard["panels"]:
            pos = panel["gridPos"]
            assert all(isinstance(pos[k], int) for k in ("h", "w", "x", "y")), (
                name,
                panel["title"],
            )
            assert pos["x"] + pos["w"] <= 24, (name, panel["title"])
        variables = {v["name"] for v in dashboard["templating"]["list"]}
        assert "datasource" in variables
    trace_panels = [
        p for d in dashboards.values() for p in d["panels"]
        if (p.get("datasource") or {}).get("type") == "tempo"
    ]  # fmt: skip
    assert len(trace_panels) >= 3


def test_every_query_parses_and_uses_exported_metrics() -> None:
    exported = exported_names() | SCRAPE_SERIES
    queries = dashboard_queries()
    assert len(queries) >= 60
    for query in queries:
        assert "$" not in query.expr, query
        names = metric_names(query.expr)  # raises on a parse error
        assert names, query
        assert names <= exported, (query.dashboard, query.panel, names - exported)
    assert {q.dashboard for q in queries} == EXPECTED


def test_substitution_handles_grafana_forms() -> None:
    expr = 'rate(x{a=~"$app", b="${ns}", c="[[wl]]"}[$__rate_interval]) offset $__range'
    assert (
        substitute(expr, {"app": "podtato"})
        == 'rate(x{a=~"podtato", b=".*", c=".*"}[1m]) offset 1h'
    )
