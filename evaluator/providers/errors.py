"""The errors every metric provider raises, whatever the backend or HTTP library.

    ProviderError                  anything that kept us from a value
    ├── ConfigError                bad provider config or Secret (missing key, bad JSON, unknown type)
    ├── TransportError             no usable HTTP exchange
    │   ├── UnreachableError       connection refused / DNS / TLS handshake failed
    │   └── ProviderTimeout        no complete answer within the provider timeout
    ├── HTTPStatusError            the backend answered 4xx/5xx (`.status`, backend's own message)
    └── QueryError                 the backend answered 2xx but not with exactly one number
        ├── BadResponseError       not the documented shape (not JSON, missing fields, error state)
        ├── TooManySeriesError     more than one series/sample where one is required
        └── NoDataError            an empty result (the objective's noData policy applies)
            └── NaNError           the only value is NaN (e.g. rate over 0/0): treated as no data

Like kopf's and httpx's error modules: callers never see aiohttp exceptions, so the HTTP
client can change without touching the controllers. Messages never contain credentials —
only the provider type, the URL path and the backend's error text.
"""

from __future__ import annotations

__all__ = [
    "BadResponseError",
    "ConfigError",
    "HTTPStatusError",
    "NaNError",
    "NoDataError",
    "ProviderError",
    "ProviderTimeout",
    "QueryError",
    "TooManySeriesError",
    "TransportError",
    "UnreachableError",
]


class ProviderError(Exception):
    """Base class: a metric value could not be obtained."""


class ConfigError(ProviderError):
    """The KeptnMetricsProvider or its Secret is unusable."""


class TransportError(ProviderError):
    """No usable HTTP exchange with the backend."""


class UnreachableError(TransportError):
    """The backend could not be connected to."""


class ProviderTimeout(TransportError):
    """The backend did not answer within the timeout."""


class HTTPStatusError(ProviderError):
    """The backend answered with an error status."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class QueryError(ProviderError):
    """The backend answered, but not with one usable number."""


class BadResponseError(QueryError):
    """The answer does not have the documented shape."""


class TooManySeriesError(QueryError):
    """More than one series or sample where exactly one is required."""


class NoDataError(QueryError):
    """The query matched nothing."""


class NaNError(NoDataError):
    """The value is NaN."""
