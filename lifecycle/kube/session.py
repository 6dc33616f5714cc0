"""ApiSession: how KubeClient's requests reach the API server, and what they cost.

Role: the lower half of KubeClient (lifecycle.kube.client holds the verbs): picks the
transport (aiohttp for the operator, the standard library for fast-starting commands), adds
the Accept/Content-Type/Authorization headers, turns non-2xx answers into lifecycle.kube.errors,
retries a 401 once when the credential can be fetched again (token file, exec plugin),
counts every request by verb and resource for the requests-per-workload benchmark, and holds
the per-object write limiter the verbs wait on.
Invariants: request bodies are serialised once and scrubbed of every secret value the
operator has read (evaluator.redact); transport errors arrive here as Transient already.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any, Self

import orjson

from evaluator.redact import scrub_bytes
from lifecycle.core.model import ResourceKind
from lifecycle.kube.errors import BadRequest, error_from_status
from lifecycle.kube.kubeconfig import ClusterAccess
from lifecycle.kube.ratelimit import ObjectWriteLimiter
from lifecycle.kube.wire import Body, Transport, query, resource_path

__all__ = ["ApiSession"]

_ANY_KEYS = orjson.OPT_NON_STR_KEYS  # request bodies may have str-enum keys


class ApiSession:
    """Headers, status handling and request counts over one transport."""

    def __init__(
        self, access: ClusterAccess, *, request_timeout: float = 30.0, light: bool = False
    ) -> None:
        """`light`: the standard-library transport (one request at a time; for commands that
        must start fast); else aiohttp's (must be built inside the event loop)."""
        self._transport: Transport
        if light:
            from lifecycle.kube.stdtransport import StdlibTransport

            self._transport = StdlibTransport(access, request_timeout=request_timeout)
        else:
            from lifecycle.kube.aiotransport import AiohttpTransport

            self._transport = AiohttpTransport(access, request_timeout=request_timeout)
        self.access = access
        self._counts: Counter[str] = Counter()
        self._by_resource: Counter[str] = Counter()
        self.write_limiter = ObjectWriteLimiter()
        """Bounds updates and patches per object (lifecycle.kube.ratelimit)."""

    async def close(self) -> None:
        """Close the connection pool."""
        await self._transport.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- accounting ---------------------------------------------------------------------

    @property
    def request_counts(self) -> dict[str, int]:
        """API requests sent so far, by verb."""
        return dict(self._counts)

    @property
    def request_counts_by_resource(self) -> dict[str, int]:
        """API requests sent so far, keyed ``"<verb> <plural>[/<subresource>]"``."""
        return dict(self._by_resource)

    def reset_counts(self) -> None:
        """Zero the request counters (a benchmark does this after warm-up)."""
        self._counts.clear()
        self._by_resource.clear()

    # -- transport ----------------------------------------------------------------------

    path = staticmethod(resource_path)

    def _count(self, verb: str, kind: ResourceKind, subresource: str | None) -> None:
        self._counts[verb] += 1
        res = f"{kind.plural}/{subresource}" if subresource else kind.plural
        self._by_resource[f"{verb} {res}"] += 1

    async def _headers(self, content_type: str | None = None) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        auth = await self.access.credentials.authorization()
        if auth:
            headers["Authorization"] = auth
        return headers

    async def _request(
        self,
        verb: str,
        method: str,
        kind: ResourceKind,
        path: str,
        *,
        params: Mapping[str, str | int | bool | None] | None = None,
        body: Any = None,
        content_type: str | None = None,
        subresource: str | None = None,
    ) -> Body:
        self._count(verb, kind, subresource)
        q = query(params)
        # no secret value the operator read is ever written back: one pass over the JSON text
        data = None if body is None else scrub_bytes(orjson.dumps(body, option=_ANY_KEYS))
        raw = await self._send(method, path, f"{path}?{q}" if q else path, data, content_type)
        if not raw:
            return {}
        try:
            result: Body = orjson.loads(raw)
        except ValueError as exc:
            raise BadRequest(f"{method} {path}: response is not JSON") from exc
        return result

    async def _send(
        self, method: str, path: str, target: str, data: bytes | None, content_type: str | None
    ) -> bytes:
        """One HTTP exchange: the body of a 2xx answer; KubeError for the others, Transient
        when the server cannot be reached."""
        ctype = (content_type or "application/json") if data is not None else None
        what = f"{method} {path}"
        for retried in (False, True):
            headers = await self._headers(ctype)
            status, raw = await self._transport.send(method, target, data, headers, what)
            if status != 401 or retried or not self.access.credentials.refreshable:
                break
            self.access.credentials.expired()  # fetch the credential again, send once more
        if status >= 300:
            raise error_from_status(status, raw)
        return raw
