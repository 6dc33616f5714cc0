"""What `klt demo` draws: live progress of app and workload versions, and the events.

Role: `Board` keeps the latest rows (one per KeptnAppVersion and KeptnWorkloadVersion: phase,
state, duration) built from listed bodies; `Board.table()` is the rich table a `Live` display
redraws, `Board.update()` returns the phase changes as lines for consoles that are no terminal
(CI, tests, a pipe), so both show the same story. `events_table()` prints Events the way
`kubectl get events` does (type, reason, object, message), oldest first.

Invariants: pure functions of the bodies passed in plus the `now` given; no API calls here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from rich.table import Table
from rich.text import Text

from lifecycle.commands.gantt import STATE_STYLES
from lifecycle.commands.output import column_widths, cut, fit_table
from lifecycle.core.bodies import KeptnAppVersionBody, KeptnWorkloadVersionBody
from lifecycle.core.kubebodies import EventBody
from lifecycle.core.machine_draft import read_time
from lifecycle.core.meta import metadata_of, name_of
from lifecycle.core.model import KEPTN_APP_VERSION, KEPTN_WORKLOAD_VERSION

__all__ = ["Board", "Row", "change_line", "events_table", "row_of", "sort_events"]


@dataclass(frozen=True, slots=True)
class Row:
    """One version as the board shows it."""

    kind: str  # "app" or "workload"
    name: str
    app: str
    version: str
    phase: str
    state: str
    start: datetime | None
    end: datetime | None

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.name)


def row_of(body: KeptnAppVersionBody | KeptnWorkloadVersionBody) -> Row:
    """The board row of a KeptnAppVersion or KeptnWorkloadVersion body."""
    spec, status = body.get("spec", {}), body.get("status", {})
    is_app = body.get("kind") == "KeptnAppVersion"
    if is_app:
        app = KEPTN_APP_VERSION.view(body).get("spec", {}).get("appName")
    else:
        app = KEPTN_WORKLOAD_VERSION.view(body).get("spec", {}).get("app")
    return Row(
        kind="app" if is_app else "workload",
        name=name_of(body),
        app=str(app or ""),
        version=str(spec.get("version", "")),
        phase=str(status.get("currentPhase") or "-"),
        state=str(status.get("status") or "Pending"),
        start=read_time(status.get("startTime")),
        end=read_time(status.get("endTime")),
    )


def _duration(row: Row, now: datetime) -> str:
    if row.start is None:
        return ""
    seconds = ((row.end or now) - row.start).total_seconds()
    return f"{seconds:.1f}s" if seconds < 120 else f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


class Board:
    """The latest row per version and what changed since the last update."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], Row] = {}

    def update(self, bodies: Iterable[KeptnAppVersionBody | KeptnWorkloadVersionBody]) -> list[Row]:
        """Take fresh bodies; return the rows whose phase or state changed (new rows included)."""
        changed: list[Row] = []
        for body in bodies:
            row = row_of(body)
            old = self.rows.get(row.key)
            if old is None or (old.phase, old.state) != (row.phase, row.state):
                changed.append(row)
            self.rows[row.key] = row
        return changed

    def table(self, now: datetime | None = None) -> Table:
        """Every app version, each followed by its workload versions (same app and version)."""
        now = now or datetime.now(UTC)
        table = Table(title="podtato-head rollouts", expand=False, title_justify="left")
        for column in ("version", "object", "phase", "state", "time"):
            table.add_column(column, no_wrap=True)
        apps = sorted(
            (r for r in self.rows.values() if r.kind == "app"),
            key=lambda r: (r.start or now, r.name),
        )
        for app in apps:
            table.add_row(
                Text(app.version, style="bold"),
                Text(app.name, style="bold"),
                app.phase,
                Text(app.state, style=STATE_STYLES.get(app.state, "")),
                _duration(app, now),
            )
            workloads = sorted(
                (
                    r
                    for r in self.rows.values()
                    if r.kind == "workload" and r.app == app.app and r.version == app.version
                ),
                key=lambda r: r.name,
            )
            for wl in workloads:
                short = wl.name.removeprefix(f"{wl.app}-").removesuffix(f"-{wl.version}")
                table.add_row(
                    "",
                    f"  {short}",
                    wl.phase,
                    Text(wl.state, style=STATE_STYLES.get(wl.state, "")),
                    _duration(wl, now),
                )
        return table


def change_line(row: Row, now: datetime) -> Text:
    """One phase change as a log line: time, object, phase, state."""
    text = Text(f"{now:%H:%M:%S} ")
    text.append(f"{'AppVersion' if row.kind == 'app' else '  WorkloadVersion'} {row.name}  ")
    text.append(row.phase)
    text.append(f"  {row.state}", style=STATE_STYLES.get(row.state, ""))
    return text


def _event_order(event: EventBody) -> tuple[str, int]:
    # eventTime has microseconds; the RFC3339 timestamps only seconds, so the
    # resourceVersion breaks ties in creation order.
    meta = metadata_of(event)
    when = event.get("eventTime") or event.get("firstTimestamp") or meta.get("creationTimestamp")
    try:
        rv = int(meta.get("resourceVersion") or 0)
    except ValueError:
        rv = 0
    return (str(when or ""), rv)


def sort_events(events: Iterable[EventBody]) -> list[EventBody]:
    """Events in the order they were first recorded."""
    return sorted(events, key=_event_order)


def events_table(events: Sequence[EventBody], *, title: str = "", width: int | None = None) -> Text:
    """Events like `kubectl get events`: TYPE, REASON, OBJECT, COUNT, MESSAGE, oldest first.

    One line per event within `width` (None: uncut), never folded mid-word. When MESSAGE would
    be cut, the table drops it: a Normal event's message only restates its reason, a Warning's
    goes on its own line under the row (cut with an ellipsis); OBJECT gives way first.
    Errored/Warning rows are red.
    """
    rows, styles = [], []
    for event in sort_events(events):
        involved = event.get("involvedObject") or {}
        kind = str(involved.get("kind", "")).lower()
        reason = str(event.get("reason", ""))
        warning = "Errored" in reason or event.get("type") == "Warning"
        styles.append("red" if warning else "")
        rows.append(
            [
                str(event.get("type", "")),
                reason,
                f"{kind}/{involved.get('name', '')}",
                str(event.get("count", 1)),
                " ".join(str(event.get("message", "")).split(" / ")[0].split()),
            ]
        )
    headers = ["TYPE", "REASON", "OBJECT", "COUNT", "MESSAGE"]
    natural = column_widths(headers, rows, None, ())
    narrow = width is not None and sum(natural) + 3 * (len(headers) - 1) > width
    if narrow:
        header, *lines = fit_table(headers[:4], [r[:4] for r in rows], width=width, flexible=(2,))
    else:
        header, *lines = fit_table(headers, rows, width=width, flexible=(4, 2))
    text = Text(f"{title}\n" if title else "", style="italic")
    text.append(header + "\n", style="bold")
    for line, row, style in zip(lines, rows, styles, strict=True):
        text.append(line + "\n", style=style)
        if narrow and style and width is not None:
            text.append("  " + cut(row[4], width - 2) + "\n", style=style)
    text.rstrip()
    return text
