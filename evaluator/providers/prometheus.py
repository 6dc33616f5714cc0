"""Prometheus, Thanos and Cortex: the Prometheus HTTP API (`/api/v1/query`, `/query_range`).

KLT semantics (reference/keptn.md §10.4): an instant query must yield exactly one sample; a
window (`range.interval`) is a range query with step = interval whose single series' first
point is the value; a stepped query returns every point of the single series; an Analysis is
a range query from..to with step 1m, first point. Scalars are accepted as one sample.
Basic auth comes from the Secret's `user` / `password` entries when a Secret is given.
A NaN sample raises NaNError (no data), never a number.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TypedDict, cast

import aiohttp

from evaluator.durations import format_duration
from evaluator.providers.base import MetricValue, ProviderConfig, StepValues
from evaluator.providers.errors import (
    BadResponseError,
    NaNError,
    NoDataError,
    TooManySeriesError,
)
from evaluator.providers.transport import HttpProvider

__all__ = ["PrometheusProvider"]

ANALYSIS_STEP = timedelta(minutes=1)


class Series(TypedDict, total=False):  # of a vector (`value`) or a matrix (`values`)
    metric: dict[str, str]
    value: list[float | str]  # [unix time, "sample"]
    values: list[list[float | str]]  # [[unix time, "sample"], ...]


class QueryData(TypedDict):  # `data` of a successful answer
    resultType: str  # vector | matrix | scalar | string
    result: list[Series]  # a scalar's is [unix time, "sample"]: read as Sequence[object]


def _ts(moment: datetime) -> str:
    return f"{moment.timestamp():.3f}"


def _number(raw: object, *, what: str) -> float:
    try:
        if not isinstance(raw, int | float | str):
            raise TypeError(raw)
        value = float(raw)
    except (TypeError, ValueError):
        raise BadResponseError(f"{what}: sample value {raw!r} is not a number") from None
    if math.isnan(value):
        raise NaNError(f"{what}: value is NaN")
    return value


class PrometheusProvider(HttpProvider):
    """The Prometheus HTTP API client; also used for thanos and cortex."""

    def __init__(self, config: ProviderConfig, session: aiohttp.ClientSession) -> None:
        super().__init__(config, session)
        self._base = config.target_server.rstrip("/")
        self._what = config.type
        self._headers: dict[str, str] = {}
        if config.secret:
            pair = f"{config.secret.get('user', '')}:{config.secret.get('password', '')}"
            self._headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()

    async def _get(self, path: str, params: Mapping[str, str]) -> tuple[QueryData, bytes]:
        doc, body = await self._exchange(
            "GET", f"{self._base}{path}", what=self._what, params=params, headers=self._headers
        )
        if not isinstance(doc, dict) or doc.get("status") != "success":
            message = doc.get("error", "no status") if isinstance(doc, dict) else "not an object"
            raise BadResponseError(f"{self._what}: query failed: {message}")
        data = doc.get("data")
        if not isinstance(data, dict) or not isinstance(data.get("result"), list):
            raise BadResponseError(f"{self._what}: response has no data.result")
        return cast(QueryData, data), body  # the samples are checked where they are read

    def _single(self, result: list[Series]) -> Series:
        """The one series of a vector or matrix result (KLT: exactly one)."""
        if not result:
            raise NoDataError(f"{self._what}: no values in query result")
        if len(result) > 1:
            raise TooManySeriesError(
                f"{self._what}: too many values in query result ({len(result)} series)"
            )
        return result[0]

    async def query(self, query: str, *, at: datetime) -> MetricValue:
        """`/api/v1/query` at `at`: exactly one sample."""
        data, raw = await self._get("/api/v1/query", {"query": query, "time": _ts(at)})
        if data.get("resultType") == "scalar":  # e.g. `vector(1) > bool 0` or `scalar(x)`
            scalar: Sequence[object] = data["result"]
            return MetricValue(_number(scalar[1], what=self._what), raw)
        series = self._single(data["result"])
        try:
            sample = series["value"][1]
        except (KeyError, IndexError, TypeError):
            raise BadResponseError(f"{self._what}: malformed vector sample") from None
        return MetricValue(_number(sample, what=self._what), raw)

    async def _series(
        self, query: str, start: datetime, end: datetime, step: timedelta
    ) -> tuple[list[float], bytes]:
        params = {
            "query": query,
            "start": _ts(start),
            "end": _ts(end),
            "step": format_duration(step),
        }
        data, raw = await self._get("/api/v1/query_range", params)
        series = self._single(data["result"])
        try:
            points = [float(v) for _, v in series.get("values", [])]
        except (AttributeError, TypeError, ValueError):
            raise BadResponseError(f"{self._what}: malformed matrix values") from None
        if not points:
            raise NoDataError(f"{self._what}: series has no points")
        return points, raw

    async def range_value(self, query: str, *, start: datetime, end: datetime) -> MetricValue:
        """Range query with step = the window: the single series' first point."""
        points, raw = await self._series(query, start, end, end - start)
        return MetricValue(_number(points[0], what=self._what), raw)

    async def query_range(
        self, query: str, *, start: datetime, end: datetime, step: timedelta
    ) -> StepValues:
        """Every point of the single series (NaN points dropped)."""
        points, raw = await self._series(query, start, end, step)
        values = tuple(p for p in points if not math.isnan(p))
        if not values:
            raise NaNError(f"{self._what}: every point is NaN")
        return StepValues(values, raw)

    async def analysis_value(
        self, query: str, *, start: datetime, end: datetime, args: Mapping[str, str]
    ) -> MetricValue:
        """KLT: range query from..to, step 1m, the single series' first point."""
        points, raw = await self._series(query, start, end, ANALYSIS_STEP)
        return MetricValue(_number(points[0], what=self._what), raw)
