"""Datadog: the v1 timeseries query API (`GET /api/v1/query?from=&to=&query=`).

Auth headers `DD-API-KEY` / `DD-APPLICATION-KEY` from the Secret entries `DD_CLIENT_API_KEY`
and `DD_CLIENT_APP_KEY` (KLT's names). The value is the average of the non-null points of
the first series (KLT); a stepped query adds `interval=<step ms>` and returns every non-null
point. An instant query asks for the last 5 minutes, as KLT does. `from`/`to` are in POSIX
seconds. Datadog answers HTTP 200 with `{"status": "error", "error": ...}` for a bad query.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import aiohttp

from evaluator.providers.base import MetricValue, ProviderConfig, StepValues
from evaluator.providers.errors import BadResponseError, ConfigError, NoDataError
from evaluator.providers.transport import decode_json, fetch

__all__ = ["DatadogProvider"]

INSTANT_WINDOW = timedelta(minutes=5)


class DatadogProvider:
    """Datadog metrics via `/api/v1/query`."""

    def __init__(self, config: ProviderConfig, session: aiohttp.ClientSession) -> None:
        secret = config.secret or {}
        api_key, app_key = secret.get("DD_CLIENT_API_KEY"), secret.get("DD_CLIENT_APP_KEY")
        if not api_key or not app_key:
            raise ConfigError(
                "datadog provider needs a Secret with DD_CLIENT_API_KEY and DD_CLIENT_APP_KEY"
            )
        self._headers = {
            "DD-API-KEY": api_key,
            "DD-APPLICATION-KEY": app_key,
            "Accept": "application/json",
        }
        self._config = config
        self._session = session
        self._url = config.target_server.rstrip("/") + "/api/v1/query"

    async def _points(
        self, query: str, start: datetime, end: datetime, step: timedelta | None = None
    ) -> tuple[list[float], bytes]:
        params = {
            "from": str(int(start.timestamp())),
            "to": str(int(end.timestamp())),
            "query": query,
        }
        if step is not None:
            params["interval"] = str(int(step.total_seconds() * 1000))
        _, body = await fetch(
            self._session,
            "GET",
            self._url,
            what="datadog",
            timeout=self._config.timeout,
            verify_tls=not self._config.insecure_skip_tls_verify,
            params=params,
            headers=self._headers,
        )
        doc: Any = decode_json(body, what="datadog")
        if not isinstance(doc, dict) or doc.get("status") == "error":
            message = doc.get("error", "unknown error") if isinstance(doc, dict) else doc
            raise BadResponseError(f"datadog: query failed: {message}")
        series = doc.get("series")
        if not isinstance(series, list):
            raise BadResponseError("datadog: response has no series list")
        if not series:
            raise NoDataError("datadog: no series in query result")
        try:
            points = [
                float(p[1])
                for p in series[0]["pointlist"]
                if p[1] is not None and not math.isnan(float(p[1]))
            ]
        except (KeyError, IndexError, TypeError, ValueError):
            raise BadResponseError("datadog: malformed pointlist") from None
        if not points:
            raise NoDataError("datadog: series has no non-null points")
        return points, body

    async def _average(self, query: str, start: datetime, end: datetime) -> MetricValue:
        points, raw = await self._points(query, start, end)
        return MetricValue(sum(points) / len(points), raw)

    async def query(self, query: str, *, at: datetime) -> MetricValue:
        """Average of the last 5 minutes up to `at` (KLT)."""
        return await self._average(query, at - INSTANT_WINDOW, at)

    async def range_value(self, query: str, *, start: datetime, end: datetime) -> MetricValue:
        """Average over the window."""
        return await self._average(query, start, end)

    async def query_range(
        self, query: str, *, start: datetime, end: datetime, step: timedelta
    ) -> StepValues:
        """Every non-null point of the first series at `interval=step`."""
        points, raw = await self._points(query, start, end, step)
        return StepValues(tuple(points), raw)

    async def analysis_value(
        self, query: str, *, start: datetime, end: datetime, args: Mapping[str, str]
    ) -> MetricValue:
        """Average over the Analysis timeframe."""
        return await self._average(query, start, end)
