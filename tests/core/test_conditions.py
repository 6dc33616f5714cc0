"""lifecycle.core.conditions: the standard shape, kstatus polarity, and stable lastTransitionTime."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lifecycle.core.conditions import TYPES, outcome, with_conditions

T0 = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
Body = dict[str, Any]


def version(status: Body | None = None, generation: int = 3) -> Body:
    return {
        "kind": "KeptnAppVersion",
        "metadata": {"name": "podtato-0.1.0-abc", "generation": generation},
        "spec": {"appName": "podtato", "version": "0.1.0"},
        "status": status or {},
    }


def by_type(fields: Body) -> dict[str, Body]:
    return {c["type"]: c for c in fields["conditions"]}


@pytest.mark.parametrize(
    ("state", "true"),
    [
        ("Progressing", {"Progressing", "Reconciling"}),
        ("", {"Progressing", "Reconciling"}),
        ("Succeeded", {"Ready"}),
        ("Warning", {"Ready"}),
        ("Failed", {"Failed", "Stalled"}),
        ("Deprecated", set()),
    ],
)
def test_version_states_map_to_kstatus_polarity(state: str, true: set[str]) -> None:
    fields = with_conditions("KeptnAppVersion", version(), {"status": state}, T0)
    conds = by_type(fields)
    assert list(conds) == list(TYPES)
    assert {t for t, c in conds.items() if c["status"] == "True"} == true
    for cond in conds.values():
        assert set(cond) == {
            "type", "status", "reason", "message", "observedGeneration", "lastTransitionTime"
        }  # fmt: skip
        assert cond["observedGeneration"] == 3
        assert cond["lastTransitionTime"] == "2026-01-01T10:00:00Z"
        assert cond["reason"].isidentifier() and cond["reason"][0].isupper()


def test_failed_message_names_the_phase() -> None:
    status = {"status": "Failed", "currentPhase": "AppPreDeployTasks"}
    ready = by_type(with_conditions("KeptnAppVersion", version(), status, T0))["Failed"]
    assert ready["reason"] == "Failed" and "AppPreDeployTasks" in ready["message"]


def test_last_transition_time_changes_only_when_status_changes() -> None:
    first = with_conditions(
        "KeptnAppVersion", version(), {"currentPhase": "A", "status": "Progressing"}, T0
    )
    obj = version({"currentPhase": "A", "status": "Progressing", **first})
    # a new phase, same condition statuses: reason/message move, times stay
    later = T0 + timedelta(seconds=30)
    second = with_conditions("KeptnAppVersion", obj, {"currentPhase": "B"}, later)
    conds = by_type(second)
    assert conds["Progressing"]["reason"] == "B"
    assert {c["lastTransitionTime"] for c in conds.values()} == {"2026-01-01T10:00:00Z"}
    obj = version({**obj["status"], **second})
    done = T0 + timedelta(seconds=60)
    third = by_type(with_conditions("KeptnAppVersion", obj, {"status": "Succeeded"}, done))
    assert third["Ready"]["lastTransitionTime"] == "2026-01-01T10:01:00Z"
    assert third["Progressing"]["lastTransitionTime"] == "2026-01-01T10:01:00Z"
    assert third["Failed"]["lastTransitionTime"] == "2026-01-01T10:00:00Z"  # False all along


def test_unchanged_conditions_are_not_rewritten() -> None:
    first = with_conditions("KeptnAppVersion", version(), {"status": "Progressing"}, T0)
    obj = version({"status": "Progressing", **first})
    assert with_conditions("KeptnAppVersion", obj, {"startTime": "x"}, T0) == {"startTime": "x"}
    # a new generation is a change (observedGeneration moves), not a transition
    bumped = version({"status": "Progressing", **first}, generation=4)
    conds = by_type(with_conditions("KeptnAppVersion", bumped, {}, T0 + timedelta(hours=1)))
    assert conds["Ready"]["observedGeneration"] == 4
    assert conds["Ready"]["lastTransitionTime"] == "2026-01-01T10:00:00Z"


def test_other_kinds() -> None:
    app = {"kind": "KeptnApp", "metadata": {}, "spec": {"version": "2"}}
    assert outcome("KeptnApp", app, {"currentVersion": "1"}).state == "Progressing"  # type: ignore[union-attr]
    assert outcome("KeptnApp", app, {"currentVersion": "2"}).state == "Ready"  # type: ignore[union-attr]
    assert outcome("KeptnTask", {}, {"status": "Failed"}).state == "Failed"  # type: ignore[union-attr]
    assert outcome("KeptnEvaluation", {}, {"overallStatus": "Succeeded"}).state == "Ready"  # type: ignore[union-attr]
    metric = outcome("KeptnMetric", {}, {"errMsg": "\nconnection refused", "value": "1"})
    assert metric is not None and metric.state == "Error" and metric.message == "connection refused"
    failing = by_type(with_conditions("KeptnMetric", {}, {"errMsg": "boom"}, T0))
    assert failing["Failed"]["status"] == "True" and failing["Stalled"]["status"] == "False"
    analysis = {"state": "Completed", "pass": False}
    assert outcome("Analysis", {}, analysis).state == "Failed"  # type: ignore[union-attr]
    assert outcome("Analysis", {}, {**analysis, "warning": True}).state == "Ready"  # type: ignore[union-attr]
    assert outcome("KeptnConfig", {}, {}) is None
    assert with_conditions("KeptnConfig", {}, {"a": 1}, T0) == {"a": 1}
