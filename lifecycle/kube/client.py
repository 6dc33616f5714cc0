"""KubeClient: raw-JSON Kubernetes API calls over a transport.

We skip generated model classes and talk JSON to resource paths built from a
``ResourceKind``, which is several times faster than deserialising into models and back.
Where the server is and how to authenticate come from lifecycle.kube.kubeconfig; the bytes
travel over aiohttp (lifecycle.kube.aiotransport, the operator: concurrent, pooled) or the
standard library (lifecycle.kube.stdtransport, ``light=True``: `klt status`/`klt trace`, which
must start fast); paths, query strings and watch lines are lifecycle.kube.wire's. Here: the
verbs, the headers (Accept, Content-Type, Authorization), statuses turned into
lifecycle.kube.errors, request counts, and the per-object write limiter updates and patches
wait on (lifecycle.kube.ratelimit).

Invariants:
- Every method returns plain dicts (``apiVersion``/``kind`` filled in on list items too) or
  raises one of lifecycle.kube.errors; transport errors never escape.
- Request bodies are never mutated (callers may pass objects straight from a cache), are
  serialised once and scrubbed of every secret value the operator has read (evaluator.redact).
- Every call increments ``request_counts`` by verb (get, list, watch, create, update,
  patch, delete) before it is sent, for the requests-per-workload benchmark.
- A watch stream is always closed, whether the consumer finishes, breaks out or is cancelled.
- A 401 with a credential that can be fetched again (token file, exec plugin) is retried once.
This module holds no cache and never retries otherwise: retry policy belongs to the work queue.
"""

from __future__ import annotations

import builtins
import contextlib
import json
from collections import Counter
from collections.abc import AsyncGenerator, Mapping
from typing import TYPE_CHECKING, Any, Self

import orjson

from evaluator.redact import scrub_bytes, scrub_deep
from lifecycle.core.model import POD, ResourceKind
from lifecycle.kube.errors import BadRequest, error_from_status
from lifecycle.kube.kubeconfig import ClusterAccess, in_cluster, load_kubeconfig
from lifecycle.kube.ratelimit import ObjectWriteLimiter
from lifecycle.kube.wire import Body, WatchLines, query, resource_path, typed

if TYPE_CHECKING:
    from lifecycle.kube.aiotransport import AiohttpTransport
    from lifecycle.kube.stdtransport import StdlibTransport

__all__ = ["Body", "KubeClient"]

_WATCH_READ_GRACE = 30.0  # seconds past timeoutSeconds before a silent stream is declared dead
_ANY_KEYS = orjson.OPT_NON_STR_KEYS  # request bodies may have str-enum keys


def _dumps(body: Any) -> bytes:
    """A request body as JSON: orjson, else the standard library for what orjson refuses (an
    integer beyond 64 bits, NaN) so that the API server, not the client, judges the value."""
    try:
        return orjson.dumps(body, option=_ANY_KEYS)
    except TypeError:
        return json.dumps(body).encode()


_MERGE = "application/merge-patch+json"


