"""Dynatrace Grail DQL: OAuth client credentials, `query:execute`, then `query:poll`.

The Secret entry `secretKeyRef.key` holds JSON `{"token": "dt0s08.<id>.<secret>", "authUrl":
…}`; the OAuth client id is the token's first two dot-parts, the client secret the whole
token (KLT). The bearer token is cached until shortly before it expires. A query that is not
SUCCEEDED at once is polled (`poll_interval` apart, at most `max_polls` times; KLT: 5 x 10 s).
The value is the last element of the first numeric array of record 0 (KLT); a record with
only scalar fields (e.g. `summarize count()`, whose longs Grail sends as strings) yields its
first numeric field. Stepped queries return the whole array.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TypedDict, cast

import aiohttp
from typing_extensions import Unpack

from evaluator.providers.base import ProviderConfig
from evaluator.providers.errors import (
    BadResponseError,
    ConfigError,
    NoDataError,
    ProviderTimeout,
)
from evaluator.providers.transport import Request, WindowedProvider

__all__ = ["DEFAULT_AUTH_URL", "DqlProvider", "record_values"]

DEFAULT_AUTH_URL = "https://dev.token.internal.dynatracelabs.com/sso/oauth2/token"
SCOPES = "storage:metrics:read environment:roles:viewer"
EXECUTE = "/platform/storage/query/v1/query:execute"
POLL = "/platform/storage/query/v1/query:poll"


class Secret(TypedDict, total=False):  # the JSON the Secret entry holds
    token: str
    authUrl: str


class Token(TypedDict, total=False):  # the OAuth token endpoint's answer
    access_token: str
    expires_in: float  # seconds


class Result(TypedDict, total=False):
    records: list[Mapping[str, object]]  # one record per row: its fields are free-form


class Answer(TypedDict, total=False):  # of query:execute and query:poll
    state: str  # NOT_STARTED | RUNNING | SUCCEEDED | FAILED ...
    requestToken: str
    result: Result


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _as_float(item: object) -> float | None:
    """A number, or a string holding one (Grail sends longs as strings); None for the rest."""
    if isinstance(item, bool) or not isinstance(item, int | float | str):
        return None
    try:
        return float(item)
    except ValueError:
        return None


def record_values(record: Mapping[str, object]) -> list[float]:
    """The first numeric array of a record (nulls dropped), else its first numeric scalar."""
    for value in record.values():
        if isinstance(value, list):
            numbers = [n for n in map(_as_float, value) if n is not None]
            if numbers:
                return numbers
    for value in record.values():
        number = _as_float(value)
        if number is not None:
            return [number]
    return []


class DqlProvider(WindowedProvider):
    """Dynatrace Grail DQL queries."""

    INSTANT_WINDOW = timedelta(minutes=5)

    def __init__(
        self,
        config: ProviderConfig,
        session: aiohttp.ClientSession,
        *,
        poll_interval: float = 1.0,
        max_polls: int = 10,
    ) -> None:
        super().__init__(config, session)
        try:
            secret: Secret = json.loads(config.secret_value())  # checked as it is read
            token = secret["token"]
        except (ValueError, KeyError, TypeError):
            raise ConfigError(
                'dql provider needs a Secret entry holding JSON {"token": ..., "authUrl": ...}'
            ) from None
        parts = token.split(".") if isinstance(token, str) else []
        if len(parts) < 3:
            raise ConfigError("dql provider: token must look like dt0s08.<client id>.<secret>")
        self._client_id = ".".join(parts[:2])
        self._client_secret = token
        self._auth_url = secret.get("authUrl") or DEFAULT_AUTH_URL
        self._base = config.target_server.rstrip("/")
        self._poll_interval = poll_interval
        self._max_polls = max_polls
        self._bearer: tuple[str, float] | None = None  # (token, monotonic expiry)
        self._lock = asyncio.Lock()

    async def _token(self) -> str:
        async with self._lock:
            if self._bearer and self._bearer[1] > time.monotonic():
                return self._bearer[0]
            form = {
                "grant_type": "client_credentials",
                "client_id": self._client_id,
                "client_secret": self._client_secret,
                "scope": SCOPES,
            }
            doc, _ = await self._exchange("POST", self._auth_url, what="dql oauth", form=form)
            if not isinstance(doc, dict) or not isinstance(doc.get("access_token"), str):
                raise BadResponseError("dql oauth: response has no access_token")
            token = cast(Token, doc)  # access_token checked above, expires_in by float()
            lifetime = float(token.get("expires_in") or 300)
            self._bearer = (token["access_token"], time.monotonic() + max(lifetime - 30, 1))
            return self._bearer[0]

    async def _call(self, method: str, path: str, **request: Unpack[Request]) -> Answer:
        request["headers"] = {
            "Authorization": f"Bearer {await self._token()}",
            "Accept": "application/json",
        }
        doc, _ = await self._exchange(method, f"{self._base}{path}", what="dql", **request)
        if not isinstance(doc, dict):
            raise BadResponseError("dql: response is not an object")
        return cast(Answer, doc)  # checked as it is read

    async def _points(
        self, query: str, start: datetime, end: datetime, step: timedelta | None
    ) -> tuple[list[float], bytes]:
        """The whole first numeric array; a stepped query gets it too (DQL sets its own interval)."""
        doc = await self._call(
            "POST",
            EXECUTE,
            json_body={
                "query": query,
                "defaultTimeframeStart": _iso(start),
                "defaultTimeframeEnd": _iso(end),
                "timezone": "UTC",
                "locale": "en_US",
                "fetchTimeoutSeconds": 60,
                "requestTimeoutMilliseconds": 1000,
            },
        )
        token = doc.get("requestToken")  # poll answers do not repeat it
        polls = 0
        while doc.get("state") != "SUCCEEDED":
            if doc.get("state") not in ("RUNNING", "NOT_STARTED"):
                raise BadResponseError(f"dql: query state {doc.get('state')!r}")
            if not isinstance(token, str):
                raise BadResponseError("dql: running query without requestToken")
            if polls >= self._max_polls:
                raise ProviderTimeout(f"dql: query still {doc.get('state')} after {polls} polls")
            polls += 1
            await asyncio.sleep(self._poll_interval)
            doc = await self._call("GET", POLL, params={"request-token": token})
        records = (doc.get("result") or {}).get("records")
        if not isinstance(records, list):
            raise BadResponseError("dql: result has no records")
        if not records or not isinstance(records[0], dict):
            raise NoDataError("dql: no records in query result")
        values = record_values(records[0])
        if not values:
            raise NoDataError("dql: record 0 holds no numeric value")
        return values, json.dumps(doc).encode()

    @staticmethod
    def _fold(points: list[float]) -> float:
        """The last value (KLT)."""
        return points[-1]
