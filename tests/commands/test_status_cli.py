"""`klt status` and `klt trace` like kubectl: fitting 80 columns, -o wide|json|yaml, --watch.

Each runs as a user runs it (a subprocess, stdout a pipe) against the sandbox of conftest.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys

import yaml

from lifecycle.commands.status import last_error
from lifecycle.core import model
from lifecycle.kube import KubeClient
from sandbox import Sandbox
from tests.commands import samples
from tests.support.paths import REPO_ROOT

REPO = REPO_ROOT
NS = "podtato-kubectl"


def _env(columns: int) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": str(columns), "TERM": "dumb"}


async def klt(*argv: str, columns: int = 80) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "lifecycle.commands.cli", *argv,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=_env(columns),
    )  # fmt: skip
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_status_fits_80_columns_and_wide_shows_everything(cluster: Sandbox) -> None:
    kubeconfig = str(cluster.kubeconfig_path)
    code, out, err = await klt("status", "--kubeconfig", kubeconfig)
    assert code == 0, err
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80, out
    assert "\x1b[" not in out  # plain when piped
    header = next(line for line in lines if line.startswith("NAMESPACE"))
    assert header.split() == ["NAMESPACE", "NAME", "VERSION", "PHASE", "STATE", "AGE"]
    at = next(i for i, line in enumerate(lines) if "podtato-head-hat-0.1.0" in line)
    # no room for a LAST ERROR column at 80: the error goes on its own line under the row
    assert "Failed" in lines[at]
    assert lines[at + 1] == "  last error: error-rate-ok: value 0.2 target <0.05"
    assert (
        len([line for line in lines if line.startswith(NS[:8])]) == 4
    )  # 1 app + 3 workload versions
    # -n drops the NAMESPACE column; -o wide cuts nothing and adds the trace id
    code, out, _ = await klt("status", "--kubeconfig", kubeconfig, "-n", NS, "-o", "wide")
    assert code == 0
    assert "NAMESPACE" not in out and "TRACE ID" in out and "WORKLOAD" in out
    hat = next(line for line in out.splitlines() if "podtato-head-hat-0.1.0" in line)
    assert "…" not in hat and f"{samples.TRACE:032x}" in hat


def test_last_error_is_the_reason_the_machine_writes_else_the_failed_item() -> None:
    status = samples.workload_versions()[0]["status"]  # hat: its post-evaluations phase failed
    assert last_error(status) == "error-rate-ok: value 0.2 target <0.05"
    for carrier in status["phaseTraceIDs"].values():
        carrier.pop("reason", None)  # a status written without reasons (e.g. by KLT itself)
    assert last_error(status) == "post-eval-hat-error-rate-ok: failed"


async def test_status_json_and_yaml_are_kubectl_lists(cluster: Sandbox) -> None:
    kubeconfig = str(cluster.kubeconfig_path)
    code, out, _ = await klt("status", "--kubeconfig", kubeconfig, "-n", NS, "-o", "json")
    assert code == 0
    listing = json.loads(out)
    assert listing["kind"] == "List"
    kinds = sorted(i["kind"] for i in listing["items"])
    assert kinds == ["KeptnAppVersion"] + ["KeptnWorkloadVersion"] * 3
    code, out, _ = await klt("status", "--kubeconfig", kubeconfig, "-A", "-o", "yaml")
    assert code == 0 and len(yaml.safe_load(out)["items"]) == 4


async def watching(*argv: str, columns: int) -> asyncio.subprocess.Process:
    """`klt <argv> --watch` in a child that Ctrl-C (SIGINT) ends, even when this test run was
    started in the background: a shell starts background jobs with SIGINT ignored, and a child
    inherits that (Python then installs no KeyboardInterrupt handler)."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "lifecycle.commands.cli", *argv, "--watch",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=_env(columns),
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip


async def test_status_watch_prints_the_rows_that_change(cluster: Sandbox) -> None:
    proc = await watching(
        "status", "--kubeconfig", str(cluster.kubeconfig_path), "-n", NS, columns=120
    )
    assert proc.stdout is not None
    seen: list[str] = []
    try:
        async with asyncio.timeout(60):
            # the listing: ..., "WorkloadVersions", its header and its 3 rows
            while "WorkloadVersions\n" not in seen[-5:-4]:
                seen.append((await proc.stdout.readline()).decode())
            async with KubeClient.for_url(cluster.url, token=cluster.token) as client:
                await client.patch_status(
                    model.KEPTN_WORKLOAD_VERSION,
                    "other-app-hat-0.1.0",
                    {"status": {"currentPhase": "WorkloadDeploy"}},
                    NS,
                )
            while True:
                line = (await proc.stdout.readline()).decode()
                if line.startswith("other-app-hat-0.1.0"):
                    break
    finally:
        proc.send_signal(signal.SIGINT)
        await proc.wait()
    assert "WorkloadDeploy" in line and "NAME" not in line  # one row, no new header
    assert proc.returncode == 0


async def test_trace_output_formats(cluster: Sandbox) -> None:
    kubeconfig = str(cluster.kubeconfig_path)
    args = ("trace", "podtato-head", "--kubeconfig", kubeconfig)
    code, out, err = await klt(*args)
    assert code == 0, err
    assert max(len(line) for line in out.splitlines()) <= 80, out
    assert "…" in out  # the failure reason, cut at 80 columns on its own line
    code, wide, _ = await klt(*args, "-o", "wide")
    assert "error-rate-ok: value 0.2 target <0.05" in wide
    code, out, _ = await klt(*args, "-A", "-o", "json")
    data = json.loads(out)
    assert data["title"] == "podtato-head-0.1.0-abc" and data["state"] == "Failed"
    assert any(b["label"] == "hat 0.1.0" for b in data["bars"])
    code, out, _ = await klt(*args, "-o", "yaml")
    assert yaml.safe_load(out.removeprefix("---\n"))["title"] == "podtato-head-0.1.0-abc"


async def test_trace_watch_draws_the_chart_again_when_it_changes(cluster: Sandbox) -> None:
    kubeconfig = str(cluster.kubeconfig_path)
    proc = await watching(
        "trace", "podtato-head", "--kubeconfig", kubeconfig, "-n", NS, columns=100
    )
    assert proc.stdout is not None
    titles = 0
    try:
        async with asyncio.timeout(60):
            while titles < 1:
                titles += (
                    (await proc.stdout.readline()).decode().startswith("podtato-head-0.1.0-abc  ")
                )
            async with KubeClient.for_url(cluster.url, token=cluster.token) as client:
                av = await client.get(model.KEPTN_APP_VERSION, "podtato-head-0.1.0-abc", NS)
                carriers = av["status"]["phaseTraceIDs"]
                carriers["AppPreDeployTasks"]["state"] = "Warning"
                await client.patch_status(
                    model.KEPTN_APP_VERSION,
                    "podtato-head-0.1.0-abc",
                    {"status": {"phaseTraceIDs": carriers}},
                    NS,
                )
            while True:
                line = (await proc.stdout.readline()).decode()
                if line.lstrip().startswith("AppPreDeployTasks") and "Warning" in line:
                    break
    finally:
        proc.send_signal(signal.SIGINT)
        await proc.wait()
    assert proc.returncode == 0
