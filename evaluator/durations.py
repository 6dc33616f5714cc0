"""Go duration strings (`5m`, `1h30m`, `500ms`, `0`) as timedeltas, and back.

KLT's CRDs carry Go durations (KeptnMetric `range.interval`/`step`, Analysis `timeframe.recent`,
KeptnTaskDefinition `timeout`, KeptnConfig `observabilityTimeout`). This is the one parser of the
project: the evaluator and the operator's webhooks and controllers all use it. It accepts what
Go's `time.ParseDuration` accepts and rejects the rest with Go's error texts
(`time: invalid duration "x"`, `time: missing unit in duration "5"`,
`time: unknown unit "d" in duration "1d"`). Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
from datetime import timedelta

__all__ = ["format_duration", "parse_duration", "parse_seconds"]

_NUMBER = re.compile(r"[0-9]*(?:\.[0-9]*)?")
_UNIT_END = re.compile(r"[^0-9.]*")
_UNIT_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,  # U+00B5 micro sign
    "μs": 1e-6,  # U+03BC Greek mu
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}


def parse_seconds(text: str) -> float:
    """Go's `time.ParseDuration` in seconds; ValueError with Go's message if invalid."""
    rest = text[1:] if text[:1] in ("+", "-") else text
    sign = -1.0 if text.startswith("-") else 1.0
    if rest == "0":
        return 0.0
    if not rest:
        raise ValueError(f'time: invalid duration "{text}"')
    total, pos = 0.0, 0
    while pos < len(rest):
        number = _NUMBER.match(rest, pos)
        digits = number.group() if number else ""
        if digits in ("", "."):
            raise ValueError(f'time: invalid duration "{text}"')
        unit_match = _UNIT_END.match(rest, pos + len(digits))
        unit = unit_match.group() if unit_match else ""
        if not unit:
            raise ValueError(f'time: missing unit in duration "{text}"')
        if unit not in _UNIT_SECONDS:
            raise ValueError(f'time: unknown unit "{unit}" in duration "{text}"')
        total += float(digits) * _UNIT_SECONDS[unit]
        pos += len(digits) + len(unit)
    return sign * total


def parse_duration(text: str) -> timedelta:
    """Parse a Go duration such as `5m` or `1h30m` into a timedelta; `0` alone is zero."""
    return timedelta(seconds=parse_seconds(text))


def format_duration(delta: timedelta) -> str:
    """A Go-style duration for Prometheus-like APIs: `300s`, `1.5s`, `250ms`."""
    seconds = delta.total_seconds()
    if seconds == int(seconds):
        return f"{int(seconds)}s"
    return f"{round(seconds * 1000)}ms"
