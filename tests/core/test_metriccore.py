"""The pure KeptnMetric core (lifecycle.core.metriccore): when to fetch, what a fetch decides."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from lifecycle.core import metriccore
from lifecycle.core.bodies import KeptnMetricBody
from lifecycle.core.childcore import ProviderQueried, Report, SetValue, Step

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Value:
    value: float
    raw: bytes


def metric(status: dict[str, Any] | None = None) -> KeptnMetricBody:
    return cast(
        KeptnMetricBody,
        {
            "metadata": {"name": "m", "namespace": "ns"},
            "spec": {"provider": {"name": "prom"}, "query": "q", "fetchIntervalSeconds": 30},
            "status": status or {},
        },
    )


def test_fetch_when_due_else_wait_until_due() -> None:
    never = metriccore.decide(metric(), T0)
    assert never.actions == (Step.FETCH,) and never.requeue_at == T0 + timedelta(seconds=30)
    fresh = metriccore.decide(
        metric({"lastUpdated": "2026-01-01T00:00:00Z"}), T0 + timedelta(seconds=10)
    )
    assert fresh.actions == () and fresh.requeue_at == T0 + timedelta(seconds=30)
    due = metriccore.decide(
        metric({"lastUpdated": "2026-01-01T00:00:00Z"}), T0 + timedelta(seconds=30)
    )
    assert due.actions == (Step.FETCH,) and due.requeue_at == T0 + timedelta(seconds=60)


def test_a_good_fetch_sets_the_value_and_counts_the_provider_ok() -> None:
    decision = metriccore.fetched(metric(), Value(42.0, b"42"), "", T0)
    assert decision.fields is not None and decision.fields["value"] == "42"
    assert decision.actions == (ProviderQueried("ns", "prom", False), SetValue(42.0))


def test_a_failed_fetch_reports_counts_and_keeps_the_value() -> None:
    decision = metriccore.fetched(metric({"value": "7"}), None, "connection refused", T0)
    assert decision.fields is not None and decision.fields["errMsg"] == "connection refused"
    assert "value" not in decision.fields  # the last good value is kept
    assert decision.actions == (
        Report("MetricFetchFailed", "connection refused"),
        ProviderQueried("ns", "prom", True),
    )
