"""Labelled Prometheus metrics that cost a few hundred bytes per series, not kilobytes.

Role: the operator's per-object metrics (KLT's keptn_deployment_*, keptn_phase_duration_seconds,
DORA figures...) get a series per workload and phase; prometheus_client keeps every value of a
series (each histogram bucket, its sum, its created time) in an object with its own lock, about
5 kB per histogram series, which made metrics the largest per-workload cost of the operator.
`Counter`, `Gauge` and `Histogram` here keep one ``array('d')`` per series and expose exactly
the samples prometheus_client would (``_total``/``_created`` for counters; ``_bucket`` with
``le``, ``_count``, ``_sum``, ``_created`` for histograms), as a Collector on the registry, so
``/metrics``, ``registry.get_sample_value`` and ``registry.collect`` are unchanged.
API: ``m.labels(*values)`` (or by keyword) -> a series with ``inc``/``dec``/``set``/``observe``
(an unlabelled metric has them itself); ``m.remove(*values)``. Single event loop: values change on the loop; ``collect`` copies first.
Must not: hold anything but the values (no per-series objects beyond the array).
"""

from __future__ import annotations

import math
import time
from array import array
from collections.abc import Callable, Iterator, Sequence
from typing import cast

from prometheus_client import utils
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import CollectorRegistry

__all__ = ["Counter", "Gauge", "Histogram"]

_Key = tuple[str, ...]
_go_float = cast(Callable[[float], str], utils.floatToGoString)  # the "le" label, as upstream


class _Series:
    """One labelled series: a view over its values (index 0: created time)."""

    __slots__ = ("_bounds", "_values")

    def __init__(self, values: array[float], bounds: Sequence[float]) -> None:
        self._values = values
        self._bounds = bounds

    def inc(self, amount: float = 1.0) -> None:
        self._values[1] += amount

    def dec(self, amount: float = 1.0) -> None:
        self._values[1] -= amount

    def set(self, value: float) -> None:
        self._values[1] = float(value)

    def observe(self, amount: float) -> None:
        values = self._values
        values[1] += amount  # sum
        for i, bound in enumerate(self._bounds):
            if amount <= bound:
                values[2 + i] += 1.0  # buckets are counted per bucket, summed on collect
                return


class _Family:
    """Series by label values, registered on ``registry`` as a collector."""

    typ = ""

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str],
        registry: CollectorRegistry,
        bounds: Sequence[float] = (),
    ) -> None:
        self._name = name
        self._doc = documentation
        self._labelnames = tuple(labelnames)
        self._bounds = tuple(bounds)
        self._size = 2 + len(self._bounds)
        self._series: dict[_Key, array[float]] = {}
        if not self._labelnames:
            self.labels()  # an unlabelled metric has its one series from the start
        registry.register(self)

    def labels(self, *values: object, **by_name: object) -> _Series:
        """The series of these label values (created at zero on first use)."""
        if by_name:
            values = tuple(by_name[n] for n in self._labelnames)
        if len(values) != len(self._labelnames):
            raise ValueError(f"{self._name}: expected labels {self._labelnames}, got {values}")
        key = tuple(str(v) for v in values)
        found = self._series.get(key)
        if found is None:
            found = self._series[key] = array("d", bytes(8 * self._size))
            found[0] = time.time()
        return _Series(found, self._bounds)

    def inc(self, amount: float = 1.0) -> None:
        """Of an unlabelled metric."""
        self.labels().inc(amount)

    def dec(self, amount: float = 1.0) -> None:
        self.labels().dec(amount)

    def set(self, value: float) -> None:
        self.labels().set(value)

    def observe(self, amount: float) -> None:
        self.labels().observe(amount)

    def remove(self, *values: object) -> None:
        self._series.pop(tuple(str(v) for v in values), None)

    def describe(self) -> list[Metric]:
        return [Metric(self._name, self._doc, self.typ)]

    def collect(self) -> Iterator[Metric]:
        metric = Metric(self._name, self._doc, self.typ)
        for key, values in list(self._series.items()):
            self._samples(metric, dict(zip(self._labelnames, key, strict=True)), values)
        yield metric

    def _samples(self, metric: Metric, labels: dict[str, str], values: array[float]) -> None:
        raise NotImplementedError


class Counter(_Family):
    typ = "counter"

    def __init__(
        self, name: str, documentation: str, labelnames: Sequence[str], registry: CollectorRegistry
    ) -> None:
        super().__init__(name.removesuffix("_total"), documentation, labelnames, registry)

    def _samples(self, metric: Metric, labels: dict[str, str], values: array[float]) -> None:
        metric.add_sample(self._name + "_total", labels, values[1])
        metric.add_sample(self._name + "_created", labels, values[0])


class Gauge(_Family):
    typ = "gauge"

    def _samples(self, metric: Metric, labels: dict[str, str], values: array[float]) -> None:
        metric.add_sample(self._name, labels, values[1])


class Histogram(_Family):
    typ = "histogram"

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str],
        registry: CollectorRegistry,
        buckets: Sequence[float],
    ) -> None:
        bounds = sorted(float(b) for b in buckets)
        if not bounds or bounds[-1] != math.inf:
            bounds.append(math.inf)
        super().__init__(name, documentation, labelnames, registry, bounds)

    def _samples(self, metric: Metric, labels: dict[str, str], values: array[float]) -> None:
        total = 0.0
        for i, bound in enumerate(self._bounds):
            total += values[2 + i]
            metric.add_sample(self._name + "_bucket", {**labels, "le": _go_float(bound)}, total)
        metric.add_sample(self._name + "_count", labels, total)
        metric.add_sample(self._name + "_sum", labels, values[1])
        metric.add_sample(self._name + "_created", labels, values[0])
