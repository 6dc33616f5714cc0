"""KeptnMetric semantics without Kubernetes: when to fetch, the fetch, the status to write.

The KeptnMetric controller (and the KeptnEvaluation controller, which re-fetches a stale
metric before judging it) call these; they read and write the objects themselves.
Rules (reference/keptn.md §10.2, §1.14):
* a metric is due when `lastUpdated + fetchIntervalSeconds <= now` (or it was never fetched);
  the controller arms a timer for `next_fetch()` instead of polling;
* with `range.storedResults > 0` each fetch is appended to `intervalResults` (FIFO, capped);
  otherwise `value` / `rawValue` / `errMsg` are replaced; `lastUpdated` is always `now`;
* `rawValue` is capped at 1 MiB and base64-encoded (the CRD field is `format: byte`);
* values are written in the shortest text that round-trips (`42.5`, `0.1234567891`), not
  rounded. A failed fetch clears `value` and sets `errMsg`, so nothing judges a stale number.
`fetch_metric` never raises a ProviderError: the error text goes to the status.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from evaluator.providers import (
    MetricValue,
    Provider,
    ProviderError,
    evaluate_metric,
    parse_metric_range,
)

__all__ = [
    "MAX_RAW_BYTES",
    "MetricFetch",
    "fetch_metric",
    "is_stale",
    "metrics_api_body",
    "next_fetch",
    "status_after",
    "value_text",
]

MAX_RAW_BYTES = 1 << 20


def value_text(value: float) -> str:
    """`42` for integral values, else the shortest round-trip repr."""
    number = float(value)  # ints sneak in from JSON
    return str(int(number)) if number.is_integer() and abs(number) < 1e15 else repr(number)


def _parse_time(text: object) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None  # an unreadable timestamp counts as "never fetched"
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def next_fetch(status: Mapping[str, Any] | None, fetch_interval_seconds: int) -> datetime | None:
    """When the metric is next due; None means due now (never fetched)."""
    last = _parse_time((status or {}).get("lastUpdated"))
    return None if last is None else last + timedelta(seconds=fetch_interval_seconds)


def is_stale(status: Mapping[str, Any] | None, fetch_interval_seconds: int, now: datetime) -> bool:
    """True when the value is older than its fetch interval, missing, or errored."""
    due = next_fetch(status, fetch_interval_seconds)
    status = status or {}
    return due is None or due <= now or not status.get("value") or bool(status.get("errMsg"))


@dataclass(frozen=True, slots=True)
class MetricFetch:
    """The result of one fetch: a value or an error text."""

    value: MetricValue | None
    error: str | None


async def fetch_metric(provider: Provider, spec: Mapping[str, Any], now: datetime) -> MetricFetch:
    """Evaluate `spec.query` with `spec.range` semantics at `now`."""
    try:
        spec_range = parse_metric_range(spec.get("range"))
        value = await evaluate_metric(provider, str(spec["query"]), spec_range, now)
    except ProviderError as err:
        return MetricFetch(None, str(err))
    return MetricFetch(value, None)


def _stamp(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def status_after(
    spec: Mapping[str, Any],
    status: Mapping[str, Any] | None,
    fetch: MetricFetch,
    now: datetime,
) -> dict[str, Any]:
    """The KeptnMetric status after `fetch` (a full status object, ready to patch)."""
    new = dict(status or {})
    text = value_text(fetch.value.value) if fetch.value is not None else ""
    spec_range = spec.get("range") or {}
    stored = int(spec_range.get("storedResults") or 0)
    if stored > 0:
        entry: dict[str, Any] = {
            "value": text,
            "range": dict(spec_range),
            "lastUpdated": _stamp(now),
        }
        if fetch.error:
            entry["errMsg"] = fetch.error
        history = [*list(new.get("intervalResults") or []), entry]
        new["intervalResults"] = history[-stored:]
    else:
        new["value"] = text
        raw = fetch.value.raw[:MAX_RAW_BYTES] if fetch.value is not None else b""
        new["rawValue"] = base64.b64encode(raw).decode()
        if fetch.error:
            new["errMsg"] = fetch.error
        else:
            new.pop("errMsg", None)
    new["lastUpdated"] = _stamp(now)
    return new


def metrics_api_body(namespace: str, name: str, status: Mapping[str, Any] | None) -> dict[str, str]:
    """The JSON of `/api/v1/metrics/{namespace}/{name}` (what KEDA's metrics-api reads)."""
    return {"namespace": namespace, "metric": name, "value": str((status or {}).get("value", ""))}
