"""Labelled Prometheus metrics that cost a few hundred bytes per series, not kilobytes.

Role: the operator's per-object metrics (KLT's keptn_deployment_*, keptn_phase_duration_seconds,
DORA figures...) get a series per workload and phase; prometheus_client keeps every value of a
series (each histogram bucket, its sum, its created time) in an object with its own lock, about
5 kB per histogram series, which made metrics the largest per-workload cost of the operator.
`Counter`, `Gauge` and `Histogram` here keep every series of a metric in one ``array('d')`` (a
series is a slice of it, found by its label values) and expose exactly
the samples prometheus_client would (``_total``/``_created`` for counters; ``_bucket`` with
``le``, ``_count``, ``_sum``, ``_created`` for histograms, a bucket's latest exemplar on its
``_bucket`` sample), as a Collector on the registry, so ``/metrics`` in both formats,
``registry.get_sample_value`` and ``registry.collect`` are unchanged.
API: constructed as upstream's (``registry`` and ``buckets`` by keyword);
``m.labels(*values)`` (or by keyword) -> a series with ``inc``/``dec``/``set``/``observe``
(an unlabelled metric has ``inc`` and ``set`` itself; ``observe`` takes an ``exemplar`` dict
as upstream's);
``m.remove(*values)``. Label values are interned: the series of one workload share its names.
Single event loop: values change on the loop; ``collect`` copies first.
Must not: hold anything but the values (per series only its key and offset; an exemplar is
one tuple per bucket that has one, found by the offset of that bucket's count).
"""

from __future__ import annotations

import math
import sys
import time
from array import array
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TypeAlias, cast

from prometheus_client import utils
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import CollectorRegistry
from prometheus_client.samples import Exemplar

__all__ = ["Counter", "Gauge", "Histogram"]

_Key = tuple[str, ...]
_Values: TypeAlias = "array[float]"  # 0: created time, 1: value or sum, 2...: per-bucket counts
# an exemplar as kept, one flat tuple: value, timestamp, label names (one tuple per name
# set), then the label values
_Kept = tuple[object, ...]
_go_float = cast(Callable[[float], str], utils.floatToGoString)  # the "le" label, as upstream
_EXEMPLAR_RUNES = 128  # OpenMetrics: the label names and values of an exemplar, at most


class _Series:
    """One labelled series: a view over its slice of the family's values (see _Values)."""

    __slots__ = ("_at", "_family")

    def __init__(self, family: _Family, at: int) -> None:
        self._family = family
        self._at = at

    def inc(self, amount: float = 1.0) -> None:
        if amount < 0 and self._family.typ == "counter":
            raise ValueError("counters can only be incremented by non-negative amounts")
        self._family.values[self._at + 1] += amount

    def dec(self, amount: float = 1.0) -> None:
        self._family.values[self._at + 1] -= amount

    def set(self, value: float) -> None:
        self._family.values[self._at + 1] = float(value)

    def observe(self, amount: float, exemplar: Mapping[str, str] | None = None) -> None:
        values, at = self._family.values, self._at
        values[at + 1] += amount  # sum
        for i, bound in enumerate(self._family.bounds):
            if amount <= bound:
                values[at + 2 + i] += 1.0  # buckets are counted per bucket, summed on collect
                if exemplar is not None:
                    self._family.keep_exemplar(at + 2 + i, exemplar, amount)
                return


