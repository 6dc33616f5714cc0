"""Metric providers: prometheus (thanos, cortex), datadog, dynatrace, dql, elastic.

`open_provider(config, session)` builds the provider for a KeptnMetricsProvider's `type`
on the caller's shared aiohttp session (this package never opens sessions of its own).
The interface, KeptnMetric semantics and the error tree live in `base` and `errors`.
"""

from __future__ import annotations

from collections.abc import Callable

import aiohttp

from evaluator.providers.base import (
    MetricRange,
    MetricValue,
    Provider,
    ProviderConfig,
    StepAggregation,
    StepValues,
    aggregate_steps,
    evaluate_metric,
    parse_metric_range,
)
from evaluator.providers.datadog import DatadogProvider
from evaluator.providers.dql import DqlProvider
from evaluator.providers.dynatrace import DynatraceProvider
from evaluator.providers.elastic import ElasticProvider
from evaluator.providers.errors import (
    BadResponseError,
    ConfigError,
    HTTPStatusError,
    NaNError,
    NoDataError,
    ProviderError,
    ProviderTimeout,
    QueryError,
    TooManySeriesError,
    TransportError,
    UnreachableError,
)
from evaluator.providers.prometheus import PrometheusProvider

__all__ = [
    "PROVIDER_TYPES",
    "BadResponseError",
    "ConfigError",
    "HTTPStatusError",
    "MetricRange",
    "MetricValue",
    "NaNError",
    "NoDataError",
    "Provider",
    "ProviderConfig",
    "ProviderError",
    "ProviderTimeout",
    "QueryError",
    "StepAggregation",
    "StepValues",
    "TooManySeriesError",
    "TransportError",
    "UnreachableError",
    "aggregate_steps",
    "evaluate_metric",
    "open_provider",
    "parse_metric_range",
]

PROVIDER_TYPES: dict[str, Callable[[ProviderConfig, aiohttp.ClientSession], Provider]] = {
    "prometheus": PrometheusProvider,
    "thanos": PrometheusProvider,
    "cortex": PrometheusProvider,
    "datadog": DatadogProvider,
    "dynatrace": DynatraceProvider,
    "dql": DqlProvider,
    "elastic": ElasticProvider,
}


def open_provider(config: ProviderConfig, session: aiohttp.ClientSession) -> Provider:
    """The provider for `config.type`; ConfigError for an unknown type or unusable Secret."""
    factory = PROVIDER_TYPES.get(config.type)
    if factory is None:
        raise ConfigError(
            f"unknown provider type {config.type!r}: want one of {', '.join(PROVIDER_TYPES)}"
        )
    return factory(config, session)
