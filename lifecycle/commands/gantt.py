"""Draw a Timeline as a Gantt chart: one line per bar on a shared time axis, coloured by state.

Role: `render(timeline)` draws a `rich.text.Text` for `klt trace` and `klt demo` (its `.plain`
is the text without colours). The bars come from lifecycle.commands.timeline.

Invariants: pure and deterministic -- every line fits the width asked for; no clock, no I/O.
Must not: import asyncio, aiohttp, kubernetes_asyncio or opentelemetry, or call an API.
"""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text

from lifecycle.commands.output import cut
from lifecycle.commands.timeline import Timeline

__all__ = ["STATE_STYLES", "render"]

STATE_STYLES: Mapping[str, str] = {
    "Succeeded": "green",
    "Failed": "bold red",
    "Warning": "yellow",
    "Progressing": "cyan",
    "Pending": "dim",
    "Deprecated": "dim",
}
"""The rich style of each state, in the chart and on the demo's board."""
# Bar characters differ so the plain text still tells states apart.
_CHARS: Mapping[str, str] = {
    "Succeeded": "█",
    "Failed": "▓",
    "Warning": "▒",
    "Progressing": "░",
    "Pending": "·",
    "Deprecated": "·",
}


def _style(state: str) -> str:
    return STATE_STYLES.get(state, "magenta")


def _duration(ns: int) -> str:
    seconds = ns / 1e9
    if seconds < 1:
        return f"{ns / 1e6:.0f}ms"
    if seconds < 120:
        return f"{seconds:.1f}s"
    return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


def render(
    timeline: Timeline, *, width: int = 100, label_width: int | None = None, full: bool = False
) -> Text:
    """The Gantt chart: label, bar on a shared time axis, duration, state (and why it failed).

    Every line fits `width`: labels and failure reasons are cut with an ellipsis, and a reason
    that does not fit beside its bar goes on the line below it. `full` (-o wide) cuts nothing and
    keeps each reason on its bar's line. `label_width` defaults to the longest indented label, at
    most 44 columns (and at most `width` - 46, which leaves the bars 24).
    """
    if label_width is None:
        longest = max((2 * b.depth + len(b.label) for b in timeline.bars), default=10)
        label_width = longest if full else min(longest, 44, max(width - 46, 12))
    bar_width = max(10, width - label_width - 22)
    span = max(timeline.end_ns - timeline.start_ns, 1)
    out = Text()
    duration = _duration(timeline.end_ns - timeline.start_ns)
    title_room = width - len(timeline.state) - len(duration) - 4
    out.append(timeline.title if full else cut(timeline.title, title_room), style="bold")
    out.append(f"  {timeline.state}", style=_style(timeline.state))
    out.append(f"  {duration}\n")
    out.append(
        " " * label_width + " 0s" + " " * max(1, bar_width - 2 - len(duration)) + duration + "\n",
        style="dim",
    )
    for bar in timeline.bars:
        indent = "  " * bar.depth
        label = indent + (bar.label if full else cut(bar.label, label_width - len(indent)))
        label = label.ljust(label_width)
        end = bar.end_ns if bar.end_ns is not None else timeline.end_ns
        first = int((bar.start_ns - timeline.start_ns) * bar_width / span)
        last = int((end - timeline.start_ns) * bar_width / span + 0.999)
        first = min(max(first, 0), bar_width - 1)
        last = min(max(last, first + 1), bar_width)
        char, style = _CHARS.get(bar.state, "?"), _style(bar.state)
        out.append(label + " ")
        out.append(" " * first)
        out.append(char * (last - first), style=style)
        out.append(" " * (bar_width - last))
        running = "…" if bar.end_ns is None else ""
        out.append(f" {_duration(end - bar.start_ns) + running:>7} ")
        out.append(bar.state, style=style)
        if bar.note and bar.state in ("Failed", "Warning"):
            used = label_width + bar_width + 10 + len(bar.state)
            note = " ".join(bar.note.split())
            if full or used + 2 + len(note) <= width:
                out.append(f"  {note}", style="dim")
            else:
                under = indent + "  "
                out.append("\n" + under + cut(note, width - len(under)), style="dim")
        out.append("\n")
    out.rstrip()
    return out
