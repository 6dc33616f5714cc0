"""`klt trace` against a sandbox holding a finished app version, and from a JSON-lines trace file."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from lifecycle.commands import cli
from sandbox import Sandbox
from tests.commands import samples
from tests.support.spans import build_version_spans
from tracing.setup import span_to_dict


async def _klt(*argv: str) -> int:
    return await asyncio.to_thread(cli.main, list(argv))


async def test_trace_prints_the_timeline_from_the_cluster(
    cluster: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    kubeconfig = str(cluster.kubeconfig_path)
    code = await _klt(
        "trace",
        "podtato-head-0.1.0-abc",
        "-n",
        "podtato-kubectl",
        "--kubeconfig",
        kubeconfig,
        "--width",
        "120",
    )
    out = capsys.readouterr().out
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0].startswith("podtato-head-0.1.0-abc  Failed  9.0s")
    assert sum("WorkloadDeploy " in line for line in lines) == 2
    assert any(line.strip().startswith("hat 0.1.0") and "Failed" in line for line in lines)
    assert "error-rate-ok: value 0.2 target <0.05" in out


async def test_trace_finds_the_newest_version_by_app_name(
    cluster: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    code = await _klt("trace", "podtato-head", "--kubeconfig", str(cluster.kubeconfig_path))
    assert code == 0
    assert capsys.readouterr().out.startswith("podtato-head-0.1.0-abc")


async def test_trace_unknown_version_exits_1(
    cluster: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    code = await _klt(
        "trace", "nope", "-n", "podtato-kubectl", "--kubeconfig", str(cluster.kubeconfig_path)
    )
    assert code == 1
    assert "no KeptnAppVersion 'nope' in namespace podtato-kubectl" in capsys.readouterr().err


def test_trace_from_a_span_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "spans.jsonl"
    bodies = [samples.app_version(), *samples.workload_versions()]
    lines = [json.dumps(span_to_dict(s)) for b in bodies for s in build_version_spans(b)]
    path.write_text("\n".join(lines) + "\n{torn")
    assert cli.main(["trace", "podtato-head-0.1.0", "--spans", str(path), "--width", "120"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("podtato-head-0.1.0-abc  Failed  9.0s")
    assert "hat 0.1.0" in out
    assert cli.main(["trace", "nothing", "--spans", str(path)]) == 1
