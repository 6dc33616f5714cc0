"""The release view's pure data: applications, timeline bars, heatmaps (no cluster, no browser)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from lifecycle.commands.status import trace_id
from lifecycle.commands.timeline import Bar, Timeline
from lifecycle.ui import views

NOW = datetime(2026, 1, 1, 12, 0, 10, tzinfo=UTC)


def kav(version: str, state: str, created: str, uid: str = "", **status: Any) -> dict[str, Any]:
    return {
        "kind": "KeptnAppVersion",
        "metadata": {
            "name": f"shop-{version}-6b86b273",
            "namespace": "ns",
            "uid": uid or f"uid-{version}",
            "creationTimestamp": created,
        },
        "spec": {
            "appName": "shop",
            "version": version,
            "workloads": [{"name": "cart", "version": version}],
        },
        "status": {"status": state, **status},
    }


def evaluation(name: str, owner: str, created: str, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "creationTimestamp": created,
            "ownerReferences": [{"uid": owner}],
        },
        "spec": {
            "appName": "shop",
            "checkType": "post-eval",
            "evaluationDefinition": "slo",
            **spec,
        },
        "status": {
            "evaluationStatus": {
                "error-rate": {
                    "status": "Failed" if "bad" in name else "Succeeded",
                    "value": "0.2" if "bad" in name else "0.01",
                    "target": "<0.05",
                    "message": "m",
                }
            }
        },
    }


def test_applications_group_versions_newest_first_with_durations_and_reasons() -> None:
    carriers = {"AppDeploy": {"endTime": "2026-01-01T12:00:05Z", "reason": "cart Failed"}}
    apps = views.applications(
        [
            kav(
                "1.0.0",
                "Succeeded",
                "2026-01-01T11:00:00Z",
                startTime="2026-01-01T11:00:00Z",
                endTime="2026-01-01T11:00:02.5Z",
            ),
            kav(
                "1.1.0",
                "Progressing",
                "2026-01-01T12:00:00Z",
                startTime="2026-01-01T12:00:00Z",
                phaseTraceIDs=carriers,
            ),
        ],
        NOW,
    )
    assert [a["app"] for a in apps] == ["shop"]
    first, second = apps[0]["versions"]
    assert (first["version"], first["seconds"], first["reason"]) == ("1.1.0", 10.0, "cart Failed")
    assert (second["version"], second["seconds"], second["state"]) == ("1.0.0", 2.5, "Succeeded")


def test_trace_id_comes_from_the_root_traceparent() -> None:
    body = kav("1", "Succeeded", "", phaseTraceIDs={"root": {"traceparent": "00-abc-def-01"}})
    assert trace_id(body["status"]) == "abc"
    assert trace_id(kav("1", "Succeeded", "")["status"]) == ""


def test_timeline_bars_are_placed_relative_to_the_start() -> None:
    tl = Timeline(
        "t",
        "Failed",
        1_000_000_000,
        3_000_000_000,
        (
            Bar("root", 0, 1_000_000_000, 3_000_000_000, "Failed"),
            Bar("task", 1, 2_000_000_000, None, "Progressing", "why"),
        ),
    )
    bars = views.timeline_json(tl)["bars"]
    assert (bars[1]["left"], bars[1]["width"], bars[1]["running"]) == (0.5, 0.5, True)
    assert bars[1]["note"] == "why"


def test_app_heatmap_takes_app_and_workload_evaluations_of_each_version() -> None:
    versions = [
        kav("1", "Succeeded", "2026-01-01T10:00:00Z"),
        kav("2", "Failed", "2026-01-01T11:00:00Z"),
    ]
    evaluations = [
        evaluation("good", "uid-1", "2026-01-01T10:00:01Z", appVersion="1"),
        evaluation("bad", "uid-2", "2026-01-01T11:00:01Z", appVersion="2"),
        # a workload's evaluation belongs to each app version that lists that workload version
        evaluation(
            "wl-good", "kwv", "2026-01-01T11:00:02Z", workload="shop-cart", workloadVersion="2"
        ),
        # another app's evaluation does not
        {**evaluation("other", "uid-2", "2026-01-01T11:00:03Z"), "spec": {"appName": "x"}},
    ]
    heat = views.app_quality("shop", versions, evaluations)
    assert [c.label for c in heat.columns] == ["1", "2"]
    assert heat.rows == [
        "post-eval · app · slo · error-rate",
        "post-eval · cart · slo · error-rate",
    ]
    one, two = heat.columns
    assert list(one.cells) == ["post-eval · app · slo · error-rate"]
    assert (one.verdict, one.score) == ("pass", "1/1")
    assert two.cells["post-eval · app · slo · error-rate"].result == "fail"
    assert two.cells["post-eval · cart · slo · error-rate"].value == "0.01"
    assert (two.verdict, two.score) == ("fail", "1/2")
    json.dumps(heat.to_json())


def analysis(name: str, raw: dict[str, Any] | None, created: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "creationTimestamp": created},
        "spec": {"analysisDefinition": {"name": "quality"}, "args": {"svc": name}},
        "status": {"state": "Completed", "raw": json.dumps(raw)} if raw else {},
    }


def test_definition_heatmap_reads_ours_and_klts_raw_and_shows_baselines() -> None:
    ours = {
        "objectiveResults": [
            {
                "objective": {"analysisValueTemplateRef": {"name": "latency"}},
                "value": 0.3,
                "score": 0.5,
                "status": "warning",
                "target": "warning >+10% of avg(last 3)",
                "reason": "warning target met: 0.3 fulfils >0.22 (>+10% of avg=0.2 of 3)",
            }
        ],
        "totalScore": 0.5,
        "maximumScore": 1,
        "verdict": "warning",
        "reason": "50%",
    }
    klts = {  # KLT's raw: no status, target or reason per objective
        "objectiveResults": [
            {
                "objective": {"analysisValueTemplateRef": {"name": "latency"}},
                "value": 1,
                "score": 0,
                "result": {"pass": False, "warning": False},
            },
            {
                "objective": {"analysisValueTemplateRef": {"name": "extra"}},
                "value": 2,
                "score": 1,
                "result": {"pass": True, "warning": False},
            },
        ],
        "totalScore": 1,
        "maximumScore": 2,
    }
    definition = {"spec": {"objectives": [{"analysisValueTemplateRef": {"name": "latency"}}]}}
    heat = views.definition_quality(
        definition,
        "quality",
        [
            analysis("b", klts, "2026-01-02T00:00:00Z"),
            analysis("a", ours, "2026-01-01T00:00:00Z"),
            analysis("c", None, "2026-01-03T00:00:00Z"),
        ],
    )
    assert heat.rows == ["latency", "extra"]
    a, b, c = heat.columns
    assert a.cells["latency"].baseline == ">+10% of avg=0.2 of 3"
    assert (a.verdict, a.score) == ("warning", "0.5/1")
    assert (b.cells["latency"].result, b.cells["extra"].result) == ("fail", "pass")
    assert b.score == "1/2"
    assert (c.verdict, c.cells) == ("pending", {})
