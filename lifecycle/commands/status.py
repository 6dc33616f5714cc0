"""`klt status`: a table of KeptnAppVersions and KeptnWorkloadVersions (phase, state, age, last error).

Role: list both kinds once (one namespace or all) and print them as kubectl prints a listing:
plain columns fitted to the terminal (lifecycle.commands.output; the last error cut with an ellipsis),
every column uncut plus the trace id with `-o wide`, the objects with `-o json|yaml`, and with
`--watch` the rows that change, as they change. The rows are built by the pure `version_rows`
so tests check them without a terminal; the reason of the last error is the `reason` of the
latest failed phase carrier in status.phaseTraceIDs (the machine writes it when a phase fails),
else the name of a failed task/evaluation item.
Invariants: starts fast: the Kubernetes client is imported only once the kubeconfig is found,
and on the standard-library transport (`light=True`: no aiohttp).
Must not: write anything to the cluster.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TextIO

from lifecycle.commands.errors import kubeconfig_path
from lifecycle.commands.output import (
    add_listing_arguments,
    column_widths,
    cut,
    dump,
    fit_table,
    namespace_of,
    terminal_width,
)
from lifecycle.commands.timeline import VersionStatus, items_of
from lifecycle.core import model
from lifecycle.core.machine_steps import VersionBody
from lifecycle.core.meta import created_key, name_of
from lifecycle.core.meta import namespace_of as object_namespace
from lifecycle.core.naming import parse_time

if TYPE_CHECKING:
    from lifecycle.kube.client import KubeClient

__all__ = ["VersionRow", "add_arguments", "last_error", "render", "run", "version_rows"]

WATCH_INTERVAL = 1.0
"""Seconds between two reads with --watch."""

_ITEM_FIELDS = (
    "preDeploymentTaskStatus",
    "preDeploymentEvaluationTaskStatus",
    "postDeploymentTaskStatus",
    "postDeploymentEvaluationTaskStatus",
    "promotionTaskStatus",
)


@dataclass(frozen=True, slots=True)
class VersionRow:
    """One line of the table."""

    kind: str
    namespace: str
    name: str
    app: str
    workload: str
    version: str
    phase: str
    state: str
    age: str
    last_error: str
    trace_id: str = ""


def age(created: str | None, now: datetime) -> str:
    """kubectl-like age: 42s, 5m, 3h, 2d."""
    if not created:
        return ""
    seconds = max(0, int((now - parse_time(created)).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def last_error(status: VersionStatus) -> str:
    """The reason of the latest failed phase, else of a failed task/evaluation, else ""."""
    failed = [
        (c.get("endTime", ""), c.get("reason", ""))
        for c in (status.get("phaseTraceIDs") or {}).values()
        if c.get("reason")
    ]
    if failed:
        return max(failed)[1]
    for field in _ITEM_FIELDS:
        for item in items_of(status, field):
            if item.get("status") == "Failed":
                return f"{item.get('name', '')}: failed"  # an ItemStatus has no reason
    return ""


def trace_id(status: VersionStatus) -> str:
    """The trace id of the version's root span (from its W3C traceparent), else ""."""
    root = (status.get("phaseTraceIDs") or {}).get("root") or {}
    parts = root.get("traceparent", "").split("-")
    return parts[1] if len(parts) == 4 else ""


def version_rows(versions: Iterable[VersionBody], now: datetime) -> list[VersionRow]:
    """Rows for AppVersions and WorkloadVersions, sorted by kind, namespace, creation."""
    rows = []
    for obj in sorted(
        versions, key=lambda o: (str(o.get("kind")), object_namespace(o), *created_key(o))
    ):
        meta, spec, status = obj["metadata"], obj.get("spec") or {}, obj.get("status") or {}
        is_app = obj.get("kind") == model.KEPTN_APP_VERSION.kind
        if is_app:
            app_spec = model.KEPTN_APP_VERSION.view(obj).get("spec") or {}
            app, workload = app_spec.get("appName", ""), ""
        else:
            wl_spec = model.KEPTN_WORKLOAD_VERSION.view(obj).get("spec") or {}
            app, workload = wl_spec.get("app", ""), wl_spec.get("workloadName", "")
        rows.append(
            VersionRow(
                kind="AppVersion" if is_app else "WorkloadVersion",
                namespace=str(meta.get("namespace", "")),
                name=str(meta.get("name", "")),
                app=str(app),
                workload=str(workload),
                version=str(spec.get("version", "")),
                phase=str(status.get("currentPhase", "")),
                state=str(status.get("status", "Pending")),
                age=age(meta.get("creationTimestamp"), now),
                last_error=last_error(status),
                trace_id=trace_id(status),
            )
        )
    return rows


_COLUMNS = ("NAMESPACE", "NAME", "APP", "WORKLOAD", "VERSION", "PHASE", "STATE", "AGE")
_WIDE_ONLY = ("APP", "WORKLOAD", "TRACE ID")
"""Columns of -o wide only: the app and workload are part of the version's name."""
_GIVE_WAY = ("LAST ERROR", "NAMESPACE", "PHASE", "NAME")
"""The columns cut (with an ellipsis) to fit the width, first to last."""
ERROR_ROOM = 30
"""Fewer columns than this left for LAST ERROR: it goes on a line of its own under the row."""


