"""Scale benchmark: N workloads in the sandbox, then the operator's footprint and behaviour.

Setup: three processes, so that CPU and RSS are attributable: the sandbox (`klt sandbox`, pod
start delay 0), the operator (benchmarks/operator_proc.py: an in-process Operator driven over
stdin/stdout, webhooks by URL, leader election off) and this driver (creates objects, watches
KeptnAppVersions). Workloads are annotated one-replica Deployments in KeptnApps of 5.

1. burst: the first 1,000 workloads (200 apps x 5) created at once: `workloads_per_s` (workloads
   / (last AppVersion Succeeded - first create)), `operator_cpu_ms_per_workload` and
   `sandbox_cpu_ms_per_workload` (CPU of each process over the burst / workloads), and
   `requests_per_workload` (the operator's API requests by verb and by resource over the burst,
   against `minimum`: what the flow cannot do without, see MINIMUM, and `ratio` = total/minimum).
2. the rest up to N (default 10,000 = 2,000 apps x 5; --quick 1,000), then
   `rss_per_workload_kb`: operator RSS after a full GC with everything completed, minus its RSS
   after start-up and warm-up, per workload.
3. restart: the operator process is stopped and a new one started over the N completed
   workloads: `restart_ready_s` (process start to all caches synced) and `restart_writes`
   (creates/updates/patches/deletes it sends from its start to `--window` s after ready).
4. idle: W workloads (1,000; --quick 200) whose pre-deployment task runs for 30 minutes (a Job
   whose container cannot start: no CPU anywhere); once they all wait and the operator is
   quiet, `idle_reconciles_per_min`: reconciles plus work-queue timers fired during `--window`
   s (60; --quick 20), per minute.

Usage: python benchmarks/scale.py [--quick] [--workloads N] [--window S]. The last line printed
is one JSON object with the keys above.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)  # benchmarks/ must not shadow the `lifecycle` package

import argparse  # noqa: E402
import asyncio  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from typing import Any  # noqa: E402

from benchmarks.harness import (  # noqa: E402
    NAMESPACE,
    ROOT,
    Body,
    bench_namespace,
    cpu_seconds,
    deployment,
    keptn_app,
    print_result,
    sandbox_process,
    status_kb,
)
from lifecycle.core import model  # noqa: E402
from lifecycle.kube import KubeClient, KubeError  # noqa: E402

PER_APP = 5
BURST = 1000
WRITES = ("create", "update", "patch", "delete")
WAIT_TASK = "bench-wait"

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
        try:
            async with asyncio.timeout(30):
                await proc.wait()
        except TimeoutError:
            proc.kill()
            await proc.wait()


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


async def burst_phase(
    driver: KubeClient, operator: OperatorChild, done: Completions, sandbox_pid: int, apps: int
) -> dict[str, Any]:
    names = [f"b{a}" for a in range(apps)]
    workloads = apps * PER_APP
    before = await operator.ask("reset")
    sandbox0 = cpu_seconds(sandbox_pid)
    start = time.perf_counter()
    await create_apps(driver, names)
    last = await done.wait(names, 120 + workloads / 5)
    seconds = last - start
    after = await operator.ask("stats")
    sandbox1 = cpu_seconds(sandbox_pid)
    return {
        "workloads": workloads,
        "seconds": round(seconds, 2),
        "workloads_per_s": round(workloads / seconds, 1),
        "operator_cpu_ms_per_workload": round(
            (after["cpu_s"] - before["cpu_s"]) * 1000 / workloads, 2
        ),
        "sandbox_cpu_ms_per_workload": round((sandbox1 - sandbox0) * 1000 / workloads, 2),
        "requests_per_workload": requests_figure(after["by_resource"], workloads),
        "reconciles_per_workload": {
            k: round(v / workloads, 2)
            for k, v in delta(after["reconciles"], before["reconciles"]).items()
        },
    }


async def fill_phase(driver: KubeClient, done: Completions, first: int, apps: int) -> float:
    """The remaining apps up to N, all created at once; seconds until all succeeded."""
    names = [f"b{a}" for a in range(first, apps)]
    if not names:
        return 0.0
    start = time.perf_counter()
    await create_apps(driver, names)
    return await done.wait(names, 120 + len(names) * PER_APP / 5) - start


async def restart_phase(operator: OperatorChild, window: float) -> dict[str, Any]:
    await operator.stop()
    ready = await operator.start()
    await asyncio.sleep(window)
    stats = await operator.ask("stats")
    writes = {k: v for k, v in stats["by_resource"].items() if k.split(" ", 1)[0] in WRITES}
    return {
        "ready_s": round(ready, 2),
        "writes": sum(writes.values()),
        "writes_by_resource": writes,
        "requests": stats["requests"],
        "reconciles": sum(stats["reconciles"].values()),
        "timers_pending": stats["timers_pending"],
        "cached": stats["cached"],
    }


def wait_task_definition() -> Body:
    """A task whose Job pod cannot start (no runner, no outcome): it waits out its timeout."""
    return {
        "apiVersion": model.KEPTN_TASK_DEFINITION.api_version,
        "kind": "KeptnTaskDefinition",
        "metadata": {"name": WAIT_TASK, "namespace": NAMESPACE},
        "spec": {"container": {"name": "wait", "image": "bench/wait:1"}, "timeout": "30m"},
    }


async def quiet(operator: OperatorChild, seconds: float, limit: float) -> dict[str, Any]:
    """Poll the operator until its reconcile count holds still for ``seconds``."""
    deadline = time.monotonic() + limit
    last = await operator.ask("stats")
    still = time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - still < seconds:
        await asyncio.sleep(0.5)
        now = await operator.ask("stats")
        if now["reconciles"] != last["reconciles"]:
            still = time.monotonic()
        last = now
    return last


async def started_jobs(driver: KubeClient, expected: int, limit: float) -> int:
    """Wait until ``expected`` Jobs exist, or their count held still for 45 s; how many."""
    deadline = time.monotonic() + limit
    count, since = -1, time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - since < 45:
        now = len((await driver.list(model.JOB, NAMESPACE))[0])
        if now >= expected:
            return now
        if now != count:
            count, since = now, time.monotonic()
        await asyncio.sleep(1.0)
    tasks, _ = await driver.list(model.KEPTN_TASK, NAMESPACE)
    states = Counter(str((t.get("status") or {}).get("status")) for t in tasks)
    with_task = {t["spec"].get("context", {}).get("workloadName") for t in tasks}
    versions, _ = await driver.list(model.KEPTN_WORKLOAD_VERSION, NAMESPACE)
    waiting = [
        f"{v['metadata']['name']}: {(v.get('status') or {}).get('currentPhase')}"
        for v in versions
        if v["spec"].get("preDeploymentTasks") and v["spec"]["workloadName"] not in with_task
    ]
    print(f"idle: {count} of {expected} Jobs started (tasks: {dict(states)});", end=" ")
    print(f"{len(waiting)} WorkloadVersions without a task, e.g. {waiting[:3]}", flush=True)
    return count


async def idle_phase(
    driver: KubeClient, operator: OperatorChild, waiting: int, window: float
) -> dict[str, Any]:
    await driver.create(model.KEPTN_TASK_DEFINITION, wait_task_definition(), NAMESPACE)
    names = [f"wait{a}" for a in range(waiting // PER_APP)]
    await create_apps(driver, names, pre_tasks=[WAIT_TASK])
    started = await started_jobs(driver, len(names) * PER_APP, 120 + waiting / 5)
    before = await quiet(operator, 3.0, 60.0)
    await asyncio.sleep(window)
    after = await operator.ask("stats")
    reconciles = delta(after["reconciles"], before["reconciles"])
    fired = after["timers_fired"] - before["timers_fired"]
    return {
        "waiting_workloads": started,
        "window_s": window,
        "reconciles": reconciles,
        "timers_fired": fired,
        "timers_pending": after["timers_pending"],
        "per_min": round((sum(reconciles.values()) + fired) * 60 / window, 1),
    }


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    logging.basicConfig(level=logging.ERROR)
    apps = args.workloads // PER_APP
    burst_apps = min(apps, BURST // PER_APP)
    with tempfile.TemporaryDirectory(prefix="klt-scale-") as tmp:
        work = Path(tmp)
        history = 20000  # watch events kept per resource: informers re-list past it
        async with sandbox_process(work, history=history) as (kubeconfig, sandbox_pid):
            driver = await KubeClient.from_kubeconfig(str(kubeconfig))
            await driver.create(model.NAMESPACE, bench_namespace())
            operator = OperatorChild(kubeconfig, work, args.workers)
            done = Completions(driver)
            try:
                first_ready = await operator.start()
                done.start()
                await create_apps(driver, ["warm0", "warm1"])  # imports, connections
                await done.wait(["warm0", "warm1"], 60)
                base = await operator.ask("gc")
                burst = await burst_phase(driver, operator, done, sandbox_pid, burst_apps)
                fill_s = await fill_phase(driver, done, burst_apps, apps)
                await quiet(operator, 2.0, 60.0)
                full = await operator.ask("gc")
                restart = await restart_phase(operator, args.window)
                idle = await idle_phase(driver, operator, args.waiting, args.window)
            finally:
                await done.stop()
                await operator.stop()
                await driver.close()
            sandbox_hwm = status_kb("VmHWM", sandbox_pid)
    workloads = apps * PER_APP
    rss_growth = full["rss_kb"] - base["rss_kb"]
    return {
        "machine": {"cpus": os.cpu_count(), "loadavg": os.getloadavg()},
        "first_ready_s": round(first_ready, 2),
        "burst": burst,
        "fill_seconds": round(fill_s, 1),
        "operator_rss_mb": {
            "before": round(base["rss_kb"] / 1024, 1),
            "after_gc": round(full["rss_kb"] / 1024, 1),
            "peak": round(full["hwm_kb"] / 1024, 1),
            "cached": full["cached"],
        },
        "sandbox_peak_rss_mb": round(sandbox_hwm / 1024, 1),
        "restart": restart,
        "idle": idle,
        "summary": {
            "workloads": workloads,
            "rss_per_workload_kb": round(rss_growth / workloads, 2),
            "restart_ready_s": restart["ready_s"],
            "restart_writes": restart["writes"],
            "idle_reconciles_per_min": idle["per_min"],
            "operator_cpu_ms_per_workload": burst["operator_cpu_ms_per_workload"],
            "sandbox_cpu_ms_per_workload": burst["sandbox_cpu_ms_per_workload"],
            "workloads_per_s": burst["workloads_per_s"],
            "requests_per_workload": {
                k: burst["requests_per_workload"][k]
                for k in ("total", "by_verb", "by_resource", "minimum_total", "ratio")
            },
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 workloads, 20 s windows")
    parser.add_argument("--workloads", type=int, default=None, help="N (10,000; quick 1,000)")
    parser.add_argument("--waiting", type=int, default=None, help="idle workloads (1,000; 200)")
    parser.add_argument("--window", type=float, default=None, help="restart/idle window s (60)")
    parser.add_argument("--workers", type=int, default=4, help="operator workers per controller")
    args = parser.parse_args()
    args.workloads = args.workloads or (1000 if args.quick else 10000)
    args.waiting = args.waiting or (200 if args.quick else 1000)
    args.window = args.window or (20.0 if args.quick else 60.0)
    result = asyncio.run(bench(args))
    print_result(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
