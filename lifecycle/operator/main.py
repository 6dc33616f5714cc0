"""`klt operator`: the process around `Operator` -- flags, signals, exit codes.

Role: `add_arguments` declares the flags (lifecycle.operator.settings), `run(args)` builds the
settings, configures logging, starts the Operator and runs until SIGTERM/SIGINT (exit 0) or a
lost Lease (exit 1). The composition itself is lifecycle.operator.root.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import signal
from collections.abc import Coroutine
from typing import Any, TypeVar

import uvloop

from lifecycle.commands.errors import kubeconfig_path
from lifecycle.observability.logs import configure_logging
from lifecycle.operator.root import Operator
from lifecycle.operator.settings import RunSettings, add_arguments, from_args

T = TypeVar("T")

__all__ = ["add_arguments", "freeze_startup_heap", "run", "run_loop"]

log = logging.getLogger(__name__)


def freeze_startup_heap() -> None:
    """Move everything alive after start-up out of the cyclic GC's reach (process owners only).

    The imported modules (aiohttp, opentelemetry, the controllers) are most of the heap and live
    forever; without this every full collection rescans them: ~90 ms pauses in a burst of
    500 workloads, which double the overhead's p99. Refcounting still frees frozen objects;
    only cyclic garbage among them is kept. Called by `klt operator` and the benchmark, never
    by `Operator` itself (tests start many in one process).
    """
    gc.collect()
    gc.freeze()


async def _serve(settings: RunSettings) -> int:
    operator = Operator(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    starting = asyncio.ensure_future(operator.start())
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait({starting, stopped}, return_when=asyncio.FIRST_COMPLETED)
    if not starting.done():  # SIGTERM while start-up still retries a silent API server
        starting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await starting
        await operator.stop()
        return 0
    stopped.cancel()
    starting.result()
    freeze_startup_heap()
    if settings.log_format == "json":  # stdout stays empty: every line is a JSON log record
        log.info("operator listening", extra={"ports": operator.ports})
    else:
        print(f"operator listening: {json.dumps(operator.ports)}", flush=True)
    lost = asyncio.ensure_future(operator.lost_leadership.wait())
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({lost, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        lost.cancel()
        stopped.cancel()
        await operator.stop()
    return 1 if operator.lost_leadership.is_set() and not stop.is_set() else 0


def run_loop(main: Coroutine[Any, Any, T]) -> T:
    """Run the operator's main coroutine on uvloop: the loop, sockets and TLS in C.

    Against asyncio's own loop (whose TLS is Python code with a 256 KiB read buffer per
    connection) it took `benchmarks/scale.py --quick` from ~59 to ~49 kB of RSS per workload and
    about a tenth off the operator's CPU per workload.
    """
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


def run(args: argparse.Namespace) -> int:
    """`klt operator`: run until SIGTERM/SIGINT (exit 0) or a lost Lease (exit 1)."""
    settings = from_args(args)
    if not settings.in_cluster:
        kubeconfig_path(settings.kubeconfig)  # a missing file: one line, before any import work
    configure_logging(settings.log_format, settings.log_level)
    otlp = None
    if settings.span_target:  # log records go to an OTLP collector beside the spans
        from lifecycle.observability.otlplogs import attach

        otlp = attach(settings.span_target)
    try:
        return run_loop(_serve(settings))
    finally:
        if otlp is not None:
            otlp.shutdown()
