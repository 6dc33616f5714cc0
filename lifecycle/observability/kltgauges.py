"""KLT's per-KeptnMetric gauges, beside our labelled `keptn_metric_value{namespace,name}`.

KLT's metrics operator exports one unlabelled gauge per KeptnMetric on its `:9999/metrics`:
the name is the KeptnMetric's name with every run of characters other than letters and digits
replaced by `_` (`available-cpus` -> `available_cpus`), the help text the original name, the
value `status.value`. Dashboards and alerts written for KLT query those names, so the operator
exports them too, on the same listener as its other metrics (which `metrics-operator-service`
port 9999 reaches, as in KLT), read from the KeptnMetric cache at each scrape.

KLT's names collide across namespaces (two KeptnMetrics `cpu` make one gauge); here the
KeptnMetric of the alphabetically first namespace is exported and the others are left to
`keptn_metric_value{namespace="…", name="cpu"}`, the labelled gauge to migrate to. A name that
could shadow the operator's own metrics (`keptn_*`, `process_*`, `python_*`) or that has no
value yet is not exported. Pure apart from reading the cache.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from lifecycle.core.bodies import KeptnMetricBody
from lifecycle.core.meta import name_of, namespace_of
from lifecycle.kube.cache import Cache

__all__ = ["KeptnMetricGauges", "gauge_name"]

_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]+")
_RESERVED = ("keptn_", "process_", "python_")


def gauge_name(metric_name: str) -> str:
    """KLT's gauge name for a KeptnMetric name (a leading digit gets a `_`, as Prometheus needs)."""
    name = _NOT_ALNUM.sub("_", metric_name)
    return "_" + name if name[:1].isdigit() else name


def _value(metric: KeptnMetricBody) -> float | None:
    try:
        return float(str(metric.get("status", {}).get("value")))
    except ValueError:
        return None


class KeptnMetricGauges(Collector):
    """Collects one unlabelled gauge per KeptnMetric (see the module docstring)."""

    def __init__(self, cache: Cache[KeptnMetricBody]) -> None:
        self.cache = cache

    def collect(self) -> Iterator[Metric]:
        seen: set[str] = set()
        metrics = sorted(self.cache.list(None), key=lambda m: (namespace_of(m), name_of(m)))
        for metric in metrics:
            original = name_of(metric)
            name = gauge_name(original)
            value = _value(metric)
            if value is None or name in seen or name.startswith(_RESERVED):
                continue
            seen.add(name)
            family = GaugeMetricFamily(name, original)
            family.add_metric([], value)
            yield family