def headers(kind: str, *, namespaces: bool, wide: bool) -> list[str]:
    """The columns of one kind's table: NAMESPACE only across namespaces; APP, WORKLOAD (of
    workload versions) and TRACE ID only when wide."""
    names = [*_COLUMNS, "LAST ERROR", "TRACE ID"]
    return [
        c
        for c in names
        if not (c == "NAMESPACE" and not namespaces)
        and not (c == "WORKLOAD" and kind == "AppVersion")
        and (wide or c not in _WIDE_ONLY)
    ]


def cells(row: VersionRow, columns: list[str]) -> list[str]:
    """The row's text under `columns` (each column is the field of its name)."""
    return [str(getattr(row, c.lower().replace(" ", "_"))) for c in columns]


def render(
    rows: list[VersionRow], *, width: int | None, namespaces: bool = True, wide: bool = False
) -> list[str]:
    """The lines of both tables: a title line per kind, its columns fitted to `width`
    (None or wide: nothing is cut); a kind without rows prints "No resources found."."""
    lines: list[str] = []
    for kind in ("AppVersion", "WorkloadVersion"):
        columns = headers(kind, namespaces=namespaces, wide=wide)
        table = [cells(r, columns) for r in rows if r.kind == kind]
        if lines:
            lines.append("")
        lines.append(f"{kind}s")
        if not table:
            lines.append("No resources found.")
            continue
        lines += _fit(columns, table, None if wide else width)
    return lines


def _fit(columns: list[str], table: list[list[str]], width: int | None) -> list[str]:
    """Header and rows within `width`. Unless the table fits by cutting LAST ERROR alone to no
    less than ERROR_ROOM characters, each error goes on its own line under its row instead (and
    the other columns give way if they must)."""
    error = columns.index("LAST ERROR")
    flexible = [columns.index(c) for c in _GIVE_WAY if c in columns]
    if width is None:
        return fit_table(columns, table, width=None, flexible=flexible)
    widths = column_widths(columns, table, width, [error])
    longest = max((len(r[error]) for r in table), default=0)
    fits = sum(widths) + 3 * (len(widths) - 1) <= width
    if fits and widths[error] >= min(longest, ERROR_ROOM):
        return fit_table(columns, table, width=width, flexible=flexible)
    rest = [c for c in columns if c != "LAST ERROR"]
    header, *lines = fit_table(
        rest,
        [[c for i, c in enumerate(r) if i != error] for r in table],
        width=width,
        flexible=[rest.index(c) for c in _GIVE_WAY if c in rest],
    )
    out = [header]
    for line, row in zip(lines, table, strict=True):
        out.append(line)
        if row[error]:
            out.append("  last error: " + cut(row[error], width - 14))
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `klt status`."""
    add_listing_arguments(parser, watch_help="after the listing, print each row that changes")


async def collect(client: KubeClient, namespace: str | None) -> list[VersionBody]:
    """Every AppVersion and WorkloadVersion of `namespace` (None: all)."""
    apps, _ = await client.list(model.KEPTN_APP_VERSION, namespace)
    workloads, _ = await client.list(model.KEPTN_WORKLOAD_VERSION, namespace)
    return [
        *map(model.KEPTN_APP_VERSION.view, apps),
        *map(model.KEPTN_WORKLOAD_VERSION.view, workloads),
    ]


def _print(out: TextIO, text: str) -> None:
    out.write(text if text.endswith("\n") else text + "\n")
    out.flush()


async def _watch(
    client: KubeClient, args: argparse.Namespace, seen: list[VersionBody], out: TextIO
) -> None:
    """Print what changes, forever (Ctrl-C ends it): rows in the table's layout, or objects."""

    def key(o: VersionBody) -> tuple[str, str, str]:
        return (str(o.get("kind")), object_namespace(o), name_of(o))

    versions = {key(o): str(o["metadata"].get("resourceVersion")) for o in seen}
    namespace = namespace_of(args)
    width = terminal_width(args.width)
    while True:
        await asyncio.sleep(WATCH_INTERVAL)
        current = await collect(client, namespace)
        changed = [
            o for o in current if versions.get(key(o)) != str(o["metadata"].get("resourceVersion"))
        ]
        versions = {key(o): str(o["metadata"].get("resourceVersion")) for o in current}
        if not changed:
            continue
        if args.output in ("json", "yaml"):
            for obj in changed:
                _print(out, dump([obj], args.output))
            continue
        wide = args.output == "wide"
        for row in version_rows(changed, datetime.now(UTC)):
            columns = headers(row.kind, namespaces=namespace is None, wide=wide)
            _print(out, _fit(columns, [cells(row, columns)], None if wide else width)[1])


async def _main(args: argparse.Namespace, out: TextIO) -> int:
    kubeconfig_path(args.kubeconfig)  # one line when there is none
    from lifecycle.kube.client import KubeClient

    client = await KubeClient.from_kubeconfig(args.kubeconfig, request_timeout=10.0, light=True)
    try:
        namespace = namespace_of(args)
        versions = await collect(client, namespace)
        if args.output in ("json", "yaml"):
            _print(out, dump(versions, args.output))
        else:
            rows = version_rows(versions, datetime.now(UTC))
            width = None if args.output == "wide" else terminal_width(args.width)
            lines = render(
                rows, width=width, namespaces=namespace is None, wide=args.output == "wide"
            )
            _print(out, "\n".join(lines))
        if args.watch:
            await _watch(client, args, versions, out)
    finally:
        await client.close()
    return 0


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """`klt status`: print the tables (and, with --watch, the changes until Ctrl-C); exit 0."""
    try:
        return asyncio.run(_main(args, out or sys.stdout))
    except KeyboardInterrupt:
        return 0
