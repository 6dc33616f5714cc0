"""A small Kubernetes API client, just what the simulated node needs.

The node talks to the sandbox API server only through its HTTP API, like a kubelet or
kube-controller-manager would, so it can never depend on the server's internals: over aiohttp
(`HttpTransport`), or through a `Transport` given to it (the sandbox's in-process one). Bodies are
plain dicts. Errors are ours (the tree below), never aiohttp's, so callers match on meaning:

    ApiError            any non-2xx answer (status, reason, message)
    ├── NotFound        404
    ├── Conflict        409 (stale resourceVersion or AlreadyExists)
    ├── Gone            410 (watch/list from a resourceVersion older than the history)
    ├── Invalid         422
    └── Transient       5xx, 429, timeouts, connection errors: worth a retry

Must not import kubernetes_asyncio (import-linter) nor anything of sandbox outside sandbox.node.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol, cast
from urllib.parse import quote

import aiohttp
import orjson

__all__ = [
    "CONFIGMAPS",
    "DAEMONSETS",
    "DEPLOYMENTS",
    "JOBS",
    "PODS",
    "REPLICASETS",
    "SECRETS",
    "STATEFULSETS",
    "ApiClient",
    "ApiError",
    "Call",
    "Conflict",
    "Gone",
    "HttpTransport",
    "Invalid",
    "NotFound",
    "PatchType",
    "Resource",
    "Transient",
    "Transport",
    "WatchEvent",
]

Body = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Resource:
    """A served resource: group ("" = core), version, plural."""

    group: str
    version: str
    plural: str
    namespaced: bool = True

    def path(
        self, namespace: str | None = None, name: str | None = None, sub: str | None = None
    ) -> str:
        """The URL path of the collection, or of one object (and its subresource)."""
        base = f"/api/{self.version}" if not self.group else f"/apis/{self.group}/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{quote(namespace, safe='')}"
        base += f"/{self.plural}"
        if name is not None:
            base += f"/{quote(name, safe='')}"
            if sub:
                base += f"/{sub}"
        return base


PODS = Resource("", "v1", "pods")
CONFIGMAPS = Resource("", "v1", "configmaps")
SECRETS = Resource("", "v1", "secrets")
DEPLOYMENTS = Resource("apps", "v1", "deployments")
REPLICASETS = Resource("apps", "v1", "replicasets")
STATEFULSETS = Resource("apps", "v1", "statefulsets")
DAEMONSETS = Resource("apps", "v1", "daemonsets")
JOBS = Resource("batch", "v1", "jobs")
ROLLOUTS = Resource("argoproj.io", "v1alpha1", "rollouts")


class PatchType(enum.Enum):
    """Patch flavours, by content type."""

    MERGE = "application/merge-patch+json"
    STRATEGIC = "application/strategic-merge-patch+json"
    JSON = "application/json-patch+json"


class ApiError(Exception):
    """A non-2xx answer of the API server."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message


class NotFound(ApiError):
    """404."""


class Conflict(ApiError):
    """409: stale resourceVersion or already exists."""


class Gone(ApiError):
    """410: the resourceVersion is older than the server keeps."""


class Invalid(ApiError):
    """422."""


class Transient(ApiError):
    """5xx, 429, timeouts and broken connections: retry later."""


_BY_STATUS: dict[int, type[ApiError]] = {404: NotFound, 409: Conflict, 410: Gone, 422: Invalid}


def _error(status: int, text: str) -> ApiError:
    try:
        body = json.loads(text)
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    reason = str(body.get("reason", "")) or str(status)
    message = str(body.get("message", "")) or text[:200]
    if status >= 500 or status == 429:
        return Transient(status, reason, message)
    return _BY_STATUS.get(status, ApiError)(status, reason, message)


@dataclass(frozen=True, slots=True)
class WatchEvent:
    """One line of a watch stream."""

    type: str
    object: Body


@dataclass(frozen=True, slots=True)
class Call:
    """One request as a transport sends it (`path` without the query; `data` the body)."""

    method: str
    path: str
    params: Mapping[str, str] | None
    headers: Mapping[str, str]
    data: bytes | None = None


class Transport(Protocol):
    """How requests reach the API server: `HttpTransport`, or the sandbox's in-process one
    (`sandbox.inprocess`), which runs the same handlers, authentication and admission."""

    async def exchange(self, call: Call) -> tuple[int, bytes]:
        """One request: (status, body)."""

    def stream(
        self, call: Call, read_timeout: float
    ) -> AbstractAsyncContextManager[tuple[int, AsyncIterator[bytes]]]:
        """A streamed GET (a watch): (status, the body's chunks)."""

    async def close(self) -> None: ...


