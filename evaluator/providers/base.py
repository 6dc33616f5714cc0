"""The provider interface, its plain-data config, and KeptnMetric semantics over it.

A controller reads the KeptnMetricsProvider and its Secret and passes plain data
(`ProviderConfig`); `open_provider()` (in the package) builds the provider on one shared
aiohttp session. Every provider answers four questions, the ones KLT's code asks:

* `query(q, at=)`                       instant value (KeptnMetric without range)
* `range_value(q, start=, end=)`        one value for a window (KeptnMetric `range.interval`)
* `query_range(q, start=, end=, step=)` all step points (KeptnMetric `range.step`)
* `analysis_value(q, start=, end=, args=)` the value of an Analysis objective

`evaluate_metric()` adds KLT's KeptnMetric rules on top: the window ends at `now`, step points
are folded with max/min/avg/median/p90/p95/p99 (pXX = sorted[ceil(n·p/100)-1], as KLT).
Nothing here logs; errors are `evaluator.providers.errors`.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from evaluator.bodies import MetricRangeBody
from evaluator.durations import parse_duration
from evaluator.providers.errors import ConfigError, NoDataError

__all__ = [
    "MetricRange",
    "MetricValue",
    "Provider",
    "ProviderConfig",
    "StepAggregation",
    "StepValues",
    "aggregate_steps",
    "evaluate_metric",
    "parse_metric_range",
]


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    """A KeptnMetricsProvider as plain data, its Secret already read by the controller."""

    type: str
    target_server: str
    secret: Mapping[str, str] | None = None
    """The whole Secret's data (decoded), or None when `secretKeyRef` is unset."""
    secret_key: str | None = None
    """`secretKeyRef.key`: the entry holding the token (dynatrace, dql, elastic)."""
    insecure_skip_tls_verify: bool = False
    timeout: float = 20.0
    """Seconds for one whole HTTP exchange (KLT: 20 s context per provider call)."""

    def secret_value(self) -> str:
        """The Secret entry `secret_key` names; ConfigError (without the value) if absent."""
        if not self.secret or not self.secret_key or not self.secret.get(self.secret_key):
            raise ConfigError(
                f"{self.type} provider needs secretKeyRef with a non-empty key "
                f"{self.secret_key or '(unset)'}"
            )
        return self.secret[self.secret_key]

    def __repr__(self) -> str:  # never print the secret
        keys = sorted(self.secret) if self.secret else None
        return (
            f"ProviderConfig(type={self.type!r}, target_server={self.target_server!r}, "
            f"secret_keys={keys}, secret_key={self.secret_key!r}, "
            f"insecure_skip_tls_verify={self.insecure_skip_tls_verify}, timeout={self.timeout})"
        )


@dataclass(frozen=True, slots=True)
class MetricValue:
    """One number and the raw backend answer it came from (KeptnMetric `rawValue`)."""

    value: float
    raw: bytes


@dataclass(frozen=True, slots=True)
class StepValues:
    """All points of a stepped range query, oldest first, and the raw answer."""

    values: tuple[float, ...]
    raw: bytes


class Provider(Protocol):
    """What every metric backend offers; see the module docstring."""

    async def query(self, query: str, *, at: datetime) -> MetricValue:
        """The instant value of `query` at `at`."""
        ...

    async def range_value(self, query: str, *, start: datetime, end: datetime) -> MetricValue:
        """One value summarising `query` over [start, end]."""
        ...

    async def query_range(
        self, query: str, *, start: datetime, end: datetime, step: timedelta
    ) -> StepValues:
        """Every step point of `query` over [start, end]."""
        ...

    async def analysis_value(
        self, query: str, *, start: datetime, end: datetime, args: Mapping[str, str]
    ) -> MetricValue:
        """The value of an Analysis objective over its timeframe."""
        ...


class StepAggregation(StrEnum):
    """KeptnMetric `range.aggregation`."""

    MAX = "max"
    MIN = "min"
    AVG = "avg"
    MEDIAN = "median"
    P90 = "p90"
    P95 = "p95"
    P99 = "p99"


def aggregate_steps(values: Sequence[float], how: StepAggregation) -> float:
    """Fold step points the way KLT does; pXX = sorted[ceil(n·p/100) - 1]."""
    if not values:
        raise NoDataError("no step values to aggregate")
    match how:
        case StepAggregation.MAX:
            return max(values)
        case StepAggregation.MIN:
            return min(values)
        case StepAggregation.AVG:
            return sum(values) / len(values)
        case StepAggregation.MEDIAN:
            return float(statistics.median(values))
        case _:
            ordered = sorted(values)
            rank = math.ceil(len(ordered) * int(how.value[1:]) / 100)
            return ordered[max(rank, 1) - 1]


@dataclass(frozen=True, slots=True)
class MetricRange:
    """KeptnMetric `spec.range`: window, optional step and its aggregation."""

    interval: timedelta = timedelta(minutes=5)
    step: timedelta | None = None
    aggregation: StepAggregation | None = None
    stored_results: int = 0


def parse_metric_range(body: MetricRangeBody | None) -> MetricRange | None:
    """Parse `spec.range` with the admission webhook's rules (step needs aggregation and back)."""
    if body is None:
        return None
    try:
        interval = parse_duration(str(body.get("interval") or "5m"))
        step = parse_duration(str(body["step"])) if body.get("step") else None
        aggregation = StepAggregation(body["aggregation"]) if body.get("aggregation") else None
    except ValueError as err:
        raise ConfigError(f"range: {err}") from None
    if (step is None) != (aggregation is None):
        raise ConfigError("range: step requires aggregation and aggregation requires step")
    if interval <= timedelta(0) or (step is not None and step <= timedelta(0)):
        raise ConfigError("range: interval and step must be positive")
    stored = int(body.get("storedResults") or 0)
    if not 0 <= stored <= 255:
        raise ConfigError("range: storedResults must be within 0..255")
    return MetricRange(interval, step, aggregation, stored)


async def evaluate_metric(
    provider: Provider, query: str, spec_range: MetricRange | None, now: datetime
) -> MetricValue:
    """A KeptnMetric's value at `now`: instant, window value, or aggregated step points."""
    if spec_range is None:
        return await provider.query(query, at=now)
    start = now - spec_range.interval
    if spec_range.step is None or spec_range.aggregation is None:
        return await provider.range_value(query, start=start, end=now)
    points = await provider.query_range(query, start=start, end=now, step=spec_range.step)
    return MetricValue(aggregate_steps(points.values, spec_range.aggregation), points.raw)
