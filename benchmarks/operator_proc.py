"""The operator of the scale benchmark, in its own process, driven over stdin/stdout.

`python benchmarks/operator_proc.py KUBECONFIG WORKDIR [--workers N]` starts an in-process
`lifecycle.operator.root.Operator` (webhooks registered by URL, leader election off), prints
``{"ready": <seconds from process start to all caches synced>}`` once ready and leading, then
answers one JSON line per command line on stdin:
- ``stats``: RSS/HWM (kB), CPU seconds, API requests by verb and by "verb resource", reconciles
  by controller, timers fired and pending in the work queues;
- ``gc``: a full collection first, then the same;
- ``reset``: zero the request counters;
- ``sizes``: per cached kind, objects and kB of their JSON, and one object of the kind;
- ``stop``: stop the operator and exit.
With ``KLT_PROFILE=<file>`` in the environment, cProfile runs from ``reset`` to the next command
(the burst phase of scale.py) and writes its stats to ``<file>.<pid>`` (read with pstats).
Its CPU, RSS and requests are the operator's alone (the driver and the sandbox are elsewhere).
"""

from __future__ import annotations

import time

STARTED = time.monotonic()

import sys  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path[0] = str(Path(__file__).resolve().parents[1])  # not benchmarks/: `lifecycle` the package

import argparse  # noqa: E402
import asyncio  # noqa: E402
import cProfile  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import tracemalloc  # noqa: E402
from typing import Any  # noqa: E402

from benchmarks.harness import cpu_seconds, operator_settings, status_kb  # noqa: E402
from lifecycle.operator.main import freeze_startup_heap, run_loop  # noqa: E402
from lifecycle.operator.root import Operator  # noqa: E402


def stats(operator: Operator) -> dict[str, Any]:
    """What the driver reads of this process."""
    queues = [c.queue for c in operator.controllers]
    return {
        "rss_kb": status_kb("VmRSS"),
        "hwm_kb": status_kb("VmHWM"),
        "cpu_s": cpu_seconds(),
        "requests": operator.client.request_counts,
        "by_resource": operator.client.request_counts_by_resource,
        "reconciles": {c.name: c.reconciles for c in operator.controllers},
        "timers_fired": sum(getattr(q, "fired", 0) for q in queues),
        "timers_pending": sum(q.delayed for q in queues),
        "cached": {i.kind.plural: len(i.store) for i in operator.informers.values()},
        "events_pending": sum(r.pending for r in operator.context.recorders.values()),
    }


class Profiler:
    """cProfile from ``reset`` to the next command, when KLT_PROFILE names a file."""

    def __init__(self) -> None:
        self.path = os.environ.get("KLT_PROFILE")
        self.running: cProfile.Profile | None = None

    def command(self, line: str) -> None:
        if self.running is not None:
            self.running.disable()
            self.running.dump_stats(f"{self.path}.{os.getpid()}")
            self.running = None
        elif line == "reset" and self.path:
            self.running = cProfile.Profile()
            self.running.enable()


def cache_sizes(operator: Operator) -> dict[str, Any]:
    """What each informer caches: objects, kB of JSON, the last object (to see its fields)."""
    out: dict[str, Any] = {}
    for informer in operator.informers.values():
        objs = informer.store.list()
        if objs:
            size = sum(len(json.dumps(o, default=str)) for o in objs)
            out[informer.kind.plural] = {"n": len(objs), "kb": size // 1024, "last": objs[-1]}
    return out


async def serve(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.ERROR)
    work = Path(args.work)
    # a fixed webhook port (chosen by the driver) keeps the registered URL across restarts
    operator = Operator(
        operator_settings(
            Path(args.kubeconfig), work, args.workers, args.webhook_port, args.max_jobs
        )
    )
    await operator.start()
    await operator.wait_ready()
    ready = time.monotonic() - STARTED
    await operator.wait_leading()
    freeze_startup_heap()  # as `klt operator` does once started
    print(json.dumps({"ready": ready}), flush=True)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    marks: list[tracemalloc.Snapshot] = []
    profiler = Profiler()
    try:
        while line := (await reader.readline()).decode().strip():
            profiler.command(line)
            if line == "stop":
                break
            if line == "mark":
                gc.collect()
                marks[:] = [tracemalloc.take_snapshot()] if tracemalloc.is_tracing() else []
            elif line == "gc":
                gc.collect()
            elif line == "top":  # with PYTHONTRACEMALLOC set: where the heap grew since "mark"
                gc.collect()
                now = tracemalloc.take_snapshot()
                diff = now.compare_to(marks[-1], "lineno") if marks else []
                total = sum(stat.size_diff for stat in diff) // 1024
                top = [f"total: {total} KiB", *(str(stat) for stat in diff[:30])]
                print(json.dumps(top), flush=True)
                continue
            elif line == "sizes":
                print(json.dumps(cache_sizes(operator)), flush=True)
                continue
            elif line == "reset":
                operator.client.reset_counts()
            print(json.dumps(stats(operator)), flush=True)
    finally:
        await operator.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kubeconfig")
    parser.add_argument("work")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--webhook-port", type=int, default=0)
    parser.add_argument("--max-jobs", type=int, default=50)
    run_loop(serve(parser.parse_args()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
