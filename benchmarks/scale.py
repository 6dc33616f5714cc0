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
2. fill: the rest up to N (default 10,000 = 2,000 apps x 5; --quick 1,000), all created at
   once (64 requests in flight): `fill.created_s` when the driver's creates returned,
   `fill.seconds` when the last app succeeded (so the gap is the operator's and sandbox's). Then
   `rss_per_workload_kb`: operator RSS after a full GC with everything completed, minus its RSS
   after start-up and warm-up, per workload.
3. restart: the operator process is stopped and a new one started over the N completed
   workloads: `restart_ready_s` (process start to all caches synced) and `restart_writes`
   (creates/updates/patches/deletes it sends from its start to `--window` s after ready).
4. idle: W workloads (1,000; --quick 200) whose pre-deployment task runs for 30 minutes (a Job
   whose container cannot start: no CPU anywhere; the operator keeps its default --max-jobs
   of 50, so the other tasks wait for a Job slot, woken only when one frees); once they all
   wait and the operator is quiet, `idle_reconciles_per_min`: reconciles plus work-queue timers fired during `--window`
   s (60; --quick 20), per minute.

Usage: python benchmarks/scale.py [--quick] [--workloads N] [--window S]. The
last line printed is one JSON object with the keys above. Pieces: benchmarks/scaleparts.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)  # benchmarks/ must not shadow the `lifecycle` package

import argparse  # noqa: E402
import asyncio  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from typing import Any  # noqa: E402

from benchmarks.harness import (  # noqa: E402
    NAMESPACE,
    Body,
    bench_namespace,
    cpu_seconds,
    print_result,
    sandbox_process,
    status_kb,
)
from benchmarks.scaleparts import (  # noqa: E402
    PER_APP,
    Completions,
    OperatorChild,
    create_apps,
    delta,
    requests_figure,
)
from lifecycle.core import model  # noqa: E402
from lifecycle.core.naming import GATE_REMOVED_KEY  # noqa: E402
from lifecycle.kube import KubeClient  # noqa: E402

BURST = 1000
WRITES = ("create", "update", "patch", "delete")
WAIT_TASK = "bench-wait"


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
    pods, _ = await driver.list(model.POD, NAMESPACE)
    return {
        "workloads": workloads,
        # pods the webhook did not gate (its call failed open: failurePolicy Ignore, 5 s timeout)
        "ungated_pods": sum(
            GATE_REMOVED_KEY not in (p["metadata"].get("annotations") or {}) for p in pods
        ),
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


async def fill_phase(
    driver: KubeClient, done: Completions, first: int, apps: int
) -> dict[str, float]:
    """The remaining apps up to N, all created at once: seconds until the driver's creates
    returned (``created_s``: the driver's share) and until all succeeded (``seconds``)."""
    names = [f"b{a}" for a in range(first, apps)]
    if not names:
        return {"created_s": 0.0, "seconds": 0.0}
    start = time.perf_counter()
    await create_apps(driver, names)
    created = time.perf_counter() - start
    finished = await done.wait(names, 120 + len(names) * PER_APP / 5) - start
    return {"created_s": round(created, 1), "seconds": round(finished, 1)}


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


def holding(task: dict[str, Any]) -> bool:
    """Whether an idle task holds its Job or waits for a Job slot (so it waits for good)."""
    status = task.get("status") or {}
    return bool(status.get("jobName")) or status.get("reason") == "WaitingForJobSlot"


async def waiting_tasks(driver: KubeClient, expected: int, limit: float) -> int:
    """Wait until ``expected`` tasks hold a Job or wait for a slot, or their count held still
    for 45 s; how many."""
    deadline = time.monotonic() + limit
    count, since = -1, time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - since < 45:
        now = sum(holding(t) for t in (await driver.list(model.KEPTN_TASK, NAMESPACE))[0])
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
    print(f"idle: {count} of {expected} tasks waiting (tasks: {dict(states)});", end=" ")
    print(f"{len(waiting)} WorkloadVersions without a task, e.g. {waiting[:3]}", flush=True)
    return count


async def idle_phase(
    driver: KubeClient, operator: OperatorChild, waiting: int, window: float
) -> dict[str, Any]:
    await driver.create(model.KEPTN_TASK_DEFINITION, wait_task_definition(), NAMESPACE)
    names = [f"wait{a}" for a in range(waiting // PER_APP)]
    await create_apps(driver, names, pre_tasks=[WAIT_TASK])
    started = await waiting_tasks(driver, len(names) * PER_APP, 120 + waiting / 5)
    before = await quiet(operator, 3.0, 60.0)
    await asyncio.sleep(window)
    after = await operator.ask("stats")
    reconciles = delta(after["reconciles"], before["reconciles"])
    fired = after["timers_fired"] - before["timers_fired"]
    return {
        "waiting_workloads": started,
        "jobs": len((await driver.list(model.JOB, NAMESPACE))[0]),
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
                fill = await fill_phase(driver, done, burst_apps, apps)
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
        "fill": fill,
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
