"""`klt` as a user runs it (subprocess): kubectl-style one/two-line failures with exit code 1,
tracebacks only with --debug, --version, and start-up that imports only what the command needs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import REPO_ROOT

REPO = REPO_ROOT
KLT = [sys.executable, "-m", "lifecycle.commands.cli"]


def klt(
    *argv: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    return subprocess.run(
        [*KLT, *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env={**base, "PYTHONPATH": str(REPO), **(env or {})},
    )


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once the socket is closed


def kubeconfig_for(path: Path, server: str) -> Path:
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        f"clusters: [{{name: c, cluster: {{server: '{server}', insecure-skip-tls-verify: true}}}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
    )
    return path


def test_version() -> None:
    done = klt("--version")
    assert done.returncode == 0 and done.stdout.strip() == "klt 0.1.0"


def test_help_imports_none_of_the_subcommands() -> None:
    """`klt --help` lists every command without importing one (≈ 0.05 s instead of 0.7 s)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "lifecycle.commands.cli", "--help"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert done.returncode == 0
    for command in ("operator", "sandbox", "demo", "status", "trace"):
        assert command in done.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    heavy = {
        "aiohttp",
        "kubernetes_asyncio",
        "rich",
        "opentelemetry",
        "lifecycle.commands.status",
        "lifecycle.operator.root",
        "lifecycle.operator.main",
    }
    assert not heavy & imported, heavy & imported


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["status"], "error: no kubeconfig: "),
        (
            ["status", "--kubeconfig", "{tmp}/none.yaml"],
            "error: the kubeconfig {tmp}/none.yaml does not exist",
        ),
        (
            ["status", "--kubeconfig", "{tmp}/bad.yaml"],
            "error: not valid YAML ({tmp}/bad.yaml, line 2)",
        ),
        (
            ["status", "--kubeconfig", "{tmp}/empty.yaml"],
            "error: kubeconfig {tmp}/empty.yaml: current-context is not set",
        ),
        (
            ["status", "--kubeconfig", "{tmp}/stopped.yaml"],
            "error: the connection to the server 127.0.0.1:",
        ),
        (
            ["trace", "app", "--kubeconfig", "{tmp}/stopped.yaml"],
            "error: the connection to the server 127.0.0.1:",
        ),
        (
            ["trace", "app", "--spans", "{tmp}/none.jsonl"],
            "error: the trace file {tmp}/none.jsonl does not exist",
        ),
        (
            ["operator", "--kubeconfig", "{tmp}/none.yaml"],
            "error: the kubeconfig {tmp}/none.yaml does not exist",
        ),
        (
            ["operator", "--kubeconfig", "{tmp}/bad.yaml"],
            "error: not valid YAML ({tmp}/bad.yaml, line 2)",
        ),
        (
            ["demo", "--out", "{tmp}/bad.yaml/out"],
            "error: cannot write to --out {tmp}/bad.yaml/out: Not a directory",
        ),
    ],
    ids=[
        "status-no-kubeconfig",
        "status-missing-file",
        "status-bad-yaml",
        "status-empty-kubeconfig",
        "status-stopped-cluster",
        "trace-stopped-cluster",
        "trace-missing-span-file",
        "operator-missing-file",
        "operator-bad-yaml",
        "demo-unwritable-out",
    ],
)
def test_expected_failures_are_two_lines_and_exit_1(
    tmp_path: Path, argv: list[str], expected: str
) -> None:
    (tmp_path / "bad.yaml").write_text("clusters: [unclosed\n")
    (tmp_path / "empty.yaml").write_text("apiVersion: v1\nkind: Config\n")
    kubeconfig_for(tmp_path / "stopped.yaml", f"https://127.0.0.1:{closed_port()}")
    args = [a.format(tmp=tmp_path) for a in argv]
    done = klt(*args, env={"HOME": str(tmp_path)})
    assert done.returncode == 1, done.stderr
    lines = done.stderr.splitlines()
    assert 1 <= len(lines) <= 2, done.stderr
    assert lines[0].startswith(expected.format(tmp=tmp_path)), done.stderr
    assert len(lines) == 1 or lines[1].startswith("hint: ")
    assert done.stdout == ""


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    done = klt("status", "--debug", "--kubeconfig", str(tmp_path / "none.yaml"))
    assert done.returncode == 1
    assert "Traceback (most recent call last)" in done.stderr
    assert "CliError: the kubeconfig" in done.stderr


def test_operator_json_logs_leave_stdout_empty(tmp_path: Path) -> None:
    """With --log-format json every line is a JSON record on stderr, stdout stays empty."""
    import json
    import signal

    kubeconfig = kubeconfig_for(tmp_path / "stopped.yaml", f"https://127.0.0.1:{closed_port()}")
    base = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    proc = subprocess.Popen(
        [*KLT, "operator", "--kubeconfig", str(kubeconfig), "--log-format", "json",
         "--metrics-port", "0", "--probe-port", "0", "--webhook-port", "0", "--no-webhooks",
         "--no-leader-elect", "--cert-dir", str(tmp_path / "certs")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**base, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        first = ""
        while "operator listening" not in first:  # then the informers' failed lists
            line = proc.stderr.readline()
            assert line, "the operator exited before listening"
            first += line
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert out == ""
    records = [json.loads(line) for line in (first + err).splitlines() if line.strip()]
    assert records and all({"ts", "level", "logger", "msg"} <= r.keys() for r in records)
    assert any(r["msg"] == "operator listening" and "ports" in r for r in records)


@pytest.mark.parametrize("argv", [["status"], ["trace", "nope"]], ids=["status", "trace"])
async def test_reading_the_cluster_imports_no_http_library(argv: list[str]) -> None:
    """`klt status`/`klt trace` against a live cluster use the standard-library transport:
    neither aiohttp nor kubernetes_asyncio is imported (each costs more than the 0.2 s budget)."""
    import asyncio

    from sandbox import Sandbox

    async with Sandbox(node=False) as sb:
        cmd = [sys.executable, "-X", "importtime", "-m", "lifecycle.commands.cli", *argv]
        done = await asyncio.to_thread(
            subprocess.run,
            [*cmd, "--kubeconfig", str(sb.kubeconfig_path)],
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=60,
        )
    lines = done.stderr.splitlines()
    imported = {line.rsplit("|", 1)[-1].strip() for line in lines if "import time:" in line}
    if argv == ["status"]:
        assert done.returncode == 0 and "AppVersions" in done.stdout, done.stderr
    else:  # it asked the cluster: the list came back without the app version
        assert done.returncode == 1 and "error: no KeptnAppVersion 'nope'" in done.stderr
    assert "lifecycle.kube.stdtransport" in imported
    assert not {"aiohttp", "kubernetes_asyncio", "lifecycle.kube.aiotransport"} & imported
