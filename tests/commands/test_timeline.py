"""lifecycle.commands.timeline: Gantt rows from status and from exported spans (pure, no loop)."""

from __future__ import annotations

import math

from lifecycle.commands import gantt, timeline
from tests.commands import samples
from tests.support.spans import build_version_spans
from tracing.setup import span_to_dict


def _labels(tl: timeline.Timeline) -> list[str]:
    return ["  " * b.depth + b.label for b in tl.bars]


def test_rows_follow_the_flow_order() -> None:
    tl = timeline.from_status(samples.app_version(), samples.workload_versions())
    assert tl.title == "podtato-head-0.1.0-abc"
    assert tl.state == "Failed"
    assert _labels(tl) == [
        "podtato-head-0.1.0-abc",
        "  AppPreDeployTasks",
        "    check-entry-config",
        "  AppPreDeployEvaluations",
        "    availability-ok",
        "  AppDeploy",
        # frontend started first, so it comes first although listed second
        "    frontend 0.1.0",
        "      WorkloadPreDeployTasks",
        "        wait-for-dependencies",
        "      WorkloadDeploy",
        "      WorkloadPostDeployEvaluations",
        "        error-rate-ok",
        "    hat 0.1.0",
        "      WorkloadPreDeployTasks",
        "        wait-for-dependencies",
        "      WorkloadDeploy",
        "      WorkloadPostDeployEvaluations",
        "        error-rate-ok",
    ]
    assert tl.end_ns - tl.start_ns == 9_000_000_000


def test_a_failed_phase_notes_the_reason_the_machine_writes() -> None:
    app = samples.app_version()
    app["status"]["phaseTraceIDs"]["AppDeploy"]["message"] = "stale"  # a field nobody writes
    tl = timeline.from_status(app, samples.workload_versions())
    notes = {b.label: b.note for b in tl.bars if b.note}
    assert notes["AppDeploy"] == "workload hat failed"
    assert notes["WorkloadPostDeployEvaluations"] == "error-rate-ok: value 0.2 target <0.05"


def test_not_compact_keeps_instant_phases() -> None:
    tl = timeline.from_status(samples.app_version(), samples.workload_versions(), compact=False)
    labels = [b.label for b in tl.bars]
    assert labels.count("WorkloadPreDeployEvaluations") == 2
    assert labels.count("WorkloadPostDeployTasks") == 2


def test_text_draws_bars_on_one_axis() -> None:
    tl = timeline.from_status(samples.app_version(), samples.workload_versions())
    text = gantt.render(tl, width=100, label_width=40).plain
    lines = text.splitlines()
    assert lines[0].startswith("podtato-head-0.1.0-abc  Failed  9.0s")
    assert "0s" in lines[1] and "9.0s" in lines[1]
    rows = {line[:40].strip(): line for line in lines[2:]}
    bar_width = 100 - 40 - 22
    root = rows["podtato-head-0.1.0-abc"]
    assert root[41 : 41 + bar_width] == "▓" * bar_width  # the failed root spans the whole axis
    pre = rows["AppPreDeployTasks"]
    bar = pre[41 : 41 + bar_width]
    # 1.5 s of 9 s: the first sixth of the axis, drawn as a success
    assert bar.rstrip() == "█" * math.ceil(bar_width * 1.5 / 9)
    assert pre.rstrip().endswith("1.5s Succeeded")
    failed = [
        i
        for i, line in enumerate(lines)
        if "WorkloadPostDeployEvaluations" in line and "Failed" in line
    ]
    # the reason does not fit beside the bar at 100 columns: it goes on the line below
    assert len(failed) == 1 and "error-rate-ok: value 0.2 target <0.05" in lines[failed[0] + 1]
    assert all(len(line) <= 100 for line in lines)
    # later bars start further right: hat's deploy begins after frontend's
    deploys = [line for line in lines if line.strip().startswith("WorkloadDeploy")]
    starts = [line[41:].index("█") for line in deploys]
    assert starts[0] < starts[1]


