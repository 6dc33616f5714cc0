"""Elasticsearch: `POST {targetServer}/_search` with the query as the request body.

Auth header `Authorization: ApiKey <value>` where the value is the Secret entry that
`secretKeyRef.key` names. (KLT QUIRK fixed: KLT passes the *key name* as the API key.)
The query is a complete search body (JSON) carrying its own time range, as in KLT.

Value extraction (KLT flattens the response into dotted keys and takes the first key that
contains `metricPath`, in Go's random map order; we make it deterministic): for an Analysis,
`args.metricPath` picks the leaf — an exact dotted path first, then a key ending in it, then
one containing it, in document order, ignoring `took` and `_shards.*`. Without a path (a
KeptnMetric) the first numeric leaf under `aggregations` is used, else `hits.total.value`.
Stepped queries are not supported (KLT returns nothing): a ConfigError says so.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta

import aiohttp

from evaluator.providers.base import MetricValue, ProviderConfig, StepValues
from evaluator.providers.errors import BadResponseError, ConfigError, NoDataError
from evaluator.providers.transport import HttpProvider

__all__ = ["ElasticProvider", "extract_metric", "numeric_leaves"]


def numeric_leaves(doc: Mapping[str, object], prefix: str = "") -> Iterator[tuple[str, float]]:
    """Every numeric leaf as (dotted.path, value), in document order."""
    for key, value in doc.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from numeric_leaves(value, path + ".")
        elif isinstance(value, int | float) and not isinstance(value, bool):
            yield path, float(value)


def extract_metric(doc: Mapping[str, object], metric_path: str) -> float:
    """Pick the value as the module docstring describes; NoDataError when nothing matches."""
    leaves = [
        (k, v) for k, v in numeric_leaves(doc) if k != "took" and not k.startswith("_shards.")
    ]
    if metric_path:
        for match in (
            lambda k: k == metric_path,
            lambda k: k.endswith("." + metric_path),
            lambda k: metric_path in k,
        ):
            for key, value in leaves:
                if match(key):
                    return value
        raise NoDataError(f"elastic: no numeric field matches metricPath {metric_path!r}")
    for key, value in leaves:
        if key.startswith("aggregations."):
            return value
    for key, value in leaves:
        if key == "hits.total.value":
            return value
    raise NoDataError("elastic: response has no aggregation value and no hits.total.value")


class ElasticProvider(HttpProvider):
    """Elasticsearch `_search`."""

    def __init__(self, config: ProviderConfig, session: aiohttp.ClientSession) -> None:
        super().__init__(config, session)
        self._headers = {
            "Authorization": f"ApiKey {config.secret_value()}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        self._url = config.target_server.rstrip("/") + "/_search"

    async def _search(self, query: str, metric_path: str) -> MetricValue:
        try:
            search = json.loads(query)
        except ValueError:
            raise ConfigError("elastic: the query must be a JSON search body") from None
        doc, raw = await self._exchange(
            "POST", self._url, what="elastic", headers=self._headers, json_body=search
        )
        if not isinstance(doc, dict):
            raise BadResponseError("elastic: response is not an object")
        return MetricValue(extract_metric(doc, metric_path), raw)

    async def query(self, query: str, *, at: datetime) -> MetricValue:
        """Run the search; the query carries its own time range."""
        return await self._search(query, "")

    async def range_value(self, query: str, *, start: datetime, end: datetime) -> MetricValue:
        """Same as `query`: the search body defines its window."""
        return await self._search(query, "")

    async def query_range(
        self, query: str, *, start: datetime, end: datetime, step: timedelta
    ) -> StepValues:
        """Not supported by the elastic provider."""
        raise ConfigError("elastic provider does not support range.step queries")

    async def analysis_value(
        self, query: str, *, start: datetime, end: datetime, args: Mapping[str, str]
    ) -> MetricValue:
        """Run the search and pick `args.metricPath` (or the default leaf)."""
        return await self._search(query, args.get("metricPath", ""))
