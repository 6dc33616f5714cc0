"""Go duration strings (`5m`, `1h30m`, `500ms`, `0`) as timedeltas, and back.

KLT's CRDs carry Go durations (KeptnMetric `range.interval`/`step`, Analysis `timeframe.recent`).
Pure: no I/O, no clock. Rejects what Go's `time.ParseDuration` rejects, with a message.
"""

from __future__ import annotations

import re
from datetime import timedelta

__all__ = ["format_duration", "parse_duration"]

_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}


def parse_duration(text: str) -> timedelta:
    """Parse a Go duration such as `5m` or `1h30m`; `0` alone is zero."""
    body = text.strip()
    if body in ("0", "+0", "-0"):
        return timedelta(0)
    sign = -1 if body.startswith("-") else 1
    body = body.lstrip("+-")
    pos, seconds = 0, 0.0
    while pos < len(body):
        match = _PART.match(body, pos)
        if match is None:
            raise ValueError(f"invalid duration {text!r}")
        seconds += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if not body:
        raise ValueError(f"invalid duration {text!r}")
    return timedelta(seconds=sign * seconds)


def format_duration(delta: timedelta) -> str:
    """A Go-style duration for Prometheus-like APIs: `300s`, `1.5s`, `250ms`."""
    seconds = delta.total_seconds()
    if seconds == int(seconds):
        return f"{int(seconds)}s"
    return f"{round(seconds * 1000)}ms"
