"""`klt ui`: a read-only web view of deployments and release quality, like Argo Rollouts' dashboard.

Role: parse the flags, connect with the caller's kubeconfig, start the watches and serve the page
on loopback until Ctrl-C. The pages (applications, app version timeline, release-quality
heatmaps) and their data live in `lifecycle.ui.server` and `lifecycle.ui.views`.

Must not: write to the cluster, or bind beyond loopback unless `--address` says so.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys

from lifecycle.commands.output import add_cluster_arguments, namespace_of

__all__ = ["add_arguments", "run", "serve"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `klt ui`."""
    parser.add_argument("--port", type=int, default=3100, help="port (default 3100; 0: any free)")
    parser.add_argument("--address", default="127.0.0.1", help="address (default loopback)")
    add_cluster_arguments(parser)
    parser.add_argument(
        "--trace-url",
        default=os.environ.get("KLT_TRACE_URL", ""),
        metavar="TEMPLATE",
        help="link for trace ids, with {trace_id}, e.g. a Grafana Tempo explore or Jaeger URL",
    )


async def serve(
    kubeconfig: str | None,
    namespace: str | None,
    address: str,
    port: int,
    trace_url: str = "",
    ready: asyncio.Future[str] | None = None,
) -> None:
    """Serve until cancelled; `ready` gets the page's URL once it listens."""
    from aiohttp import web

    from lifecycle.kube import KubeClient
    from lifecycle.ui.server import ReleaseView, create_app

    client = await KubeClient.from_kubeconfig(kubeconfig)
    view = ReleaseView(client, namespace, trace_url)
    runner = web.AppRunner(create_app(view), handle_signals=False)
    try:
        await view.start()
        await runner.setup()
        site = web.TCPSite(runner, address, port)
        await site.start()
        bound = runner.addresses[0][1] if runner.addresses else port
        url = f"http://{address}:{bound}/"
        if ready is not None and not ready.done():
            ready.set_result(url)
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
        await view.stop()
        await client.close()


async def _main(args: argparse.Namespace) -> int:
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[str] = loop.create_future()
    task = asyncio.create_task(
        serve(args.kubeconfig, namespace_of(args), args.address, args.port, args.trace_url, ready)
    )
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    done, _ = await asyncio.wait((task, ready), return_when=asyncio.FIRST_COMPLETED)
    if ready in done:
        print(f"klt ui: serving {ready.result()}  (read-only; Ctrl-C stops)", flush=True)
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return 0


def run(args: argparse.Namespace) -> int:
    """`klt ui`: serve until Ctrl-C; 1 with a one-line reason when it cannot start."""
    from lifecycle.kube import KubeError

    try:
        return asyncio.run(_main(args))
    except (KubeError, OSError, TimeoutError) as exc:
        print(f"klt ui: cannot start: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
