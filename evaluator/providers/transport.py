"""One HTTP exchange with a metric backend, with every failure mapped to our errors.

All providers go through `fetch()`: it applies the provider's timeout (the whole exchange)
and TLS choice, reads the body, and turns aiohttp exceptions and error statuses into the
`evaluator.providers.errors` tree. It never logs or echoes request headers, never follows a
redirect (the credentials go to the provider's own targetServer only), and scrubs every registered
secret form (evaluator.redact) from the body before anyone sees it, so a backend that echoes the
credentials cannot leak them; error texts name the provider type and URL path only.

`HttpProvider` holds what every provider shares (config, the caller's session, one JSON exchange);
`WindowedProvider` adds the KeptnMetric questions of a backend whose value folds the points of
a window (Datadog, Dynatrace, DQL), so a provider module states only its wire format.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import ClassVar, TypedDict

import aiohttp
from typing_extensions import Unpack
from yarl import URL

from evaluator.providers.base import MetricValue, ProviderConfig, StepValues
from evaluator.providers.errors import (
    BadResponseError,
    HTTPStatusError,
    ProviderTimeout,
    TransportError,
    UnreachableError,
)
from evaluator.redact import scrub_bytes

__all__ = ["HttpProvider", "Request", "WindowedProvider", "decode_json", "fetch", "numbers"]

_EXCERPT = 300  # characters of a backend's error body kept in the message


class Request(TypedDict, total=False):  # what a provider adds to one `fetch`
    params: Mapping[str, str]
    headers: Mapping[str, str]
    json_body: object
    form: Mapping[str, str]


async def fetch(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    what: str,
    timeout: float,  # noqa: ASYNC109 - passed to aiohttp as the per-request ClientTimeout
    verify_tls: bool = True,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    json_body: object = None,
    form: Mapping[str, str] | None = None,
) -> tuple[int, bytes]:
    """Send one request; return (status, body) for a 2xx answer, raise otherwise."""
    where = f"{what} {URL(url).path or '/'}"
    try:
        async with session.request(
            method,
            url,
            params=params,
            headers=headers,
            json=json_body,
            data=form,
            timeout=aiohttp.ClientTimeout(total=timeout),
            ssl=verify_tls,
            allow_redirects=False,  # credentials go to the provider's own targetServer only
        ) as response:
            body = await response.read()
            status = response.status
    except TimeoutError:
        raise ProviderTimeout(f"{where}: no answer within {timeout:g}s") from None
    except aiohttp.ClientConnectionError as err:
        if isinstance(err, aiohttp.ClientConnectorError | aiohttp.ClientSSLError):
            raise UnreachableError(f"{where}: unreachable ({err.__class__.__name__})") from None
        raise TransportError(f"{where}: connection failed ({err.__class__.__name__})") from None
    except aiohttp.ClientError as err:
        raise TransportError(f"{where}: {err.__class__.__name__}") from None
    except (ValueError, TypeError, UnicodeError) as err:  # e.g. a header value with a newline
        raise TransportError(
            f"{where}: request refused by the HTTP client ({err.__class__.__name__})"
        ) from None
    body = scrub_bytes(body)  # a backend (or a proxy's error page) may echo the credentials
    if status >= 300:
        raise HTTPStatusError(f"{where}: HTTP {status}: {_backend_message(body)}", status=status)
    return status, body


def _backend_message(body: bytes) -> str:
    """The backend's own error text: JSON `error`/`errors`/`message` if present, else the body."""
    try:
        doc = json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace").strip()[:_EXCERPT] or "(empty body)"
    if isinstance(doc, dict):
        for key in ("error", "errors", "message", "details"):
            if doc.get(key):
                text = doc[key] if isinstance(doc[key], str) else json.dumps(doc[key])
                kind = doc.get("errorType")
                return (f"{kind}: {text}" if kind else text)[:_EXCERPT]
    return json.dumps(doc)[:_EXCERPT]


def decode_json(body: bytes, *, what: str) -> object:
    """Parse a JSON body (its shape is the caller's to check) or raise BadResponseError."""
    try:
        return json.loads(body)
    except ValueError:
        excerpt = body[:80].decode("utf-8", "replace")
        raise BadResponseError(f"{what}: response is not JSON: {excerpt!r}") from None


def numbers(values: Iterable[float | str | None]) -> list[float]:
    """The values as floats, nulls and NaN dropped; TypeError/ValueError for anything else."""
    return [n for n in (float(v) for v in values if v is not None) if not math.isnan(n)]


class HttpProvider:
    """A provider's config and the caller's shared session, and one JSON exchange with them."""

    def __init__(self, config: ProviderConfig, session: aiohttp.ClientSession) -> None:
        self._config = config
        self._session = session

    async def _exchange(
        self, method: str, url: str, *, what: str, **request: Unpack[Request]
    ) -> tuple[object, bytes]:
        """`fetch` with the config's timeout and TLS choice: (decoded JSON, raw body)."""
        _, body = await fetch(
            self._session,
            method,
            url,
            what=what,
            timeout=self._config.timeout,
            verify_tls=not self._config.insecure_skip_tls_verify,
            **request,
        )
        return decode_json(body, what=what), body


class WindowedProvider(HttpProvider):
    """A backend asked for the points of a window, whose value is one fold of them (`_fold`).

    An instant query asks for the `INSTANT_WINDOW` before `at`; a window or an Analysis timeframe
    is asked as it is; a stepped query returns every point at the step.
    """

    INSTANT_WINDOW: ClassVar[timedelta]

    async def _points(
        self, query: str, start: datetime, end: datetime, step: timedelta | None
    ) -> tuple[list[float], bytes]:
        """The non-empty points of [start, end] (at `step` if given) and the raw answer."""
        raise NotImplementedError

    @staticmethod
    def _fold(points: list[float]) -> float:
        """The value of a window's points: their average (KLT's Datadog and Dynatrace)."""
        return sum(points) / len(points)

    async def _value(self, query: str, start: datetime, end: datetime) -> MetricValue:
        points, raw = await self._points(query, start, end, None)
        return MetricValue(self._fold(points), raw)

    async def query(self, query: str, *, at: datetime) -> MetricValue:
        """The value of the `INSTANT_WINDOW` before `at` (KLT)."""
        return await self._value(query, at - self.INSTANT_WINDOW, at)

    async def range_value(self, query: str, *, start: datetime, end: datetime) -> MetricValue:
        """The value of the window."""
        return await self._value(query, start, end)

    async def query_range(
        self, query: str, *, start: datetime, end: datetime, step: timedelta
    ) -> StepValues:
        """Every point of the window at `step`."""
        points, raw = await self._points(query, start, end, step)
        return StepValues(tuple(points), raw)

    async def analysis_value(
        self, query: str, *, start: datetime, end: datetime, args: Mapping[str, str]
    ) -> MetricValue:
        """The value of the Analysis timeframe."""
        return await self._value(query, start, end)
