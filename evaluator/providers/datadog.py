"""Datadog: the v1 timeseries query API (`GET /api/v1/query?from=&to=&query=`).

Auth headers `DD-API-KEY` / `DD-APPLICATION-KEY` from the Secret entries `DD_CLIENT_API_KEY`
and `DD_CLIENT_APP_KEY` (KLT's names). The value is the average of the non-null points of
the first series (KLT); a stepped query adds `interval=<step ms>` and returns every non-null
point. An instant query asks for the last 5 minutes, as KLT does. `from`/`to` are in POSIX
seconds. Datadog answers HTTP 200 with `{"status": "error", "error": ...}` for a bad query.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TypedDict

import aiohttp

from evaluator.providers.base import ProviderConfig
from evaluator.providers.errors import BadResponseError, ConfigError, NoDataError
from evaluator.providers.transport import WindowedProvider, numbers

__all__ = ["DatadogProvider"]


class Series(TypedDict, total=False):  # series[] of /api/v1/query
    pointlist: list[list[float | None]]  # [[POSIX ms, value or null], ...]


class DatadogProvider(WindowedProvider):
    """Datadog metrics via `/api/v1/query`."""

    INSTANT_WINDOW = timedelta(minutes=5)

    def __init__(self, config: ProviderConfig, session: aiohttp.ClientSession) -> None:
        super().__init__(config, session)
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
        self._url = config.target_server.rstrip("/") + "/api/v1/query"

    async def _points(
        self, query: str, start: datetime, end: datetime, step: timedelta | None
    ) -> tuple[list[float], bytes]:
        params = {
            "from": str(int(start.timestamp())),
            "to": str(int(end.timestamp())),
            "query": query,
        }
        if step is not None:
            params["interval"] = str(int(step.total_seconds() * 1000))
        doc, body = await self._exchange(
            "GET", self._url, what="datadog", params=params, headers=self._headers
        )
        if not isinstance(doc, dict) or doc.get("status") == "error":
            message = doc.get("error", "unknown error") if isinstance(doc, dict) else doc
            raise BadResponseError(f"datadog: query failed: {message}")
        series: list[Series] | None = doc.get("series")  # checked below as it is read
        if not isinstance(series, list):
            raise BadResponseError("datadog: response has no series list")
        if not series:
            raise NoDataError("datadog: no series in query result")
        try:
            points = numbers(p[1] for p in series[0]["pointlist"])
        except (KeyError, IndexError, TypeError, ValueError):
            raise BadResponseError("datadog: malformed pointlist") from None
        if not points:
            raise NoDataError("datadog: series has no non-null points")
        return points, body