class _Family:
    """Series by label values, registered on ``registry`` as a collector."""

    typ = ""

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str] = (),
        *,
        registry: CollectorRegistry,
        buckets: Sequence[float] = (),
    ) -> None:
        self._name = name.removesuffix("_total") if self.typ == "counter" else name
        self._doc = documentation
        self._labelnames = tuple(labelnames)
        bounds = sorted(float(b) for b in buckets)  # a histogram's end in +Inf
        if self.typ == "histogram" and (not bounds or bounds[-1] != math.inf):
            bounds.append(math.inf)
        self.bounds = tuple(bounds)
        self._size = 2 + len(self.bounds)
        self.values: _Values = array("d")  # every series' slice, one after the other
        self._series: dict[_Key, int] = {}  # label values -> where its slice starts
        self._free: list[int] = []  # slices of removed series, reused first
        self._exemplars: dict[int, _Kept] = {}  # by the offset of its bucket's count
        self._exemplar_names: dict[tuple[str, ...], tuple[str, ...]] = {}
        if not self._labelnames:
            self.labels()  # an unlabelled metric has its one series from the start
        registry.register(self)

    def labels(self, *values: object, **by_name: object) -> _Series:
        """The series of these label values (created at zero on first use)."""
        if by_name:
            values = tuple(by_name[n] for n in self._labelnames)
        if len(values) != len(self._labelnames):
            raise ValueError(f"{self._name}: expected labels {self._labelnames}, got {values}")
        key = tuple(sys.intern(str(v)) for v in values)
        at = self._series.get(key)
        if at is None:
            if self._free:
                at = self._free.pop()
                self.values[at : at + self._size] = array("d", bytes(8 * self._size))
            else:
                at = len(self.values)
                self.values.frombytes(bytes(8 * self._size))
            self._series[key] = at
            self.values[at] = time.time()
        return _Series(self, at)

    def keep_exemplar(self, offset: int, exemplar: Mapping[str, str], v: float) -> None:
        """Checked as upstream checks it (128 runes at most); names and values interned."""
        names = tuple(sys.intern(str(k)) for k in exemplar)
        values = tuple(sys.intern(str(x)) for x in exemplar.values())  # a trace id: per app
        if sum(map(len, names + values)) > _EXEMPLAR_RUNES:
            raise ValueError(f"exemplar labels longer than {_EXEMPLAR_RUNES} runes: {exemplar}")
        names = self._exemplar_names.setdefault(names, names)  # one tuple per name set
        self._exemplars[offset] = (v, time.time(), names, *values)

    def inc(self, amount: float = 1.0) -> None:
        """Of an unlabelled metric."""
        self.labels().inc(amount)

    def set(self, value: float) -> None:
        """Of an unlabelled metric."""
        self.labels().set(value)

    def remove(self, *values: object) -> None:
        """Drop a series; KeyError if it does not exist (as upstream)."""
        at = self._series.pop(tuple(str(v) for v in values))
        self._free.append(at)
        for bucket in range(len(self.bounds)):
            self._exemplars.pop(at + 2 + bucket, None)

    def describe(self) -> list[Metric]:
        return [Metric(self._name, self._doc, self.typ)]

    def collect(self) -> Iterator[Metric]:
        metric = Metric(self._name, self._doc, self.typ)
        for key, at in list(self._series.items()):
            values = self.values[at : at + self._size]
            self._samples(metric, at, dict(zip(self._labelnames, key, strict=True)), values)
        yield metric

    def exemplar(self, offset: int) -> Exemplar | None:
        kept = self._exemplars.get(offset)
        if kept is None:
            return None
        value, timestamp, names, *values = kept
        labels = dict(zip(cast(tuple[str, ...], names), cast(list[str], values), strict=True))
        return Exemplar(labels, cast(float, value), cast(float, timestamp))

    def _samples(self, metric: Metric, at: int, labels: dict[str, str], values: _Values) -> None:
        raise NotImplementedError


class Counter(_Family):
    typ = "counter"

    def _samples(self, metric: Metric, at: int, labels: dict[str, str], values: _Values) -> None:
        metric.add_sample(self._name + "_total", labels, values[1])
        metric.add_sample(self._name + "_created", labels, values[0])


class Gauge(_Family):
    typ = "gauge"

    def _samples(self, metric: Metric, at: int, labels: dict[str, str], values: _Values) -> None:
        metric.add_sample(self._name, labels, values[1])


class Histogram(_Family):
    typ = "histogram"

    def _samples(self, metric: Metric, at: int, labels: dict[str, str], values: _Values) -> None:
        total = 0.0
        for i, bound in enumerate(self.bounds):
            total += values[2 + i]
            metric.add_sample(
                self._name + "_bucket",
                {**labels, "le": _go_float(bound)},
                total,
                exemplar=self.exemplar(at + 2 + i),
            )
        metric.add_sample(self._name + "_count", labels, total)
        metric.add_sample(self._name + "_sum", labels, values[1])
        metric.add_sample(self._name + "_created", labels, values[0])
