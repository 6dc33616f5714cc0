"""Benchmark of the deployment flow: overhead, throughput, API requests and memory of the operator.

Setup: the sandbox (API server + simulated node, pod start delay 0) runs in its own process
(`klt sandbox`), so this process holds only the operator (in-process `lifecycle.operator.root.Operator`,
webhooks registered by URL, leader election off) and a small driver with its own KubeClient.
Workloads are Deployments of one replica, annotated for the lifecycle toolkit, with no tasks and
no evaluations: what is measured is the operator's own cost beyond pod start.

1. overhead: `--apps` single-service apps (one annotated Deployment each, app auto-created),
   `--concurrency` at a time. Per app: from the moment the driver's pod watch sees its first pod
   to the moment its KeptnAppVersion watch sees status Succeeded. p50 / p99 in ms.
2. throughput: `--burst-apps` KeptnApps x `--burst-workloads` Deployments each, all created at
   once; workload lifecycles per second = workloads / (last AppVersion Succeeded - first create).
   `burst_steps_ms` splits each burst workload's way (p50/p90): Deployment created -> first pod
   (sandbox controllers + the pod webhook) -> gate removed (the operator's pre-deployment flow)
   -> Running (simulated node) -> WorkloadVersion Succeeded -> its AppVersion Succeeded.
3. API requests per workload lifecycle, by verb: the operator client's request counters over the
   throughput phase divided by its workloads (watches are long-lived, counted once each).
   The CPU share of the operator's process and of the sandbox's process during the burst says
   which side limits it (1.0 = one core busy all the time; the machine's cores are shared).
4. operator peak RSS: VmHWM of this process (the operator plus the small driver; the sandbox is
   elsewhere), and the growth from before the operator started.

Usage: python benchmarks/lifecycle.py [--quick] [--profile FILE]. The last line printed is one
JSON object: overhead_p50_ms, overhead_p99_ms, workloads_per_s, requests_per_workload,
operator_rss_mb.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)  # benchmarks/lifecycle.py must not shadow the `lifecycle` package

import argparse  # noqa: E402
import asyncio  # noqa: E402
import contextlib  # noqa: E402
import cProfile  # noqa: E402
import itertools  # noqa: E402
import logging  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from typing import Any  # noqa: E402

from benchmarks.harness import (  # noqa: E402
    NAMESPACE,
    Body,
    bench_namespace,
    deployment,
    keptn_app,
    operator_settings,
    percentile,
    print_result,
    sandbox_process,
)
from benchmarks.harness import cpu_seconds as _cpu_seconds  # noqa: E402
from benchmarks.harness import status_kb as _status_kb  # noqa: E402
from lifecycle.core import model  # noqa: E402
from lifecycle.kube import KubeClient, KubeError  # noqa: E402
from lifecycle.operator.main import freeze_startup_heap  # noqa: E402
from lifecycle.operator.root import Operator  # noqa: E402

VERBS = ("get", "list", "watch", "create", "update", "patch", "delete")


class Observer:
    """Driver-side watches: when each app's first pod appeared and when its AppVersion succeeded."""

    def __init__(self, client: KubeClient) -> None:
        self.client = client
        self.pod_seen: dict[str, float] = {}
        self.done: dict[str, float] = {}
        # per workload ("<app>-<workload>", the KeptnWorkload name): when each stage was first seen
        self.stages: dict[str, dict[str, float]] = {}
        self.waiters: dict[str, asyncio.Event] = {}
        self._tasks: list[asyncio.Task[None]] = []

    def app_of_pod(self, pod: Body) -> str:
        annotations = pod.get("metadata", {}).get("annotations") or {}
        return str(annotations.get("keptn.sh/app") or annotations.get("keptn.sh/workload") or "")

    def event(self, app: str) -> asyncio.Event:
        return self.waiters.setdefault(app, asyncio.Event())

    async def _watch(self, kind: model.ResourceKind, on: Any) -> None:
        rv: str | None = None
        while True:
            try:
                if rv is None:
                    items, rv = await self.client.list(kind, NAMESPACE)
                    for item in items:
                        on(item)
                async for etype, obj in self.client.watch(kind, NAMESPACE, resource_version=rv):
                    rv = obj.get("metadata", {}).get("resourceVersion") or rv
                    if etype in ("ADDED", "MODIFIED"):
                        on(obj)
            except KubeError:
                rv = None

    def _stage(self, workload: str, stage: str) -> None:
        self.stages.setdefault(workload, {}).setdefault(stage, time.perf_counter())

    def _on_pod(self, pod: Body) -> None:
        app = self.app_of_pod(pod)
        if app and app not in self.pod_seen:
            self.pod_seen[app] = time.perf_counter()
        annotations = pod.get("metadata", {}).get("annotations") or {}
        workload = f"{app}-{annotations.get('keptn.sh/workload', '')}"
        self._stage(workload, "pod")
        if not (pod.get("spec") or {}).get("schedulingGates"):
            self._stage(workload, "ungated")
        if (pod.get("status") or {}).get("phase") == "Running":
            self._stage(workload, "running")

    def _on_workload_version(self, wv: Body) -> None:
        if (wv.get("status") or {}).get("status") == "Succeeded":
            self._stage(str(wv.get("spec", {}).get("workloadName") or ""), "workload_done")

    def _on_app_version(self, av: Body) -> None:
        app = str(av.get("spec", {}).get("appName") or "")
        if (av.get("status") or {}).get("status") == "Succeeded" and app not in self.done:
            self.done[app] = time.perf_counter()
            self.event(app).set()

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._watch(model.POD, self._on_pod)),
            asyncio.create_task(self._watch(model.KEPTN_APP_VERSION, self._on_app_version)),
            asyncio.create_task(
                self._watch(model.KEPTN_WORKLOAD_VERSION, self._on_workload_version)
            ),
        ]
        await asyncio.sleep(0.2)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


