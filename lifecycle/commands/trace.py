"""`klt trace <appversion>`: the Gantt timeline of one app version, read from the cluster.

Role: fetch a KeptnAppVersion and the KeptnWorkloadVersions of its AppDeploy phase through
lifecycle.kube, build the timeline with lifecycle.commands.timeline.from_status and print it. The name may
be the full KeptnAppVersion name, or an app name (or name prefix) for its newest version.
`--spans FILE` draws from a JSON-lines trace file (the operator's `--trace-file`) instead, which
needs no cluster. `load_timeline(client, name, namespace)` is the reusable part (`klt demo`).
Like kubectl: `-n`/`-A`, `-o wide` (failure reasons uncut), `-o json|yaml` (the timeline's
bars as data), `--watch` (the chart again each time it changes, until Ctrl-C).

Invariants: read-only (get/list only); exits 1 with a kubectl-style message (lifecycle.commands.errors)
when the app version is not found, 0 otherwise. Starts fast: the Kubernetes client is imported
only when the cluster is read, on the standard-library transport (no aiohttp).
Must not: start anything or write to the cluster.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import time
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from lifecycle.commands import gantt, timeline
from lifecycle.commands.errors import CliError, kubeconfig_path
from lifecycle.commands.output import add_listing_arguments, namespace_of, terminal_width
from lifecycle.core import meta, model, naming
from lifecycle.core.bodies import KeptnAppVersionBody, KeptnWorkloadVersionBody
from lifecycle.core.kubebodies import EventBody

if TYPE_CHECKING:
    from lifecycle.kube import KubeClient

__all__ = [
    "AppVersionNotFound",
    "add_arguments",
    "events_about",
    "find_app_version",
    "load_timeline",
    "run",
    "workload_versions_of",
]


WATCH_INTERVAL = 1.0
"""Seconds between two reads with --watch."""


class AppVersionNotFound(CliError, LookupError):
    """No KeptnAppVersion matches the name (in the namespace, or in any if none given)."""

    def __init__(self, what: str) -> None:
        super().__init__(
            what, "list the app versions with `klt status` (or `-A` for every namespace)"
        )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the `klt trace` flags."""
    parser.add_argument(
        "appversion",
        help="KeptnAppVersion name, or an app name / name prefix for its newest version",
    )
    add_listing_arguments(parser, watch_help="draw the chart again each time it changes")
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


async def find_app_version(
    client: KubeClient, name: str, namespace: str | None
) -> KeptnAppVersionBody:
    """The KeptnAppVersion called `name`, else the newest one of app `name` (or name prefix)."""
    from lifecycle.kube import NotFound

    kind = model.KEPTN_APP_VERSION
    if namespace:
        try:
            return kind.view(await client.get(kind, name, namespace))
        except NotFound:
            pass
    items = [kind.view(i) for i in (await client.list(kind, namespace))[0]]
    exact = [i for i in items if meta.name_of(i) == name]
    if exact:
        return exact[0]
    matches = [
        i
        for i in items
        if i.get("spec", {}).get("appName") == name or meta.name_of(i).startswith(name)
    ]
    if not matches:
        where = f"namespace {namespace}" if namespace else "any namespace"
        raise AppVersionNotFound(f"no KeptnAppVersion {name!r} in {where}")
    return max(matches, key=meta.created_key)


async def workload_versions_of(
    client: KubeClient, app_version: KeptnAppVersionBody
) -> list[KeptnWorkloadVersionBody]:
    """The KeptnWorkloadVersions the app version's AppDeploy phase waits for (those that exist)."""
    spec = app_version.get("spec", {})
    app = str(spec.get("appName") or "")
    wanted = {
        naming.workload_version_name(
            naming.workload_name(app, str(w.get("name", ""))), str(w.get("version", ""))
        )
        for w in spec.get("workloads") or ()
    }
    kind = model.KEPTN_WORKLOAD_VERSION
    items, _ = await client.list(kind, meta.namespace_of(app_version))
    return [kind.view(i) for i in items if meta.name_of(i) in wanted]


async def events_about(
    client: KubeClient, namespace: str, names: Collection[str]
) -> list[EventBody]:
    """The Events of `namespace` about an object called one of `names` (their involvedObject)."""
    listed, _ = await client.list(model.EVENT, namespace)
    events = map(model.EVENT.view, listed)
    return [e for e in events if (e.get("involvedObject") or {}).get("name") in names]


async def load_timeline(
    client: KubeClient, name: str, namespace: str | None, *, compact: bool = True
) -> timeline.Timeline:
    """Read an app version and its workload versions and build its timeline (running bars end now)."""
    app_version = await find_app_version(client, name, namespace)
    workloads = await workload_versions_of(client, app_version)
    return timeline.from_status(app_version, workloads, now_ns=time.time_ns(), compact=compact)


def _from_file(path: Path, name: str, compact: bool) -> list[timeline.Timeline]:
    from tracing.setup import read_span_lines

    if not path.is_file():
        raise CliError(f"the trace file {path} does not exist", "check the path given to --spans")
    found = [
        t
        for t in timeline.from_spans(read_span_lines(path), compact=compact)
        if t.title == name or t.title.startswith(name)
    ]
    if not found:
        raise AppVersionNotFound(f"no root span {name!r} in {path}")
    return found


def _show(args: argparse.Namespace, timelines: Sequence[timeline.Timeline]) -> None:
    """Print timelines as data (-o json|yaml: times in unix nanoseconds) or as charts."""
    for tl in timelines:
        if args.output == "json":
            print(json.dumps(dataclasses.asdict(tl), indent=2), flush=True)
        elif args.output == "yaml":
            import yaml

            print(
                "---\n" + yaml.safe_dump(dataclasses.asdict(tl), sort_keys=False),
                end="",
                flush=True,
            )
        else:
            from rich.console import Console

            width = terminal_width(args.width)
            chart = gantt.render(tl, width=width, full=args.output == "wide")
            Console(width=width, highlight=False).print(chart, soft_wrap=True)


def _shape(tl: timeline.Timeline) -> tuple[object, ...]:
    """What --watch compares: the bars without the end of running ones (that moves with now)."""
    return tuple((b.label, b.state, b.start_ns, b.end_ns, b.note) for b in tl.bars)


async def _from_cluster(args: argparse.Namespace) -> None:
    kubeconfig_path(args.kubeconfig)  # one line when there is none
    from lifecycle.kube import KubeClient

    client = await KubeClient.from_kubeconfig(args.kubeconfig, request_timeout=10.0, light=True)
    async with client:
        namespace, compact = namespace_of(args), not args.all_phases
        tl = await load_timeline(client, args.appversion, namespace, compact=compact)
        _show(args, [tl])
        shown = _shape(tl)
        while args.watch:
            await asyncio.sleep(WATCH_INTERVAL)
            tl = await load_timeline(client, args.appversion, namespace, compact=compact)
            if _shape(tl) != shown:
                _show(args, [tl])
                shown = _shape(tl)


def run(args: argparse.Namespace) -> int:
    """Print the timeline; 1 (via lifecycle.commands.cli) when the app version or its spans are not found."""
    try:
        if args.spans is not None:
            _show(args, _from_file(args.spans, args.appversion, not args.all_phases))
        else:
            asyncio.run(_from_cluster(args))
    except KeyboardInterrupt:
        pass  # the end of --watch
    return 0
