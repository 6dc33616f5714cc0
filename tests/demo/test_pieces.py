"""Pure parts of `klt demo`: the rendered versions of the example and the progress board."""

from __future__ import annotations

import copy

from rich.console import Console

from lifecycle.demo import manifests
from lifecycle.demo.scenario import STEPS, failure_reason
from lifecycle.demo.view import Board, events_table, row_of, sort_events


def test_render_version_changes_only_versions_and_the_provider_url() -> None:
    docs = manifests.load_example()
    before = copy.deepcopy(docs)
    rendered = manifests.render_version(docs, "0.2.0", "http://127.0.0.1:1234")
    assert docs == before  # input untouched
    by_kind = {}
    for doc in rendered:
        by_kind.setdefault(doc["kind"], []).append(doc)
    app = by_kind["KeptnApp"][0]["spec"]
    assert app["version"] == "0.2.0" and {w["version"] for w in app["workloads"]} == {"0.2.0"}
    assert by_kind["KeptnMetricsProvider"][0]["spec"]["targetServer"] == "http://127.0.0.1:1234"
    workloads = by_kind["Deployment"] + by_kind["StatefulSet"]
    assert len(workloads) == 4
    for wl in workloads:
        meta = wl["spec"]["template"]["metadata"]
        version = (
            meta["annotations"].get("keptn.sh/version")
            or meta["labels"]["app.kubernetes.io/version"]
        )
        assert version == "0.2.0"
        assert all(
            c["image"].endswith(":0.2.0") for c in wl["spec"]["template"]["spec"]["containers"]
        )
    hat = next(w for w in workloads if w["metadata"]["name"] == "podtato-head-hat")
    # hat names its version by label only; no annotation is added behind its back
    assert "keptn.sh/version" not in hat["spec"]["template"]["metadata"]["annotations"]
    # everything else is the same document
    assert [d["kind"] for d in rendered] == [d["kind"] for d in docs]
    assert by_kind["KeptnTaskDefinition"] == [d for d in docs if d["kind"] == "KeptnTaskDefinition"]


def test_context_is_applied_before_its_app() -> None:
    kinds = [d["kind"] for d in manifests.load_example()]
    assert kinds.index("KeptnAppContext") < kinds.index("KeptnApp")
    assert kinds[0] == "Namespace"


def test_steps_tell_three_different_stories() -> None:
    assert [s.version for s in STEPS] == ["0.1.0", "0.2.0", "0.3.0"]
    assert [s.expect_state for s in STEPS] == ["Succeeded", "Failed", "Failed"]
    assert STEPS[1].error_ratio > 0.05 > STEPS[0].error_ratio  # error-rate-ok's target is <0.05
    assert STEPS[2].held_workload == "frontend"


def _version(kind: str, name: str, phase: str, state: str) -> dict:
    spec = {"appName": "podtato-head"} if kind == "KeptnAppVersion" else {"app": "podtato-head"}
    return {
        "kind": kind,
        "metadata": {"name": name},
        "spec": {**spec, "version": "0.1.0"},
        "status": {"currentPhase": phase, "status": state, "startTime": "2026-11-27T12:00:00Z"},
    }


def test_board_reports_only_changes_and_groups_workloads_under_their_app() -> None:
    board = Board()
    av = _version("KeptnAppVersion", "podtato-head-0.1.0-abc", "AppDeploy", "Progressing")
    wv = _version(
        "KeptnWorkloadVersion", "podtato-head-frontend-0.1.0", "WorkloadDeploy", "Progressing"
    )
    assert [r.name for r in board.update([av, wv])] == [
        av["metadata"]["name"],
        wv["metadata"]["name"],
    ]
    assert board.update([av, wv]) == []
    wv["status"]["status"] = "Succeeded"
    assert [r.state for r in board.update([av, wv])] == ["Succeeded"]
    console = Console(width=120, record=True)
    console.print(board.table())
    text = console.export_text()
    lines = [
        line for line in text.splitlines() if "podtato-head-0.1.0-abc" in line or "frontend" in line
    ]
    assert "AppDeploy" in lines[0] and "Progressing" in lines[0]
    assert "  frontend " in lines[1] and "Succeeded" in lines[1]


