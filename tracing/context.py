"""W3C trace context carriers, span ids and times as stored in status.

Role: the small pure helpers shared by span building (:mod:`tracing.spans`), the task runtime
(``KEPTN_CONTEXT.metadata.traceparent``), Events and CloudEvents: parse and format
``traceparent`` strings, derive a child's span id, read RFC3339 times as epoch nanoseconds.

Invariants: pure and deterministic (no clock, no randomness): :func:`derive_span_id` gives the
same id for the same parent and name, which is what lets a restarted operator rebuild task and
evaluation spans without storing their ids. Must not import ``lifecycle``.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from opentelemetry.trace import SpanContext, TraceFlags

__all__ = [
    "derive_span_id",
    "format_traceparent",
    "parse_rfc3339_ns",
    "parse_traceparent",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_traceparent(value: str | None) -> SpanContext | None:
    """A remote, sampled SpanContext from ``00-<32hex>-<16hex>-<2hex>``; None if malformed."""
    if not value:
        return None
    parts = value.strip().split("-")
    if len(parts) != 4 or len(parts[1]) != 32 or len(parts[2]) != 16:
        return None
    try:
        trace_id, span_id, flags = int(parts[1], 16), int(parts[2], 16), int(parts[3], 16)
    except ValueError:
        return None
    if trace_id == 0 or span_id == 0:
        return None
    return SpanContext(trace_id, span_id, is_remote=True, trace_flags=TraceFlags(flags | 0x01))


def format_traceparent(trace_id: int, span_id: int) -> str:
    """The W3C ``traceparent`` string of a sampled span."""
    return f"00-{trace_id:032x}-{span_id:016x}-01"


def derive_span_id(parent_span_id: int, child_name: str) -> int:
    """A child's span id: sha256(parent span id hex + "/" + name)[:16], never zero.

    Deterministic so a restarted operator recomputes the same id instead of storing it.
    """
    digest = hashlib.sha256(f"{parent_span_id:016x}/{child_name}".encode()).hexdigest()
    return int(digest[:16], 16) or 1


def parse_rfc3339_ns(value: object) -> int | None:
    """Nanoseconds since the epoch of an RFC3339 time (``...Z`` or with offset); None if absent."""
    if not value or not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1_000  # exact: no float on the way