class KubeClient:
    """One connection pool to one API server, shared by every informer and controller."""

    # -- construction -------------------------------------------------------------------

    def __init__(
        self, access: ClusterAccess, *, request_timeout: float = 30.0, light: bool = False
    ) -> None:
        """`light`: the standard-library transport (one request at a time; for commands that
        must start fast); else aiohttp's (must be built inside the event loop)."""
        self._transport: AiohttpTransport | StdlibTransport
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

    @classmethod
    async def from_kubeconfig(
        cls,
        path: str | None = None,
        context: str | None = None,
        *,
        request_timeout: float = 30.0,
        light: bool = False,
    ) -> KubeClient:
        """Load a kubeconfig (``$KUBECONFIG`` or ~/.kube/config when ``path`` is None)."""
        return cls(load_kubeconfig(path, context), request_timeout=request_timeout, light=light)

    @classmethod
    async def in_cluster(cls, *, request_timeout: float = 30.0) -> KubeClient:
        """Use the pod's service account token and CA."""
        return cls(in_cluster(), request_timeout=request_timeout)

    @classmethod
    def for_url(cls, url: str, *, token: str | None = None) -> KubeClient:
        """A client for a server URL without a kubeconfig (the sandbox, a port-forward)."""
        access = ClusterAccess(server=url.rstrip("/"))
        access.credentials.token = token
        return cls(access)

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

    # -- verbs --------------------------------------------------------------------------

    async def get(self, kind: ResourceKind, name: str, namespace: str | None = None) -> Body:
        """GET one object."""
        return await self._request("get", "GET", kind, self.path(kind, namespace, name))

    async def list(
        self,
        kind: ResourceKind,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
    ) -> tuple[builtins.list[Body], str]:
        """LIST all objects (following ``continue`` pages of ``limit``); returns (items, resourceVersion)."""
        path = self.path(kind, namespace)
        items: builtins.list[Body] = []
        token: str | None = None
        while True:
            result = await self._request(
                "list",
                "GET",
                kind,
                path,
                params={
                    "labelSelector": label_selector,
                    "fieldSelector": field_selector,
                    "limit": limit,
                    "continue": token,
                },
            )
            items.extend(typed(kind, item) for item in result.get("items") or ())
            meta = result.get("metadata") or {}
            token = meta.get("continue") or None
            if not token:
                return items, str(meta.get("resourceVersion", ""))

    async def create(self, kind: ResourceKind, body: Body, namespace: str | None = None) -> Body:
        """POST a new object; the namespace defaults to ``body.metadata.namespace``."""
        path = self.path(kind, namespace or body.get("metadata", {}).get("namespace"))
        return await self._request("create", "POST", kind, path, body=typed(kind, body))

    async def replace(self, kind: ResourceKind, body: Body) -> Body:
        """PUT the whole object; ``metadata.resourceVersion`` in the body makes it conditional."""
        meta = body.get("metadata", {})
        path = self.path(kind, meta.get("namespace"), meta["name"])
        await self.write_limiter.wait(path)
        return await self._request("update", "PUT", kind, path, body=typed(kind, body))

    async def patch(
        self,
        kind: ResourceKind,
        name: str,
        body: Body,
        namespace: str | None = None,
        *,
        subresource: str | None = None,
    ) -> Body:
        """Merge-patch an object."""
        path = self.path(kind, namespace, name, subresource)
        await self.write_limiter.wait(self.path(kind, namespace, name))
        return await self._request(
            "patch", "PATCH", kind, path, body=body, content_type=_MERGE, subresource=subresource
        )

    async def patch_status(
        self, kind: ResourceKind, name: str, body: Body, namespace: str | None = None
    ) -> Body:
        """Merge-patch the status subresource."""
        return await self.patch(kind, name, body, namespace, subresource="status")

    async def write_status_fields(
        self, kind: ResourceKind, obj: Mapping[str, Any], fields: Mapping[str, Any]
    ) -> Body | None:
        """Merge-patch the status fields that differ from ``obj``'s; the object as now stored.

        None when nothing differs (no request). The write is conditional on ``obj``'s
        resourceVersion: a replica acting on a stale cache (a paused ex-leader) gets a Conflict
        instead of committing a transition twice.
        """
        status = obj.get("status") or {}
        diff = {k: v for k, v in scrub_deep(dict(fields)).items() if status.get(k) != v}
        if not diff:
            return None
        meta = obj.get("metadata") or {}
        body = {"metadata": {"resourceVersion": meta.get("resourceVersion")}, "status": diff}
        return await self.patch_status(kind, str(meta.get("name", "")), body, meta.get("namespace"))

    async def delete(
        self,
        kind: ResourceKind,
        name: str,
        namespace: str | None = None,
        *,
        uid: str | None = None,
        resource_version: str | None = None,
        grace_period_seconds: int | None = None,
    ) -> Body:
        """DELETE an object; ``uid``/``resource_version`` become preconditions (409 if stale)."""
        options: Body = {"apiVersion": "v1", "kind": "DeleteOptions"}
        pre = {k: v for k, v in (("uid", uid), ("resourceVersion", resource_version)) if v}
        if pre:
            options["preconditions"] = pre
        if grace_period_seconds is not None:
            options["gracePeriodSeconds"] = grace_period_seconds
        path = self.path(kind, namespace, name)
        return await self._request("delete", "DELETE", kind, path, body=options)

    async def pod_log(self, name: str, namespace: str, *, tail_lines: int = 20) -> str:
        """The last ``tail_lines`` lines of a pod's log (its only or first container)."""
        self._count("get", POD, "log")
        path = self.path(POD, namespace, name, "log")
        raw = await self._send("GET", path, f"{path}?tailLines={tail_lines}", None, None)
        return raw.decode("utf-8", "replace")

    async def watch(
        self,
        kind: ResourceKind,
        namespace: str | None = None,
        *,
        resource_version: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        timeout_seconds: int | None = 300,
        allow_bookmarks: bool = True,
    ) -> AsyncGenerator[tuple[str, Body], None]:
        """Stream ``(type, object)`` from a watch; ERROR events are raised (410 as ``Gone``).

        ``BOOKMARK`` events are yielded too (the object carries only the resourceVersion).
        The stream ends when the server closes it (``timeoutSeconds``).
        """
        self._count("watch", kind, None)
        q = query(
            {
                "watch": "true",
                "resourceVersion": resource_version,
                "labelSelector": label_selector,
                "fieldSelector": field_selector,
                "timeoutSeconds": timeout_seconds,
                "allowWatchBookmarks": "true" if allow_bookmarks else None,
            }
        )
        read_timeout = (timeout_seconds or 300) + _WATCH_READ_GRACE
        target, headers = f"{self.path(kind, namespace)}?{q}", await self._headers()
        chunks = self._transport.stream(target, headers, read_timeout, f"watch {kind.plural}")
        lines = WatchLines(kind)
        async with contextlib.aclosing(chunks):  # closed however the consumer stops
            async for chunk in chunks:
                for event in lines.feed(chunk):
                    yield event

    # -- plumbing -----------------------------------------------------------------------

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
        params: Mapping[str, str | int | None] | None = None,
        body: Any = None,
        content_type: str | None = None,
        subresource: str | None = None,
    ) -> Body:
        self._count(verb, kind, subresource)
        q = query(params)
        # no secret value the operator read is ever written back: one pass over the JSON text
        data = None if body is None else scrub_bytes(_dumps(body))
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
