"""`klt sandbox`: run the embedded Kubernetes-compatible API server until interrupted.

`add_arguments(parser)` declares the flags, `run(args)` starts a `Sandbox`, prints its URL and
kubeconfig path, and serves until SIGINT/SIGTERM. Fault-injection flags map onto
`FaultSettings`; `--error-rate verb=rate` may repeat. It only parses and delegates.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import signal
import sys
from pathlib import Path
from typing import Any

import uvloop

from sandbox.faults import FaultSettings
from sandbox.node.settings import NodeSettings, Outcome
from sandbox.server import Sandbox, SandboxSettings

__all__ = ["add_arguments", "main", "run", "settings_from_args"]


_FLAGS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("--port", {"type": int, "default": 0, "help": "HTTPS port on 127.0.0.1, the one named in the kubeconfig (0 = a free one)"}),
    ("--http-port", {"type": int, "default": 0, "help": "plain-HTTP port on 127.0.0.1 for in-process clients (0 = a free one)"}),
    ("--kubeconfig", {"type": Path, "default": None, "help": "write the kubeconfig here (default: a temp dir)"}),
    ("--token", {"default": None, "help": "bearer token clients must send (default: random)"}),
    ("--crds", {"type": Path, "default": None, "help": "directory of CRD YAML files (default: deploy/crds)"}),
    ("--data-dir", {"type": Path, "default": None, "help": "persist objects in SQLite here (default: memory only)"}),
    ("--pod-start-delay", {"type": float, "default": 0.5, "help": "seconds from ungated pod to Running"}),
    ("--history", {"type": int, "default": 1000, "help": "watch events kept per resource before 410 Gone"}),
    ("--no-node", {"action": "store_true", "help": "do not start the simulated node"}),
    ("--container-outcome", {"choices": [o.value for o in Outcome if o is not Outcome.RUN], "default": None, "help": "what a task container the node cannot run ends with (default: it waits, saying why)"}),
    ("--webhook-service", {"action": "append", "default": [], "metavar": "NAME.NS[:PORT]=HOST:PORT", "help": "where a webhook service reference is served (repeatable)"}),
    ("--pod-address", {"action": "append", "default": [], "metavar": "NS/POD=HOST:PORT", "help": "loopback address of a pod behind a Service's endpoints (repeatable)"}),
)  # fmt: skip
"""The `klt sandbox` flags: (flag, argparse keywords)."""

_FAULT_FLAGS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("--error-rate", {"action": "append", "default": [], "metavar": "VERB=RATE", "help": "fail this share of requests of VERB (get, list, watch, create, update, patch, delete, deletecollection, *)"}),
    ("--error-kind", {"default": "500", "choices": ["500", "503", "409", "429", "timeout"]}),
    ("--latency", {"type": float, "default": 0.0, "help": "seconds added to every API request"}),
    ("--drop-watches-every", {"type": float, "default": 0.0, "help": "close watch streams after N seconds"}),
    ("--watch-gone", {"action": "store_true", "help": "answer every watch from a resourceVersion with 410"}),
    ("--fault-seed", {"type": int, "default": 0}),
)  # fmt: skip
"""The fault injection flags (see `sandbox.faults`)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the `klt sandbox` flags."""
    for flag, options in _FLAGS:
        parser.add_argument(flag, **options)
    faults = parser.add_argument_group("fault injection")
    for flag, options in _FAULT_FLAGS:
        faults.add_argument(flag, **options)


def settings_from_args(args: argparse.Namespace) -> SandboxSettings:
    """The SandboxSettings the parsed flags ask for (raises ValueError on bad values)."""
    rates = (item.partition("=") for item in args.error_rate)
    faults = FaultSettings(
        error_rate={verb: float(rate) for verb, _, rate in rates},
        error_kind=args.error_kind,
        latency_seconds=args.latency,
        watch_drop_seconds=args.drop_watches_every,
        watch_gone=args.watch_gone,
        seed=args.fault_seed,
    )
    faults.check()
    services = dict(item.partition("=")[::2] for item in args.webhook_service)
    pods = dict(item.partition("=")[::2] for item in args.pod_address)
    return SandboxSettings(
        port=args.http_port,
        https_port=args.port,
        token=args.token,
        kubeconfig_path=args.kubeconfig,
        crds_dir=args.crds,
        data_dir=args.data_dir,
        history=args.history,
        pod_start_delay=args.pod_start_delay,
        node=not args.no_node,
        node_settings=NodeSettings(
            pod_start_delay=args.pod_start_delay,
            default_outcome=Outcome(args.container_outcome) if args.container_outcome else None,
        ),
        faults=faults,
        webhook_services=services,
        pod_addresses=pods,
    )


async def _serve(settings: SandboxSettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Sandbox(settings) as sb:
        # This process is the sandbox's alone: move everything alive after start-up (modules,
        # CRD schemas) out of the cyclic GC's reach, so full collections only scan what the
        # store added and stay short (10 ms less per full collection at start-up size).
        gc.collect()
        gc.freeze()
        print(f"sandbox API server at {sb.https_url} (plain HTTP: {sb.url})", flush=True)
        print(f"kubeconfig: {sb.kubeconfig_path}", flush=True)
        print(f"  export KUBECONFIG={sb.kubeconfig_path}", flush=True)
        await stop.wait()


def run(args: argparse.Namespace) -> int:
    """Run the sandbox until interrupted; returns the exit code."""
    try:
        settings = settings_from_args(args)
    except ValueError as exc:
        print(f"klt sandbox: {exc}", file=sys.stderr)
        return 2
    # uvloop: the event loop, TLS and sockets in C (the sandbox serves every request of a scale
    # run: about a third less CPU per request than the standard loop)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(_serve(settings))
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m sandbox.cli ...`: the same as `klt sandbox ...`."""
    parser = argparse.ArgumentParser(
        prog="klt sandbox", description="run the embedded Kubernetes-compatible cluster"
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