def test_a_board_row_reads_each_kind_s_own_app_field() -> None:
    # An AppVersion names its app in spec.appName, a WorkloadVersion in spec.app; a missing one
    # is blank (the old reader printed "None" for an AppVersion without appName).
    app = {"kind": "KeptnAppVersion", "metadata": {"name": "a-1"}, "spec": {"appName": "a"}}
    workload = {"kind": "KeptnWorkloadVersion", "metadata": {"name": "a-w-1"}, "spec": {"app": "a"}}
    assert (row_of(app).app, row_of(workload).app) == ("a", "a")
    assert row_of({"kind": "KeptnAppVersion", "metadata": {"name": "b"}, "spec": {}}).app == ""
    assert row_of({**workload, "spec": {"appName": "a"}}).app == ""


def test_events_in_recorded_order_and_failure_reasons() -> None:
    def event(reason: str, when: str, rv: str) -> dict:
        return {
            "reason": reason,
            "type": "Warning" if "Errored" in reason else "Normal",
            "eventTime": when,
            "metadata": {"resourceVersion": rv},
            "involvedObject": {"kind": "KeptnAppVersion", "name": "a"},
            "message": f"{reason} text / Namespace: x",
        }

    events = [
        event("AppDeployErrored", "2026-11-27T12:00:02.000001Z", "9"),
        event("AppDeployStarted", "2026-11-27T12:00:01.000001Z", "5"),
    ]
    assert [e["reason"] for e in sort_events(events)] == ["AppDeployStarted", "AppDeployErrored"]
    console = Console(width=160, record=True)
    console.print(events_table(events))
    out = console.export_text()
    assert out.index("AppDeployStarted") < out.index("AppDeployErrored")
    assert "/ Namespace" not in out  # KLT's trailing context is cut
    evaluation = {
        "kind": "KeptnEvaluation",
        "metadata": {"name": "post-eval-error-rate-ok-1"},
        "spec": {"evaluationDefinition": "error-rate-ok"},
        "status": {
            "evaluationStatus": {
                "http-error-rate": {
                    "status": "Failed",
                    "message": "value '0.23' did not meet objective '<0.05'",
                },
                "latency-p95": {"status": "Succeeded", "message": "ok"},
            }
        },
    }
    assert failure_reason(evaluation) == (
        "evaluation post-eval-error-rate-ok-1 (error-rate-ok): "
        "http-error-rate: value '0.23' did not meet objective '<0.05'"
    )
    task = {
        "kind": "KeptnTask",
        "metadata": {"name": "pre-check-db-schema-1"},
        "spec": {"taskDefinition": "check-db-schema"},
        "status": {"message": "Job has reached the specified backoff limit"},
    }
    assert failure_reason(task).endswith(
        "(check-db-schema): Job has reached the specified backoff limit"
    )


def test_the_events_table_fits_80_columns_without_splitting_words() -> None:
    events = [
        {
            "reason": "AppPreDeployTasksStarted",
            "type": "Normal",
            "eventTime": "2026-11-27T12:00:01.000001Z",
            "metadata": {"resourceVersion": "1"},
            "involvedObject": {"kind": "KeptnAppVersion", "name": "podtato-head-0.1.0-6b86b273"},
            "message": "\nStarted AppPreDeployTasks of podtato-head in version 0.1.0 " * 3,
        }
    ]
    console = Console(width=80, record=True)
    console.print(events_table(events, width=80))
    lines = console.export_text().splitlines()
    assert max(len(line) for line in lines) <= 80
    # the header and one row: nothing folded, the restated message left out at this width
    assert len(lines) == 2 and lines[0].split() == ["TYPE", "REASON", "OBJECT", "COUNT"]
    assert "AppPreDeployTasksStarted" in lines[1] and "keptnappversion/podtato-head" in lines[1]
    warning = {**events[0], "type": "Warning", "reason": "AppPreDeployTasksErrored"}
    console = Console(width=80, record=True)
    console.print(events_table([warning], width=80))
    lines = console.export_text().splitlines()
    assert max(len(line) for line in lines) <= 80 and len(lines) == 3
    assert lines[2].startswith("  Started AppPreDeployTasks") and lines[2].endswith("…")


def test_closing_hints_name_live_cluster_commands_only_with_keep() -> None:
    from lifecycle.demo import _hints

    gone = [t.plain for t in _hints(False, "demo-out/kubeconfig", "podtato-head", "s.jsonl")]
    assert not any("--kubeconfig" in line for line in gone)  # the cluster is gone by then
    assert "klt trace podtato-head --spans s.jsonl" in gone
    assert any("klt demo --keep" in line and "make demo KEEP=1" in line for line in gone)
    kept = [t.plain for t in _hints(True, "demo-out/kubeconfig", "podtato-head", "s.jsonl")]
    assert any(line.startswith("klt status --kubeconfig") for line in kept)