def reconcile_totals(operator: Operator) -> dict[str, tuple[float, float]]:
    """(reconciles, seconds spent) per controller so far, from the operator's own histogram."""
    totals: dict[str, tuple[float, float]] = {}
    # Only this histogram: collecting the whole registry (a series per workload) costs tens of
    # MB at burst size and would show up in the operator's peak RSS.
    for metric in operator.telemetry.reconcile_duration.collect():
        for sample in metric.samples:
            name = sample.labels.get("controller", "")
            count, total = totals.get(name, (0.0, 0.0))
            if sample.name.endswith("_count"):
                totals[name] = (count + sample.value, total)
            elif sample.name.endswith("_sum"):
                totals[name] = (count, total + sample.value)
    return totals


def reconcile_delta(
    before: dict[str, tuple[float, float]], after: dict[str, tuple[float, float]], workloads: int
) -> dict[str, dict[str, float]]:
    """Per controller over the burst: reconciles per workload and mean ms per reconcile."""
    out: dict[str, dict[str, float]] = {}
    for name, (count, total) in sorted(after.items()):
        c0, t0 = before.get(name, (0.0, 0.0))
        n = count - c0
        if n > 0:
            out[name] = {
                "per_workload": round(n / workloads, 2),
                "mean_ms": round((total - t0) / n * 1000, 1),
            }
    return out


async def overhead_phase(
    client: KubeClient, obs: Observer, apps: int, concurrency: int, prefix: str
) -> list[float]:
    """Single-service apps, `concurrency` in flight; overhead per app in ms."""
    gate = asyncio.Semaphore(concurrency)
    results: list[float] = []

    async def one(i: int) -> None:
        name = f"{prefix}{i}"
        async with gate:
            await client.create(model.DEPLOYMENT, deployment(name, None), NAMESPACE)
            async with asyncio.timeout(60):
                await obs.event(name).wait()
        results.append((obs.done[name] - obs.pod_seen[name]) * 1000)

    await asyncio.gather(*(one(i) for i in range(apps)))
    return results


STAGES = ("created", "pod", "ungated", "running", "workload_done")


def stage_breakdown(obs: Observer, apps: list[str], workloads: int) -> dict[str, dict[str, float]]:
    """Median and p90 ms of each step a burst workload goes through, and of its app's last step."""
    steps: dict[str, list[float]] = {}
    for app in apps:
        for w in range(workloads):
            seen = obs.stages.get(f"{app}-{app}-w{w}", {})
            for before, after in itertools.pairwise(STAGES):
                if before in seen and after in seen:
                    steps.setdefault(f"{before}->{after}", []).append(seen[after] - seen[before])
            if "workload_done" in seen and app in obs.done:
                steps.setdefault("workload_done->app_done", []).append(
                    obs.done[app] - seen["workload_done"]
                )
    return {
        k: {
            "p50": round(statistics.median(v) * 1000, 1),
            "p90": round(percentile(v, 0.9) * 1000, 1),
        }
        for k, v in steps.items()
    }