def test_running_bars_end_at_now() -> None:
    av = samples.app_version(running=True)
    now = samples.BASE.timestamp() * 1e9 + 5e9
    tl = timeline.from_status(av, [], now_ns=int(now))
    deploy = next(b for b in tl.bars if b.label == "AppDeploy")
    assert deploy.end_ns is None and deploy.state == "Progressing"
    assert tl.end_ns == int(now)
    text = gantt.render(tl).plain
    assert "3.0s…" in text  # AppDeploy: from 2 s to now (5 s), still running
    assert tl.state == "Progressing"


def test_rich_render_colours_failures_red() -> None:
    tl = timeline.from_status(samples.app_version(), samples.workload_versions())
    rendered = gantt.render(tl)
    styles = {str(span.style) for span in rendered.spans}
    assert "bold red" in styles and "green" in styles


def test_from_spans_rebuilds_the_same_hierarchy() -> None:
    bodies = [samples.app_version(), *samples.workload_versions()]
    spans = [span_to_dict(s) for body in bodies for s in build_version_spans(body)]
    spans += spans[:3]  # re-exports after a restart are folded
    timelines = timeline.from_spans(spans)
    assert len(timelines) == 1
    tl = timelines[0]
    assert tl.title == "podtato-head-0.1.0-abc"
    assert tl.state == "Failed"
    labels = _labels(tl)
    assert labels[:4] == [
        "podtato-head-0.1.0-abc",
        "  AppPreDeployTasks",
        "  AppPreDeployEvaluations",
        "  AppDeploy",
    ]
    # workload roots hang under AppDeploy through their "parent" carrier, phases under them
    assert labels[4:7] == [
        "    frontend 0.1.0",
        "      WorkloadPreDeployTasks",
        "      WorkloadDeploy",  # the instant pre-deployment evaluations are left out
    ]
    assert sum(label.strip() == "WorkloadDeploy" for label in labels) == 2
    full = _labels(timeline.from_spans(spans, compact=False)[0])
    # all phases kept, same-instant phases in flow order (PreDeployEvaluations before Deploy)
    assert full[4:8] == [
        "    frontend 0.1.0",
        "      WorkloadPreDeployTasks",
        "      WorkloadPreDeployEvaluations",
        "      WorkloadDeploy",
    ]
    failed = [b for b in tl.bars if b.state == "Failed"]
    assert [b.label for b in failed] == [
        "podtato-head-0.1.0-abc",
        "AppDeploy",
        "hat 0.1.0",
        "WorkloadPostDeployEvaluations",
    ]
    assert "error-rate-ok: value 0.2" in failed[-1].note


def test_empty_input() -> None:
    assert timeline.from_spans([]) == []
    tl = timeline.from_status({"metadata": {"name": "x"}, "status": {}})
    assert tl.bars == () and gantt.render(tl).plain.startswith("x  Pending")


def test_every_line_fits_80_columns_and_words_are_cut_with_an_ellipsis() -> None:
    av = samples.app_version()
    long_reason = "\nthe evaluation " + "error-rate-ok: value 0.2 target <0.05 " * 8
    av["status"]["phaseTraceIDs"]["AppPreDeployTasks"]["reason"] = long_reason
    av["status"]["phaseTraceIDs"]["AppPreDeployTasks"]["state"] = "Failed"
    tl = timeline.from_status(av, samples.workload_versions())
    lines = gantt.render(tl, width=80).plain.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert any(line.startswith("  AppPreDeployTasks ") for line in lines)  # depth kept
    assert any(line.startswith("      WorkloadPostDeployEvaluatio…") for line in lines)
    reason = next(line for line in lines if "the evaluation" in line)
    assert reason.endswith("…") and reason.lstrip().startswith("the evaluation error-rate-ok")
    # -o wide: the whole reason on the bar's line, one line (no newline from the message)
    wide = gantt.render(tl, width=80, full=True).plain.splitlines()
    full = next(line for line in wide if "the evaluation" in line)
    assert "AppPreDeployTasks" in full and full.rstrip().endswith("target <0.05")
