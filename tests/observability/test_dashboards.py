"""Dashboards: valid structure, every query parses and selects only metrics Telemetry exports."""

from __future__ import annotations

import yaml
from prometheus_client import CollectorRegistry

from lifecycle.observability.telemetry import Telemetry
from tests.observability.dashboards import (
    dashboard_queries,
    load_dashboards,
    metric_names,
    substitute,
)
from tests.observability.test_telemetry import exercise
from tests.support.paths import REPO_ROOT

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


def test_new_panels_separate_levels_and_link_exemplars_to_traces() -> None:
    dashboards = load_dashboards()
    queries = dashboard_queries(include_variables=False)
    dora = [q for q in queries if q.dashboard == "keptn-dora.json"]
    for query in dora:
        # every DORA query picks one level: apps (workload="") or workloads (workload!="")
        if "keptn_dora_" in query.expr:
            assert 'workload=""' in query.expr or 'workload!=""' in query.expr, query
        # quantiles over a window, never over lifetime buckets
        if "histogram_quantile" in query.expr:
            assert "increase(" in query.expr or "rate(" in query.expr, query
    variable = next(
        v for v in dashboards["keptn-dora.json"]["templating"]["list"] if v["name"] == "workload"
    )
    assert 'workload!=""' in variable["query"]["query"] and variable["allValue"] == ".+"
    for name in ("keptn-applications.json", "keptn-workloads.json"):
        panels = dashboards[name]["panels"]
        assert any(p["type"] == "state-timeline" for p in panels), name
        exemplars = [t for p in panels for t in p.get("targets", []) if t.get("exemplar")]
        assert exemplars and all(
            "keptn_phase_duration_seconds_bucket" in t["expr"] for t in exemplars
        )
        assert any("expr" in a for a in dashboards[name]["annotations"]["list"]), name
    provisioning = REPO_ROOT / "deploy" / "grafana" / "provisioning"
    datasources = yaml.safe_load((provisioning / "datasources" / "keptn.yaml").read_text())
    prometheus = next(d for d in datasources["datasources"] if d["type"] == "prometheus")
    tempo = next(d for d in datasources["datasources"] if d["type"] == "tempo")
    assert prometheus["jsonData"]["exemplarTraceIdDestinations"] == [
        {"name": "trace_id", "datasourceUid": tempo["uid"]}
    ]
