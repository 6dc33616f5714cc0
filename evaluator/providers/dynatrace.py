"""Dynatrace metrics API v2 (`GET {env}/api/v2/metrics/query?metricSelector=`).

`targetServer` is normalised to end with `/api/` as KLT does, so both
`https://abc.live.dynatrace.com` and `…/api` work. Auth header `Authorization: Api-Token
<Secret[secretKeyRef.key]>`. The value is the average of every non-null value of every
series (KLT); a stepped query sends `resolution=<step in minutes>` (Dynatrace's minimum is
1m) and returns the values of all series in order. Times are epoch milliseconds; an instant
query asks for Dynatrace's default window (2 h) ending at `at`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TypedDict

import aiohttp

from evaluator.providers.base import ProviderConfig
from evaluator.providers.errors import BadResponseError, NoDataError
from evaluator.providers.transport import WindowedProvider, numbers

__all__ = ["DynatraceProvider", "api_prefix"]


class Series(TypedDict, total=False):  # result[].data[] of /api/v2/metrics/query
    values: list[float | None]


class MetricData(TypedDict, total=False):  # result[] of /api/v2/metrics/query
    data: list[Series]


def api_prefix(target_server: str) -> str:
    """KLT's normalisation: the environment URL ending in `/api/`."""
    base = target_server.rstrip("/")
    return base + "/" if base.endswith("/api") else base + "/api/"


def _ms(moment: datetime) -> str:
    return str(int(moment.timestamp() * 1000))


class DynatraceProvider(WindowedProvider):
    """Dynatrace metrics v2 query."""

    INSTANT_WINDOW = timedelta(hours=2)  # Dynatrace's default window

    def __init__(self, config: ProviderConfig, session: aiohttp.ClientSession) -> None:
        super().__init__(config, session)
        self._headers = {
            "Authorization": f"Api-Token {config.secret_value()}",
            "Accept": "application/json",
        }
        self._url = api_prefix(config.target_server) + "v2/metrics/query"

    async def _points(
        self, query: str, start: datetime, end: datetime, step: timedelta | None
    ) -> tuple[list[float], bytes]:
        params = {"metricSelector": query, "from": _ms(start), "to": _ms(end)}
        if step is not None:
            params["resolution"] = f"{max(1, round(step.total_seconds() / 60))}m"
        doc, body = await self._exchange(
            "GET", self._url, what="dynatrace", params=params, headers=self._headers
        )
        if not isinstance(doc, dict) or not isinstance(doc.get("result"), list):
            raise BadResponseError("dynatrace: response has no result list")
        result: list[MetricData] = doc["result"]  # each series is checked as it is read
        try:
            values = numbers(v for m in result for series in m["data"] for v in series["values"])
        except (KeyError, TypeError, ValueError):
            raise BadResponseError("dynatrace: malformed result data") from None
        if not values:
            raise NoDataError("dynatrace: no values in query result")
        return values, body
