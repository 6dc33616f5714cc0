"""The KeptnMetric rules as pure functions: when to fetch, and what a fetch writes.

Role (keptn.md §10.2): a metric is fetched when ``lastUpdated + fetchIntervalSeconds`` has
passed (``decide``: ``Step.FETCH`` and look again one interval later; else look again when it is
due). ``fetched`` turns one fetch into the status fields (``status_fields``), the provider count,
the Warning Event of a failure and the ``keptn_metric_value`` gauge.

Invariants: a failing provider errors that one metric (``status.errMsg``, ``lastUpdated`` = now,
the last good value kept); ``rawValue`` is capped at 1 MiB and base64-encoded (the CRD field is
``format: byte``); with ``range.storedResults > 0`` each fetch is appended to
``status.intervalResults`` (FIFO, capped) and, unlike KLT, ``status.value`` is set then too.

Must not: do I/O, read a clock, or import asyncio.
"""

from __future__ import annotations

import base64
import math
from datetime import datetime, timedelta
from typing import Final, Protocol

from lifecycle.core.bodies import KeptnMetricBody, KeptnMetricSpec, KeptnMetricStatus
from lifecycle.core.childcore import ChildAction, Decision, ProviderQueried, Report, SetValue, Step
from lifecycle.core.machine_draft import read_time
from lifecycle.core.meta import namespace_of
from lifecycle.core.naming import format_time

__all__ = [
    "Measured",
    "decide",
    "fetched",
    "format_value",
    "interval_of",
    "is_fresh",
    "last_updated",
    "status_fields",
]

_RAW_LIMIT: Final = 1 << 20  # KLT caps rawValue at 1 MiB
_DEFAULT_INTERVAL: Final = 10


class Measured(Protocol):
    """One fetched number and the raw backend answer (evaluator.providers.MetricValue)."""

    @property
    def value(self) -> float: ...

    @property
    def raw(self) -> bytes: ...


def format_value(value: float) -> str:
    """A metric value as KLT prints it: 42.5, 500 (not 500.0), NaN never reaches here."""
    if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def interval_of(metric: KeptnMetricBody) -> timedelta:
    """``spec.fetchIntervalSeconds`` (default 10 s, at least 1 s)."""
    seconds = (metric.get("spec") or KeptnMetricSpec()).get("fetchIntervalSeconds")
    return timedelta(seconds=max(1, int(seconds or _DEFAULT_INTERVAL)))


def last_updated(metric: KeptnMetricBody) -> datetime | None:
    """``status.lastUpdated`` or None."""
    return read_time((metric.get("status") or KeptnMetricStatus()).get("lastUpdated"))


def is_fresh(metric: KeptnMetricBody, now: datetime) -> bool:
    """Whether the stored value is younger than the fetch interval."""
    updated = last_updated(metric)
    return updated is not None and updated + interval_of(metric) > now


def decide(metric: KeptnMetricBody, now: datetime) -> Decision:
    """Fetch when due, then look again one interval later; else look again when due."""
    updated = last_updated(metric)
    if updated is not None and updated + interval_of(metric) > now:
        return Decision(requeue_at=updated + interval_of(metric))
    return Decision(actions=(Step.FETCH,), requeue_at=now + interval_of(metric))


def fetched(
    metric: KeptnMetricBody, result: Measured | None, error: str, now: datetime
) -> Decision:
    """What one fetch writes: its status fields, the provider's count, the Event, the gauge."""
    fields = status_fields(metric, result, error, now)
    namespace = namespace_of(metric)
    provider = str(
        ((metric.get("spec") or KeptnMetricSpec()).get("provider") or {}).get("name") or ""
    )
    failure = str(fields.get("errMsg") or "")
    actions: tuple[ChildAction, ...] = (ProviderQueried(namespace, provider, bool(failure)),)
    if failure:
        actions = (Report("MetricFetchFailed", failure), *actions)
    elif result is not None:
        actions = (*actions, SetValue(result.value))
    return Decision(fields=fields, actions=actions)


def status_fields(
    metric: KeptnMetricBody, result: Measured | None, error: str, now: datetime
) -> dict[str, object]:
    """The status fields one fetch writes (a value, or ``errMsg`` and the last value kept)."""
    spec = metric.get("spec") or KeptnMetricSpec()
    stamp = format_time(now)
    fields: dict[str, object] = {"lastUpdated": stamp}
    if result is not None and not error:
        fields.update(
            value=format_value(result.value),
            rawValue=base64.b64encode(result.raw[:_RAW_LIMIT]).decode(),
            errMsg="",
        )
    else:
        fields["errMsg"] = error
    spec_range = spec.get("range") or {}
    stored = int(spec_range.get("storedResults") or 0)
    if stored > 0:
        entry: dict[str, object] = {
            "value": fields.get("value", ""),
            "range": dict(spec_range),
            "lastUpdated": stamp,
        }
        if fields.get("errMsg"):
            entry["errMsg"] = fields["errMsg"]
        previous = list((metric.get("status") or KeptnMetricStatus()).get("intervalResults") or [])
        fields["intervalResults"] = [*previous, entry][-stored:]
    return fields
