"""`klt demo` end to end (sandbox, operator, Prometheus, kubectl, python and deno tasks), then `klt trace`.

One run with `--keep`: the demo must report the three outcomes and their timelines, stay up,
answer `klt trace` against its live cluster, and on SIGTERM stop everything it started (no
Prometheus left behind) and exit with the verdict's code. Afterwards `klt trace --spans` draws the
same app version from the trace file. Needs /usr/bin/prometheus and deno (scripts/bootstrap.sh).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.paths import REPO_ROOT

REPO = REPO_ROOT
KLT = [sys.executable, "-m", "lifecycle.commands.cli"]


def _klt(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*KLT, *argv], cwd=cwd, capture_output=True, text=True, timeout=60, env=_env()
    )


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "140", "TERM": "dumb"}


def _children_of(pid: int) -> list[int]:
    found = []
    for status in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = status.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(status.parent.name))
    return found


@pytest.mark.timeout(150)
def test_demo_runs_the_three_versions_and_stops_cleanly(tmp_path: Path) -> None:
    out = tmp_path / "demo-out"
    proc = subprocess.Popen(
        [*KLT, "demo", "--keep", "--out", str(out), "--width", "140"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_env(),
    )
    lines: list[str] = []
    prometheus: list[int] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 100
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("still running (--keep)"):
                break
        text = "".join(lines)
        assert "still running (--keep)" in text, text[-4000:]
        prometheus = [
            p
            for p in _children_of(proc.pid)
            if "prometheus" in Path(f"/proc/{p}/cmdline").read_text()
        ]
        assert len(prometheus) == 1

        # the three stories, each as expected
        assert "podtato-head 0.1.0: Succeeded" in text
        assert "podtato-head 0.2.0: Failed" in text
        assert "podtato-head 0.3.0: Failed" in text
        assert text.count("✔ as expected") == 3, text[-4000:]
        assert "klt demo: every version ended as expected" in text
        # live progress printed phase changes
        assert "AppVersion podtato-head-0.1.0-6b86b273  AppPreDeployTasks  Progressing" in text
        # the failures are visible: evaluation errored, task errored, pods gated
        assert "WorkloadPostDeployEvaluationsErrored" in text
        assert "WorkloadPreDeployTasksErrored" in text
        # kubectl's STATUS column, or the API fallback's gate list when kubectl is missing
        assert "SchedulingGated" in text or "keptn-prechecks-gate" in text
        # a timeline per version, with the app phases as rows
        assert text.count("  AppPreDeployTasks ") >= 3
        assert "kubectl --kubeconfig" in text and "klt trace podtato-head-0.3.0" in text

        # klt trace against the live cluster
        kubeconfig = str(out / "kubeconfig")
        traced = _klt(
            "trace",
            "podtato-head-0.2.0",
            "-n",
            "podtato-kubectl",
            "--kubeconfig",
            kubeconfig,
            "--width",
            "140",
            cwd=tmp_path,
        )
        assert traced.returncode == 0, traced.stderr
        assert traced.stdout.startswith("podtato-head-0.2.0-d4735e3a  Failed")
        assert "WorkloadPostDeployEvaluations" in traced.stdout

        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, rest[-2000:]
    for pid in prometheus:  # stopped with the demo, not orphaned
        assert (
            not Path(f"/proc/{pid}").exists()
            or "prometheus" not in Path(f"/proc/{pid}/cmdline").read_text()
        )

    # after the demo: the trace file still tells the story
    spans = out / "spans.jsonl"
    assert spans.stat().st_size > 0
    offline = _klt(
        "trace", "podtato-head-0.3.0", "--spans", str(spans), "--width", "140", cwd=tmp_path
    )
    assert offline.returncode == 0, offline.stderr
    assert offline.stdout.startswith("podtato-head-0.3.0-4e074085  Failed")
    assert "check-db-schema" in offline.stdout  # task spans are labelled by their definition