class HttpTransport:
    """Requests over HTTP with one keep-alive aiohttp session (created on first use)."""

    def __init__(self, api_url: str) -> None:
        self._base = api_url.rstrip("/")
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def exchange(self, call: Call) -> tuple[int, bytes]:
        url = self._base + call.path
        try:
            async with self._http().request(
                call.method, url, params=call.params, data=call.data, headers=call.headers
            ) as resp:
                return resp.status, await resp.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise Transient(
                503, "ServiceUnavailable", f"{call.method} {call.path}: {exc!r}"
            ) from exc

    @contextlib.asynccontextmanager
    async def stream(
        self, call: Call, read_timeout: float
    ) -> AsyncIterator[tuple[int, AsyncIterator[bytes]]]:
        timeout = aiohttp.ClientTimeout(total=None, sock_read=read_timeout)
        url = self._base + call.path
        try:
            async with self._http().get(
                url, params=call.params, headers=call.headers, timeout=timeout
            ) as resp:
                yield resp.status, resp.content.iter_any()
        except (aiohttp.ClientError, TimeoutError, asyncio.IncompleteReadError) as exc:
            raise Transient(503, "WatchBroken", repr(exc)) from exc


class ApiClient:
    """Authenticated JSON calls against one API server (over HTTP unless given a transport)."""

    def __init__(self, api_url: str, token: str, transport: Transport | None = None) -> None:
        self._headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        self._transport = transport or HttpTransport(api_url)

    async def close(self) -> None:
        """Close the transport's connections (idempotent)."""
        await self._transport.close()

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: object = None,
        content_type: str = "application/json",
        raw: bytes | None = None,
    ) -> Body:
        """One call; the decoded JSON answer, or an ApiError."""
        if raw is None and body is not None:  # str-enum keys are written as their value
            raw = orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS)
        headers = self._headers
        if raw is not None:
            headers = dict(headers, **{"Content-Type": content_type})
        status, answer = await self._transport.exchange(Call(method, path, params, headers, raw))
        if status >= 300:
            raise _error(status, answer.decode(errors="replace"))
        if not answer:
            return {}
        try:
            decoded = orjson.loads(answer)
        except ValueError:
            return {"text": answer.decode(errors="replace")}
        return cast(Body, decoded) if isinstance(decoded, dict) else {"items": decoded}

    async def get(self, res: Resource, namespace: str | None, name: str) -> Body:
        """GET one object."""
        return await self.request("GET", res.path(namespace, name))

    async def list(
        self, res: Resource, namespace: str | None = None, *, label_selector: str | None = None
    ) -> tuple[list[Body], str]:
        """List a collection: (items, resourceVersion of the list)."""
        params = {"labelSelector": label_selector} if label_selector else None
        body = await self.request("GET", res.path(namespace), params=params)
        items = cast(list[Body], body.get("items") or [])
        return items, str(body.get("metadata", {}).get("resourceVersion", ""))

    async def create(self, res: Resource, namespace: str | None, body: Body) -> Body:
        """POST a new object."""
        return await self.request("POST", res.path(namespace), body=body)

    async def patch(
        self,
        res: Resource,
        namespace: str | None,
        name: str,
        body: object,
        *,
        patch_type: PatchType = PatchType.MERGE,
        subresource: str | None = None,
    ) -> Body:
        """PATCH an object or its subresource (``status``)."""
        path = res.path(namespace, name, subresource)
        return await self.request("PATCH", path, body=body, content_type=patch_type.value)

    async def delete(
        self, res: Resource, namespace: str | None, name: str, *, propagation: str | None = None
    ) -> Body:
        """DELETE an object, optionally with a propagationPolicy."""
        body = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if propagation:
            body["propagationPolicy"] = propagation
        return await self.request("DELETE", res.path(namespace, name), body=body)

    async def watch(
        self, res: Resource, resource_version: str, *, timeout_seconds: int = 300
    ) -> AsyncGenerator[WatchEvent, None]:
        """Stream watch events from a resourceVersion until the server ends the stream.

        An ERROR event carrying a 410 Status is raised as Gone, so the caller re-lists.
        """
        params = {
            "watch": "true",
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(timeout_seconds),
        }
        if resource_version:
            params["resourceVersion"] = resource_version
        # A silent stream past the server's own timeout means a dead connection.
        call = Call("GET", res.path(), params, self._headers)
        # The transport raises a broken stream as Transient.
        async with self._transport.stream(call, timeout_seconds + 30) as (status, chunks):
            if status >= 300:
                raise _error(status, b"".join([c async for c in chunks]).decode())
            buffer = b""
            # Read chunks and split by hand: pod bodies can exceed aiohttp's line limit.
            async for chunk in chunks:
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if line.strip():
                        yield _event(line)

    async def put_log(self, namespace: str, name: str, container: str, text: str) -> None:
        """Hand a container's output to the server for ``pods/log`` (sandbox endpoint)."""
        path = f"/sandbox/pods/{quote(namespace, safe='')}/{quote(name, safe='')}/log"
        await self.request(
            "PUT",
            path,
            params={"container": container},
            raw=text.encode(),
            content_type="text/plain; charset=utf-8",
        )


def _event(line: bytes) -> WatchEvent:
    data = orjson.loads(line)
    kind = str(data.get("type", ""))
    obj = cast(Body, data.get("object") or {})
    if kind == "ERROR":
        raise _error(int(obj.get("code", 500)), json.dumps(obj))
    return WatchEvent(kind, obj)
