"""`klt trace <appversion>`: the Gantt timeline of one app version, read from the cluster.

Role: fetch a KeptnAppVersion and the KeptnWorkloadVersions of its AppDeploy phase through
lifecycle.kube, build the timeline with lifecycle.timeline.from_status and print it. The name may
be the full KeptnAppVersion name, or an app name (or name prefix) for its newest version.
`--spans FILE` draws from a JSON-lines trace file (the operator's `--trace-file`) instead, which
needs no cluster. `load_timeline(client, name, namespace)` is the reusable part (`klt demo`).

Invariants: read-only (get/list only); exits 1 with a one-line message when the app version is not
found, 0 otherwise. Must not: start anything or write to the cluster.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from lifecycle import model, naming, timeline
from lifecycle.kube import KubeClient, KubeError, NotFound
from tracing.setup import read_span_lines

__all__ = [
    "AppVersionNotFound",
    "add_arguments",
    "find_app_version",
    "load_timeline",
    "run",
    "workload_versions_of",
]

Body = dict[str, Any]


class AppVersionNotFound(LookupError):
    """No KeptnAppVersion matches the name (in the namespace, or in any if none given)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the `klt trace` flags."""
    parser.add_argument(
        "appversion",
        help="KeptnAppVersion name, or an app name / name prefix for its newest version",
    )
    parser.add_argument(
        "-n", "--namespace", default=None, help="namespace (default: search all namespaces)"
    )
    parser.add_argument(
        "--kubeconfig",
        default=os.environ.get("KUBECONFIG"),
        help="kubeconfig path (default: $KUBECONFIG or ~/.kube/config)",
    )
    parser.add_argument(
        "--spans",
        type=Path,
        default=None,
        metavar="FILE",
        help="draw from this JSON-lines trace file instead of the cluster",
    )
    parser.add_argument(
        "--all-phases",
        action="store_true",
        help="also show task/evaluation phases that had nothing to run",
    )
    parser.add_argument("--width", type=int, default=None, help="columns (default: terminal)")


def _created(body: Body) -> str:
    return str((body.get("metadata") or {}).get("creationTimestamp") or "")


async def find_app_version(client: KubeClient, name: str, namespace: str | None) -> Body:
    """The KeptnAppVersion called `name`, else the newest one of app `name` (or name prefix)."""
    if namespace:
        try:
            return await client.get(model.KEPTN_APP_VERSION, name, namespace)
        except NotFound:
            pass
    items, _ = await client.list(model.KEPTN_APP_VERSION, namespace)
    exact = [i for i in items if i.get("metadata", {}).get("name") == name]
    if exact:
        return exact[0]
    matches = [
        i
        for i in items
        if (i.get("spec") or {}).get("appName") == name
        or str(i.get("metadata", {}).get("name", "")).startswith(name)
    ]
    if not matches:
        where = f"namespace {namespace}" if namespace else "any namespace"
        raise AppVersionNotFound(f"no KeptnAppVersion {name!r} in {where}")
    return max(matches, key=lambda i: (_created(i), str(i["metadata"]["name"])))


async def workload_versions_of(client: KubeClient, app_version: Body) -> list[Body]:
    """The KeptnWorkloadVersions the app version's AppDeploy phase waits for (those that exist)."""
    meta = app_version.get("metadata") or {}
    spec = app_version.get("spec") or {}
    app = str(spec.get("appName") or "")
    wanted = {
        naming.workload_version_name(
            naming.workload_name(app, str(w.get("name", ""))), str(w.get("version", ""))
        )
        for w in spec.get("workloads") or ()
    }
    items, _ = await client.list(model.KEPTN_WORKLOAD_VERSION, str(meta.get("namespace") or ""))
    return [i for i in items if i.get("metadata", {}).get("name") in wanted]


async def load_timeline(
    client: KubeClient, name: str, namespace: str | None, *, compact: bool = True
) -> timeline.Timeline:
    """Read an app version and its workload versions and build its timeline (running bars end now)."""
    app_version = await find_app_version(client, name, namespace)
    workloads = await workload_versions_of(client, app_version)
    now_ns = int(datetime.now(UTC).timestamp() * 1e9)
    return timeline.from_status(app_version, workloads, now_ns=now_ns, compact=compact)


async def _from_cluster(args: argparse.Namespace) -> timeline.Timeline:
    client = await KubeClient.from_kubeconfig(args.kubeconfig)
    async with client:
        return await load_timeline(
            client, args.appversion, args.namespace, compact=not args.all_phases
        )


def _from_file(path: Path, name: str, compact: bool) -> list[timeline.Timeline]:
    found = [
        t
        for t in timeline.from_spans(read_span_lines(path), compact=compact)
        if t.title == name or t.title.startswith(name)
    ]
    if not found:
        raise AppVersionNotFound(f"no root span {name!r} in {path}")
    return found


def run(args: argparse.Namespace) -> int:
    """Print the timeline; 1 when the app version (or its spans) cannot be found."""
    console = Console(width=args.width) if args.width else Console()
    try:
        if args.spans is not None:
            found: Sequence[timeline.Timeline] = _from_file(
                args.spans, args.appversion, not args.all_phases
            )
        else:
            found = [asyncio.run(_from_cluster(args))]
    except (AppVersionNotFound, FileNotFoundError) as exc:
        print(f"klt trace: {exc}", file=sys.stderr)
        return 1
    except KubeError as exc:
        print(f"klt trace: {exc}", file=sys.stderr)
        return 1
    for tl in found:
        console.print(timeline.render(tl, width=console.width), soft_wrap=True)
    return 0
