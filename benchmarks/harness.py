"""Pieces the lifecycle and scale benchmarks share: process figures, the sandbox child, bodies.

`sandbox_process` runs `klt sandbox` in a child process (pod start delay 0) so that its CPU and
RSS are its own; `cpu_seconds` / `status_kb` read /proc; `deployment` and `keptn_app` build the
annotated Deployments and KeptnApps the benchmarks create in NAMESPACE.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from lifecycle.core import model
from lifecycle.flow.context import OperatorSettings
from lifecycle.operator.server import ServerConfig
from lifecycle.operator.settings import RunSettings

ROOT = Path(__file__).resolve().parents[1]
Body = dict[str, Any]
NAMESPACE = "bench"


def status_kb(field: str, pid: int | None = None) -> int:
    """A /proc/<pid>/status figure in kB (VmRSS, VmHWM, ...) of a process (this one by default)."""
    for line in Path(f"/proc/{pid or 'self'}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int | None = None) -> float:
    """User+system CPU seconds of a process (this one by default), from /proc."""
    fields = Path(f"/proc/{pid or 'self'}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


@contextlib.asynccontextmanager
async def sandbox_process(work: Path, history: int = 20000) -> AsyncIterator[tuple[Path, int]]:
    """`klt sandbox` in a child process; yields its kubeconfig path and pid, stops it after."""
    kubeconfig = work / "kubeconfig"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "lifecycle.commands.cli",
        "sandbox",
        "--kubeconfig",
        str(kubeconfig),
        "--pod-start-delay",
        "0",
        "--history",
        str(history),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(30):
            while True:
                line = await proc.stdout.readline()
                if not line:
                    raise RuntimeError("klt sandbox exited before it was ready")
                if line.startswith(b"kubeconfig:"):
                    break
        yield kubeconfig, proc.pid
    finally:
        if proc.returncode is None:
            proc.terminate()
            await wait_or_kill(proc, 10)


async def wait_or_kill(proc: asyncio.subprocess.Process, seconds: float) -> None:
    """Wait for a child asked to stop; kill it after ``seconds``."""
    try:
        async with asyncio.timeout(seconds):
            await proc.wait()
    except TimeoutError:
        proc.kill()
        await proc.wait()


def deployment(
    name: str, app: str | None, version: str = "0.1.0", *, pre_tasks: list[str] | None = None
) -> Body:
    """An annotated one-replica Deployment (optionally with pre-deployment tasks)."""
    annotations = {"keptn.sh/workload": name, "keptn.sh/version": version}
    if app:
        annotations["keptn.sh/app"] = app
    if pre_tasks:
        annotations["keptn.sh/pre-deployment-tasks"] = ",".join(pre_tasks)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"bench": name}},
            "template": {
                "metadata": {"labels": {"bench": name}, "annotations": annotations},
                "spec": {"containers": [{"name": "main", "image": f"bench/{name}:{version}"}]},
            },
        },
    }


def keptn_app(name: str, workloads: list[str]) -> Body:
    return {
        "apiVersion": model.KEPTN_APP.api_version,
        "kind": "KeptnApp",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "version": "0.1.0",
            "workloads": [{"name": w, "version": "0.1.0"} for w in workloads],
        },
    }


def bench_namespace() -> Body:
    """The benchmarks' namespace, opted in to the lifecycle toolkit."""
    return {
        "metadata": {"name": NAMESPACE, "annotations": {"keptn.sh/lifecycle-toolkit": "enabled"}}
    }


def operator_settings(
    kubeconfig: Path, work: Path, workers: int, webhook_port: int = 0, max_jobs: int = 50
) -> RunSettings:
    """An operator against the sandbox: webhooks by URL on loopback, leader election off."""
    return RunSettings(
        kubeconfig=str(kubeconfig),
        webhook_url_host="127.0.0.1",
        server=ServerConfig(
            host="127.0.0.1", webhook_port=webhook_port, metrics_port=0, probe_port=0
        ),
        cert_dir=work / "certs",
        operator=OperatorSettings(
            keptn_namespace="keptn-system", workers=workers, max_concurrent_jobs=max_jobs
        ),
        leader_elect=False,
    )


def print_result(result: dict[str, Any]) -> None:
    """Each figure on a line of its own, then the summary: the last line, one JSON object."""
    summary = result.pop("summary")
    for key, value in result.items():
        print(f"{key}: {json.dumps(value)}")
    print(json.dumps(summary))
