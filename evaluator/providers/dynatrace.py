"""Dynatrace metrics API v2 (`GET {env}/api/v2/metrics/query?metricSelector=`).

`targetServer` is normalised to end with `/api/` as KLT does, so both
`https://abc.live.dynatrace.com` and `…/api` work. Auth header `Authorization: Api-Token
<Secret[secretKeyRef.key]>`. The value is the average of every non-null value of every
series (KLT); a stepped query sends `resolution=<step in minutes>` (Dynatrace's minimum is
1m) and returns the values of all series in order. Times are epoch milliseconds; an instant
query asks for Dynatrace's default window (2 h) ending at `at`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import aiohttp

from evaluator.providers.base import MetricValue, ProviderConfig, StepValues
from evaluator.providers.errors import BadResponseError, NoDataError
from evaluator.providers.transport import decode_json, fetch

__all__ = ["DynatraceProvider", "api_prefix"]

DEFAULT_WINDOW = timedelta(hours=2)


def api_prefix(target_server: str) -> str:
    """KLT's normalisation: the environment URL ending in `/api/`."""
    base = target_server.rstrip("/")
    return base + "/" if base.endswith("/api") else base + "/api/"


def _ms(moment: datetime) -> str:
    return str(int(moment.timestamp() * 1000))


class DynatraceProvider:
    """Dynatrace metrics v2 query."""

    def __init__(self, config: ProviderConfig, session: aiohttp.ClientSession) -> None:
        self._headers = {
            "Authorization": f"Api-Token {config.secret_value()}",
            "Accept": "application/json",
        }
        self._config = config
        self._session = session
        self._url = api_prefix(config.target_server) + "v2/metrics/query"

    async def _values(
        self, query: str, start: datetime, end: datetime, step: timedelta | None = None
    ) -> tuple[list[float], bytes]:
        params = {"metricSelector": query, "from": _ms(start), "to": _ms(end)}
        if step is not None:
            params["resolution"] = f"{max(1, round(step.total_seconds() / 60))}m"
        _, body = await fetch(
            self._session,
            "GET",
            self._url,
            what="dynatrace",
            timeout=self._config.timeout,
            verify_tls=not self._config.insecure_skip_tls_verify,
            params=params,
            headers=self._headers,
        )
        doc: Any = decode_json(body, what="dynatrace")
        if not isinstance(doc, dict) or not isinstance(doc.get("result"), list):
            raise BadResponseError("dynatrace: response has no result list")
        try:
            values = [
                float(v)
                for metric in doc["result"]
                for series in metric["data"]
                for v in series["values"]
                if v is not None and not math.isnan(float(v))
            ]
        except (KeyError, TypeError, ValueError):
            raise BadResponseError("dynatrace: malformed result data") from None
        if not values:
            raise NoDataError("dynatrace: no values in query result")
        return values, body

    async def _average(self, query: str, start: datetime, end: datetime) -> MetricValue:
        values, raw = await self._values(query, start, end)
        return MetricValue(sum(values) / len(values), raw)

    async def query(self, query: str, *, at: datetime) -> MetricValue:
        """Average over Dynatrace's default 2 h window ending at `at`."""
        return await self._average(query, at - DEFAULT_WINDOW, at)

    async def range_value(self, query: str, *, start: datetime, end: datetime) -> MetricValue:
        """Average over the window."""
        return await self._average(query, start, end)

    async def query_range(
        self, query: str, *, start: datetime, end: datetime, step: timedelta
    ) -> StepValues:
        """All non-null values at `resolution=step`."""
        values, raw = await self._values(query, start, end, step)
        return StepValues(tuple(values), raw)

    async def analysis_value(
        self, query: str, *, start: datetime, end: datetime, args: Mapping[str, str]
    ) -> MetricValue:
        """Average over the Analysis timeframe."""
        return await self._average(query, start, end)
