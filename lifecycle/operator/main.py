"""`klt operator`: the process around `Operator` -- flags, signals, exit codes.

Role: `add_arguments` declares the flags (lifecycle.operator.settings), `run(args)` builds the
settings, configures logging, starts the Operator and runs until SIGTERM/SIGINT (exit 0) or a
lost Lease (exit 1). The composition itself is lifecycle.operator.root.
"""

from __future__ import annotations

import argparse
import asyncio
import asyncio.sslproto
import contextlib
import gc
import json
import logging
import signal

from lifecycle.commands.errors import kubeconfig_path
from lifecycle.observability.logs import configure_logging
from lifecycle.operator.root import Operator
from lifecycle.operator.settings import RunSettings, add_arguments, from_args

__all__ = ["TLS_READ_BUFFER", "add_arguments", "freeze_startup_heap", "run", "small_tls_buffers"]

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


TLS_READ_BUFFER = 64 * 1024
"""Bytes asyncio reads from a TLS connection at once (its default: 256 KiB), per connection."""


def small_tls_buffers() -> None:
    """Give every later TLS connection of this process a 64 KiB read buffer (process owners only).

    asyncio's SSLProtocol allocates its read buffer (``max_size``, 256 KiB) per connection; a
    burst opens ~100 connections to the API server and the API server ~50 to the webhooks, and
    glibc keeps the ~35 MB they touched after they close. TLS records are 16 KiB at most, so
    64 KiB reads lose nothing but a few loop turns on multi-megabyte lists.
    """
    asyncio.sslproto.SSLProtocol.max_size = TLS_READ_BUFFER


async def _serve(settings: RunSettings) -> int:
    small_tls_buffers()
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
        return asyncio.run(_serve(settings))
    finally:
        if otlp is not None:
            otlp.shutdown()
