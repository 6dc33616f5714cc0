"""KLT's unlabelled per-KeptnMetric gauges (lifecycle.observability.kltgauges) in the Prometheus exposition."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, generate_latest

from lifecycle.observability.kltgauges import KeptnMetricGauges, gauge_name


class Cache:
    def __init__(self, *metrics: tuple[str, str, Any]) -> None:
        self.items = [
            {"metadata": {"namespace": ns, "name": name}, "status": {"value": value}}
            for ns, name, value in metrics
        ]

    def list(self, namespace: str | None = None) -> list[dict[str, Any]]:
        return list(self.items)


def test_names_follow_klt() -> None:
    assert gauge_name("available-cpus") == "available_cpus"
    assert gauge_name("cpu.load--5m") == "cpu_load_5m"
    assert gauge_name("5xx-rate") == "_5xx_rate"


def test_one_gauge_per_metric_first_namespace_wins_reserved_and_empty_skipped() -> None:
    registry = CollectorRegistry()
    registry.register(
        KeptnMetricGauges(
            Cache(
                ("shop", "available-cpus", "3.5"),
                ("billing", "available-cpus", "8"),  # same name: KLT's collision
                ("shop", "keptn-app-count", "1"),  # would shadow keptn_app_count
                ("shop", "pending", None),  # no value yet
            )
        )
    )
    text = generate_latest(registry).decode()
    assert "# HELP available_cpus available-cpus\n# TYPE available_cpus gauge\n" in text
    assert "\navailable_cpus 8.0\n" in text  # billing sorts before shop
    assert "keptn_app_count" not in text and "pending" not in text
