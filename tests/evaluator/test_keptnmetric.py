"""KeptnMetric semantics: due times, staleness, fetch against the real Prometheus, status shape."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from evaluator.keptnmetric import (
    MAX_RAW_BYTES,
    MetricFetch,
    fetch_metric,
    is_stale,
    metrics_api_body,
    next_fetch,
    status_after,
    value_text,
)
from evaluator.providers import MetricValue, ProviderConfig, open_provider
from tests.evaluator.conftest import STEP_END
from tests.evaluator.promlauncher import Prometheus

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "text"),
    [(42.0, "42"), (42.5, "42.5"), (0.1234567891, "0.1234567891"), (1e20, "1e+20"), (-3.0, "-3")],
)
def test_value_text_round_trips(value: float, text: str) -> None:
    assert value_text(value) == text and float(text) == value


def test_due_and_stale() -> None:
    fresh = {"value": "1", "lastUpdated": "2026-11-27T11:59:50Z"}
    assert next_fetch(fresh, 30) == NOW + timedelta(seconds=20)
    assert next_fetch(None, 30) is None
    assert next_fetch({"lastUpdated": "garbage"}, 30) is None
    assert next_fetch({"lastUpdated": "2026-11-27T11:59:50"}, 10) == NOW
    assert not is_stale(fresh, 30, NOW)
    assert is_stale(fresh, 10, NOW)  # exactly due
    assert is_stale(None, 10, NOW)
    assert is_stale({**fresh, "value": ""}, 30, NOW)
    assert is_stale({**fresh, "errMsg": "boom"}, 30, NOW)


async def test_fetch_against_prometheus(
    prometheus: Prometheus, http: aiohttp.ClientSession
) -> None:
    provider = open_provider(ProviderConfig("prometheus", prometheus.url), http)
    spec = {
        "query": 'klt_steps{case="agg"}',
        "range": {"interval": "9m", "step": "1m", "aggregation": "max"},
    }
    fetched = await fetch_metric(provider, spec, STEP_END)
    assert fetched.error is None and fetched.value is not None and fetched.value.value == 42
    missing = await fetch_metric(provider, {"query": "klt_nothing"}, STEP_END)
    assert missing.value is None and missing.error == "prometheus: no values in query result"
    invalid = await fetch_metric(provider, {"query": "x", "range": {"step": "1m"}}, STEP_END)
    assert invalid.error is not None and "step requires aggregation" in invalid.error


def test_status_replaces_value_and_caps_raw() -> None:
    raw = b"x" * (MAX_RAW_BYTES + 10)
    status = status_after(
        {"query": "q"}, {"errMsg": "old"}, MetricFetch(MetricValue(4.5, raw), None), NOW
    )
    assert status["value"] == "4.5" and "errMsg" not in status
    assert len(base64.b64decode(status["rawValue"])) == MAX_RAW_BYTES
    assert status["lastUpdated"] == "2026-11-27T12:00:00Z"
    failed = status_after({"query": "q"}, status, MetricFetch(None, "boom"), NOW)
    assert failed["value"] == "" and failed["errMsg"] == "boom" and failed["rawValue"] == ""


def test_status_stores_interval_results_fifo() -> None:
    spec = {"query": "q", "range": {"interval": "5m", "storedResults": 2}}
    status: dict[str, object] = {}
    for i, fetch in enumerate(
        [
            MetricFetch(MetricValue(1, b""), None),
            MetricFetch(None, "e"),
            MetricFetch(MetricValue(3, b""), None),
        ]
    ):
        status = status_after(spec, status, fetch, NOW + timedelta(seconds=i))
    results = status["intervalResults"]
    assert isinstance(results, list)
    assert [r["value"] for r in results] == ["", "3"]
    assert results[0]["errMsg"] == "e" and results[1]["range"] == spec["range"]
    assert "value" not in status and status["lastUpdated"] == "2026-11-27T12:00:02Z"


def test_metrics_api_body() -> None:
    assert metrics_api_body("ns", "cpu", {"value": "3"}) == {
        "namespace": "ns",
        "metric": "cpu",
        "value": "3",
    }
    assert metrics_api_body("ns", "cpu", None)["value"] == ""
