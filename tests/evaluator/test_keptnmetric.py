"""KeptnMetric semantics of the operator (lifecycle.core.metriccore, run by controllers.metric):
value text, freshness, a fetch against the real Prometheus, the status a fetch writes."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from evaluator.providers import (
    MetricValue,
    ProviderConfig,
    ProviderError,
    evaluate_metric,
    open_provider,
    parse_metric_range,
)
from lifecycle.core.metriccore import format_value, interval_of, is_fresh, status_fields
from tests.evaluator.conftest import STEP_END
from tests.evaluator.promlauncher import Prometheus

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
MAX_RAW_BYTES = 1 << 20


def metric(spec: dict[str, Any] | None = None, status: dict[str, Any] | None = None) -> Any:
    return {"metadata": {"name": "m", "namespace": "ns"}, "spec": spec or {}, "status": status}


@pytest.mark.parametrize(
    ("value", "text"),
    [(42.0, "42"), (42.5, "42.5"), (0.1234567891, "0.1234567891"), (1e20, "1e+20"), (-3.0, "-3")],
)
def test_value_text_round_trips(value: float, text: str) -> None:
    assert format_value(value) == text and float(text) == value


def test_due_and_fresh() -> None:
    every_30s = {"query": "q", "fetchIntervalSeconds": 30}
    fresh = {"value": "1", "lastUpdated": "2026-11-27T11:59:50Z"}
    assert interval_of(metric(every_30s)) == timedelta(seconds=30)
    assert interval_of(metric({"query": "q"})) == timedelta(seconds=10)  # KLT's default
    assert is_fresh(metric(every_30s, fresh), NOW)
    assert not is_fresh(metric({**every_30s, "fetchIntervalSeconds": 10}, fresh), NOW)  # due
    assert not is_fresh(metric(every_30s, None), NOW)  # never fetched
    assert not is_fresh(metric(every_30s, {"lastUpdated": "garbage"}), NOW)
    naive = {"lastUpdated": "2026-11-27T11:59:55"}  # read as UTC
    assert is_fresh(metric(every_30s, naive), NOW)
    assert not is_fresh(metric({**every_30s, "fetchIntervalSeconds": 5}, naive), NOW)


async def test_fetch_against_prometheus(
    prometheus: Prometheus, http: aiohttp.ClientSession
) -> None:
    provider = open_provider(ProviderConfig("prometheus", prometheus.url), http)
    window = {"interval": "9m", "step": "1m", "aggregation": "max"}
    fetched = await evaluate_metric(
        provider, 'klt_steps{case="agg"}', parse_metric_range(window), STEP_END
    )
    assert fetched.value == 42
    with pytest.raises(ProviderError, match=r"^prometheus: no values in query result$"):
        await evaluate_metric(provider, "klt_nothing", None, STEP_END)
    with pytest.raises(ProviderError, match="step requires aggregation"):
        await evaluate_metric(provider, "x", parse_metric_range({"step": "1m"}), STEP_END)


def test_status_replaces_value_and_caps_raw() -> None:
    raw = b"x" * (MAX_RAW_BYTES + 10)
    body = metric({"query": "q"}, {"errMsg": "old"})
    status = status_fields(body, MetricValue(4.5, raw), "", NOW)
    assert status["value"] == "4.5" and status["errMsg"] == ""
    assert len(base64.b64decode(status["rawValue"])) == MAX_RAW_BYTES
    assert status["lastUpdated"] == "2026-11-27T12:00:00.000000Z"
    # a failed fetch sets errMsg and keeps the last good value (the patch does not touch it)
    failed = status_fields(metric({"query": "q"}, status), None, "boom", NOW)
    assert failed == {"errMsg": "boom", "lastUpdated": "2026-11-27T12:00:00.000000Z"}


def test_status_stores_interval_results_fifo() -> None:
    spec = {"query": "q", "range": {"interval": "5m", "storedResults": 2}}
    status: dict[str, Any] = {}
    fetches: list[tuple[MetricValue | None, str]] = [
        (MetricValue(1, b""), ""),
        (None, "e"),
        (MetricValue(3, b""), ""),
    ]
    for i, (value, error) in enumerate(fetches):
        fields = status_fields(metric(spec, status), value, error, NOW + timedelta(seconds=i))
        status = {**status, **fields}
    results = status["intervalResults"]
    assert [r["value"] for r in results] == ["", "3"]
    assert results[0]["errMsg"] == "e" and results[1]["range"] == spec["range"]
    # unlike KLT, status.value follows the latest fetch too (evaluations and the JSON API read it)
    assert status["value"] == "3" and status["lastUpdated"] == "2026-11-27T12:00:02.000000Z"
