"""`klt status`: a table of KeptnAppVersions and KeptnWorkloadVersions (phase, state, age, last error).

Role: list both kinds once (one namespace or all) and render them with rich. The rows are built
by the pure `version_rows` so tests check them without a terminal; the reason of the last error
is the `reason` of the latest failed phase carrier in status.phaseTraceIDs (the machine writes
it when a phase fails), else the message of a failed task/evaluation item.
Must not: write anything to the cluster.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from lifecycle import model
from lifecycle.kube.client import KubeClient
from lifecycle.naming import parse_time

__all__ = ["VersionRow", "add_arguments", "last_error", "render", "run", "version_rows"]

_ITEM_FIELDS = (
    "preDeploymentTaskStatus",
    "preDeploymentEvaluationTaskStatus",
    "postDeploymentTaskStatus",
    "postDeploymentEvaluationTaskStatus",
    "promotionTaskStatus",
)
_STYLES = {"Succeeded": "green", "Failed": "red", "Warning": "yellow", "Deprecated": "dim"}


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
    reason: str


def age(created: str | None, now: datetime) -> str:
    """kubectl-like age: 42s, 5m, 3h, 2d."""
    if not created:
        return ""
    seconds = max(0, int((now - parse_time(created)).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def last_error(status: Mapping[str, Any]) -> str:
    """The reason of the latest failed phase, else of a failed task/evaluation, else ""."""
    failed = [
        (str(c.get("endTime", "")), str(c.get("reason", "")))
        for c in (status.get("phaseTraceIDs") or {}).values()
        if isinstance(c, Mapping) and c.get("reason")
    ]
    if failed:
        return max(failed)[1]
    for field in _ITEM_FIELDS:
        for item in status.get(field) or ():
            if item.get("status") == "Failed":
                return f"{item.get('name', '')}: {item.get('message') or 'failed'}"
    return ""


def version_rows(versions: Iterable[Mapping[str, Any]], now: datetime) -> list[VersionRow]:
    """Rows for AppVersions and WorkloadVersions, sorted by kind, namespace, creation."""
    rows = []
    ordered = sorted(
        versions,
        key=lambda o: (
            str(o.get("kind")),
            str(o["metadata"].get("namespace")),
            str(o["metadata"].get("creationTimestamp")),
        ),
    )
    for obj in ordered:
        meta, spec, status = obj["metadata"], obj.get("spec") or {}, obj.get("status") or {}
        is_app = obj.get("kind") == model.KEPTN_APP_VERSION.kind
        rows.append(
            VersionRow(
                kind="AppVersion" if is_app else "WorkloadVersion",
                namespace=str(meta.get("namespace", "")),
                name=str(meta.get("name", "")),
                app=str(spec.get("appName" if is_app else "app", "")),
                workload="" if is_app else str(spec.get("workloadName", "")),
                version=str(spec.get("version", "")),
                phase=str(status.get("currentPhase", "")),
                state=str(status.get("status", "Pending")),
                age=age(meta.get("creationTimestamp"), now),
                reason=last_error(status),
            )
        )
    return rows


def render(console: Console, rows: list[VersionRow]) -> None:
    """Print one table per kind."""
    for kind in ("AppVersion", "WorkloadVersion"):
        table = Table(title=f"{kind}s", title_justify="left")
        for column in (
            "NAMESPACE",
            "NAME",
            "APP",
            "WORKLOAD",
            "VERSION",
            "PHASE",
            "STATE",
            "AGE",
            "LAST ERROR",
        ):
            if column == "WORKLOAD" and kind == "AppVersion":
                continue
            table.add_column(column, overflow="fold")
        for row in (r for r in rows if r.kind == kind):
            cells = [row.namespace, row.name, row.app]
            if kind == "WorkloadVersion":
                cells.append(row.workload)
            style = _STYLES.get(row.state, "")
            state = f"[{style}]{row.state}[/]" if style else row.state
            cells += [row.version, row.phase, state, row.age, row.reason]
            table.add_row(*cells)
        console.print(table)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `klt status`."""
    parser.add_argument(
        "--kubeconfig", help="kubeconfig path (default $KUBECONFIG or ~/.kube/config)"
    )
    parser.add_argument("-n", "--namespace", help="only this namespace")
    parser.add_argument(
        "-A", "--all-namespaces", action="store_true", help="every namespace (default)"
    )


async def collect(client: KubeClient, namespace: str | None) -> list[dict[str, Any]]:
    """Every AppVersion and WorkloadVersion of `namespace` (None: all)."""
    apps, _ = await client.list(model.KEPTN_APP_VERSION, namespace)
    workloads, _ = await client.list(model.KEPTN_WORKLOAD_VERSION, namespace)
    return apps + workloads


async def _main(args: argparse.Namespace, console: Console) -> int:
    client = await KubeClient.from_kubeconfig(args.kubeconfig)
    try:
        versions = await collect(client, None if args.all_namespaces else args.namespace)
    finally:
        await client.close()
    render(console, version_rows(versions, datetime.now(UTC)))
    return 0


def run(args: argparse.Namespace, console: Console | None = None) -> int:
    """`klt status`: print the tables; exit 0."""
    return asyncio.run(_main(args, console or Console()))
