"""Pieces of the scale benchmark (benchmarks/scale.py): the operator child, the driver's watch.

`OperatorChild` runs benchmarks/operator_proc.py and asks it one command at a time;
`Completions` watches KeptnAppVersions for when each app first Succeeded; `create_apps`
creates KeptnApps of PER_APP annotated Deployments; `requests_figure` sets the operator's API
requests against the minimum KLT's flow needs (MINIMUM_PER_WORKLOAD / MINIMUM_PER_APP).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.harness import NAMESPACE, ROOT, Body, deployment, keptn_app, wait_or_kill
from lifecycle.core import model
from lifecycle.kube import KubeClient, KubeError

PER_APP = 5

# What one workload lifecycle cannot do without (no tasks, no evaluations), by "verb resource",
# KLT's flow as the reference (/work/shared/reference/keptn.md, sections 2 and 3): the webhook's
# KeptnWorkload and its status (currentVersion); the WorkloadVersion created, its pod's gate
# removed, two status writes (deployment started, completed: a created object carries no
# status) and KLT's 12 Events (created, 5 phases started and finished, completed). Plus its
# app's share: the KeptnAppCreationRequest created and deleted (user-defined app), the
# AppVersion created, its two status writes and 12 Events, the KeptnApp's status.
MINIMUM_PER_WORKLOAD = {
    "create keptnworkloads": 1.0,
    "patch keptnworkloads/status": 1.0,
    "create keptnworkloadversions": 1.0,
    "patch pods": 1.0,
    "patch keptnworkloadversions/status": 2.0,
    "create events": 12.0,
}
MINIMUM_PER_APP = {
    "create keptnappcreationrequests": 1.0,
    "delete keptnappcreationrequests": 1.0,
    "create keptnappversions": 1.0,
    "patch keptnappversions/status": 2.0,
    "patch keptnapps/status": 1.0,
    "create events": 12.0,
}


def minimum_per_workload() -> dict[str, float]:
    total = Counter(MINIMUM_PER_WORKLOAD)
    for key, n in MINIMUM_PER_APP.items():
        total[key] += n / PER_APP
    return dict(total)


def free_port() -> int:
    """A loopback TCP port free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class OperatorChild:
    """benchmarks/operator_proc.py as a child process; `ask` sends one command, reads its line."""

    def __init__(self, kubeconfig: Path, work: Path, workers: int) -> None:
        self.args = [
            sys.executable,
            str(ROOT / "benchmarks" / "operator_proc.py"),
            str(kubeconfig),
            str(work),
            "--workers",
            str(workers),
            "--webhook-port",
            str(free_port()),
        ]
        self.proc: asyncio.subprocess.Process | None = None
        self.ready_s = 0.0  # from spawn to caches synced, as the driver sees it

    async def start(self) -> float:
        started = time.monotonic()
        self.proc = await asyncio.create_subprocess_exec(
            *self.args, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        async with asyncio.timeout(120):
            line = await self._line()
        self.ready_s = started + json.loads(line)["ready"] - started
        return self.ready_s

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def _line(self) -> str:
        assert self.proc is not None and self.proc.stdout is not None
        line = await self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the operator process exited")
        return line.decode()

    async def ask(self, command: str) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(command.encode() + b"\n")
        await self.proc.stdin.drain()
        result: dict[str, Any] = json.loads(await self._line())
        return result

    async def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.returncode is not None:
            return
        assert proc.stdin is not None
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            proc.stdin.write(b"stop\n")
            await proc.stdin.drain()
        await wait_or_kill(proc, 30)


class Completions:
    """Driver-side watch of KeptnAppVersions: when each app's AppVersion first Succeeded."""

    def __init__(self, client: KubeClient) -> None:
        self.client = client
        self.done: dict[str, float] = {}
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def _on(self, av: Body) -> None:
        app = str(av.get("spec", {}).get("appName") or "")
        if (av.get("status") or {}).get("status") == "Succeeded" and app not in self.done:
            self.done[app] = time.perf_counter()
            self._changed.set()

    async def _run(self) -> None:
        rv: str | None = None
        while True:
            try:
                if rv is None:
                    items, rv = await self.client.list(model.KEPTN_APP_VERSION, NAMESPACE)
                    for item in items:
                        self._on(item)
                async for etype, obj in self.client.watch(
                    model.KEPTN_APP_VERSION, NAMESPACE, resource_version=rv
                ):
                    rv = obj.get("metadata", {}).get("resourceVersion") or rv
                    if etype in ("ADDED", "MODIFIED"):
                        self._on(obj)
            except KubeError:
                rv = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def wait(self, apps: list[str], limit: float) -> float:
        """Wait (at most ``limit`` s) until every app in ``apps`` succeeded; when the last did."""
        async with asyncio.timeout(limit):
            while not all(a in self.done for a in apps):
                self._changed.clear()
                await self._changed.wait()
        return max(self.done[a] for a in apps)


async def create_apps(
    client: KubeClient, names: list[str], *, pre_tasks: list[str] | None = None
) -> None:
    """KeptnApps of PER_APP Deployments each, all at once (64 requests in flight)."""
    gate = asyncio.Semaphore(64)

    async def create(kind: model.ResourceKind, body: Body) -> None:
        async with gate:
            await client.create(kind, body, NAMESPACE)

    creates = []
    for app in names:
        workloads = [f"{app}-w{w}" for w in range(PER_APP)]
        creates.append(create(model.KEPTN_APP, keptn_app(app, workloads)))
        creates += [
            create(model.DEPLOYMENT, deployment(w, app, pre_tasks=pre_tasks)) for w in workloads
        ]
    await asyncio.gather(*creates)


def delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}


def requests_figure(by_resource: dict[str, int], workloads: int) -> dict[str, Any]:
    """Per workload by verb and by "verb resource", the minimum, and total / minimum."""
    by_verb: Counter[str] = Counter()
    for key, n in by_resource.items():
        by_verb[key.split(" ", 1)[0]] += n
    minimum = minimum_per_workload()
    total = sum(by_resource.values()) / workloads
    return {
        "total": round(total, 2),
        "by_verb": {k: round(v / workloads, 2) for k, v in sorted(by_verb.items())},
        "by_resource": {
            k: round(v / workloads, 2) for k, v in Counter(by_resource).most_common() if v
        },
        "minimum": {k: round(v, 2) for k, v in minimum.items()},
        "minimum_total": round(sum(minimum.values()), 2),
        "ratio": round(total / sum(minimum.values()), 2),
    }