async def throughput_phase(
    client: KubeClient, obs: Observer, apps: int, workloads: int
) -> tuple[float, float]:
    """`apps` KeptnApps of `workloads` Deployments, all at once; (seconds, workloads/s)."""
    gate = asyncio.Semaphore(64)  # the driver's own connection pool, not the operator's

    async def create(kind: model.ResourceKind, body: Body) -> None:
        async with gate:
            if kind is model.DEPLOYMENT:
                app = body["spec"]["template"]["metadata"]["annotations"]["keptn.sh/app"]
                obs.stages.setdefault(f"{app}-{body['metadata']['name']}", {})["created"] = (
                    time.perf_counter()
                )
            await client.create(kind, body, NAMESPACE)

    names = [f"burst{a}" for a in range(apps)]
    start = time.perf_counter()
    creates = []
    for app in names:
        wls = [f"{app}-w{w}" for w in range(workloads)]
        creates.append(create(model.KEPTN_APP, keptn_app(app, wls)))
        creates += [
            create(model.DEPLOYMENT, deployment(f"{app}-w{w}", app)) for w in range(workloads)
        ]
    await asyncio.gather(*creates)
    async with asyncio.timeout(300):
        for app in names:
            await obs.event(app).wait()
    elapsed = max(obs.done[a] for a in names) - start
    return elapsed, apps * workloads / elapsed


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="klt-bench-") as tmp:
        work = Path(tmp)
        async with sandbox_process(work) as (kubeconfig, sandbox_pid):
            driver = await KubeClient.from_kubeconfig(str(kubeconfig))
            await driver.create(model.NAMESPACE, bench_namespace())
            rss_before = _status_kb("VmRSS")
            operator = Operator(operator_settings(kubeconfig, work, args.workers))
            obs = Observer(driver)
            profiler = cProfile.Profile() if args.profile else None
            try:
                await operator.start()
                async with asyncio.timeout(30):
                    await operator.wait_ready()
                    await operator.wait_leading()
                await obs.start()
                await overhead_phase(driver, obs, 3, 1, "warm")  # imports, connections, caches
                freeze_startup_heap()  # as `klt operator` does once started
                if profiler:
                    profiler.enable()
                operator.client.reset_counts()
                overhead = await overhead_phase(driver, obs, args.apps, args.concurrency, "app")
                overhead_counts = operator.client.request_counts
                operator.client.reset_counts()
                cpu0 = (_cpu_seconds(), _cpu_seconds(sandbox_pid))
                reconciles0 = reconcile_totals(operator)
                seconds, per_s = await throughput_phase(
                    driver, obs, args.burst_apps, args.burst_workloads
                )
                cpu1 = (_cpu_seconds(), _cpu_seconds(sandbox_pid))
                reconciles = reconcile_delta(
                    reconciles0,
                    reconcile_totals(operator),
                    args.burst_apps * args.burst_workloads,
                )
                burst_counts = operator.client.request_counts
                breakdown = stage_breakdown(
                    obs, [f"burst{a}" for a in range(args.burst_apps)], args.burst_workloads
                )
                by_resource = operator.client.request_counts_by_resource
                if profiler:
                    profiler.disable()
                    profiler.dump_stats(args.profile)
            finally:
                await obs.stop()
                await operator.stop()
                await driver.close()
    workloads = args.burst_apps * args.burst_workloads
    per_workload = {v: round(burst_counts.get(v, 0) / workloads, 2) for v in VERBS}
    per_workload["total"] = round(sum(burst_counts.values()) / workloads, 2)
    single = {v: round(overhead_counts.get(v, 0) / args.apps, 2) for v in VERBS}
    single["total"] = round(sum(overhead_counts.values()) / args.apps, 2)
    hwm = _status_kb("VmHWM")
    top = Counter(by_resource).most_common(12)
    return {
        "apps": args.apps,
        "overhead_ms": {
            "p50": round(statistics.median(overhead), 1),
            "p90": round(percentile(overhead, 0.9), 1),
            "p99": round(percentile(overhead, 0.99), 1),
            "max": round(max(overhead), 1),
        },
        "burst": {
            "apps": args.burst_apps,
            "workloads": workloads,
            "seconds": round(seconds, 2),
            "workloads_per_s": round(per_s, 1),
            # CPU busy share of one core during the burst: which process is the bottleneck
            "operator_process_cpu_share": round((cpu1[0] - cpu0[0]) / seconds, 2),
            "sandbox_process_cpu_share": round((cpu1[1] - cpu0[1]) / seconds, 2),
        },
        "burst_steps_ms": breakdown,
        # where the operator's workers spend the burst: a slow mean with few workers = waiting
        "burst_reconciles": reconciles,
        "requests_per_single_service_app": single,
        "requests_per_workload_in_burst_by_resource": {k: round(v / workloads, 2) for k, v in top},
        "rss_mb": {"peak": round(hwm / 1024, 1), "before_operator": round(rss_before / 1024, 1)},
        "summary": {
            "overhead_p50_ms": round(statistics.median(overhead), 1),
            "overhead_p99_ms": round(percentile(overhead, 0.99), 1),
            "workloads_per_s": round(per_s, 1),
            "requests_per_workload": per_workload,
            "operator_rss_mb": round(hwm / 1024, 1),
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller run, under a minute")
    parser.add_argument("--apps", type=int, default=None, help="apps for the overhead figure (200)")
    parser.add_argument("--concurrency", type=int, default=1, help="overhead apps in flight")
    parser.add_argument("--burst-apps", type=int, default=None, help="apps in the burst (100)")
    parser.add_argument("--burst-workloads", type=int, default=5, help="workloads per burst app")
    parser.add_argument("--workers", type=int, default=4, help="operator workers per controller")
    parser.add_argument("--profile", default=None, help="write cProfile stats of the operator here")
    args = parser.parse_args()
    args.apps = args.apps or (40 if args.quick else 200)
    args.burst_apps = args.burst_apps or (20 if args.quick else 100)
    result = asyncio.run(bench(args))
    print_result(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
