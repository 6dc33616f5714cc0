"""KubeClient: raw-JSON Kubernetes API calls on kubernetes_asyncio's configured session.

kubernetes_asyncio gives us what is hard to get right (kubeconfig and in-cluster loading,
TLS, client certificates, exec/refreshing bearer tokens); we skip its model classes and
talk JSON to resource paths built from a ``ResourceKind``, which is several times faster
than deserialising into models and back.

Invariants:
- Every method returns plain dicts (``apiVersion``/``kind`` filled in on list items too) or
  raises one of lifecycle.kube.errors; ApiException and aiohttp errors never escape.
- Request bodies are never mutated (callers may pass objects straight from a cache).
- Every call increments ``request_counts`` by verb (get, list, watch, create, update,
  patch, delete) before it is sent, for the requests-per-workload benchmark.
- A watch stream is always closed, whether the consumer finishes, breaks out or is cancelled.
This module holds no cache and never retries: retry policy belongs to the work queue.
"""

from __future__ import annotations

import builtins
import json
import os
from collections import Counter
from collections.abc import AsyncGenerator, Mapping
from enum import StrEnum
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
import orjson
from kubernetes_asyncio import config as kube_config
from kubernetes_asyncio.client import ApiClient, Configuration

from evaluator.redact import scrub_bytes, scrub_deep
from lifecycle.core.model import POD, ResourceKind
from lifecycle.kube.errors import BadRequest, KubeError, Transient, error_from_status
from lifecycle.kube.ratelimit import ObjectWriteLimiter

__all__ = ["Body", "KubeClient", "PatchType", "Propagation"]

Body = dict[str, Any]


class PatchType(StrEnum):
    """PATCH content types; the value is the ``Content-Type`` header."""

    MERGE = "application/merge-patch+json"
    JSON = "application/json-patch+json"
    STRATEGIC = "application/strategic-merge-patch+json"
    APPLY = "application/apply-patch+yaml"


class Propagation(StrEnum):
    """``DeleteOptions.propagationPolicy``."""

    BACKGROUND = "Background"
    FOREGROUND = "Foreground"
    ORPHAN = "Orphan"


_WATCH_READ_GRACE = 30.0  # seconds past timeoutSeconds before a silent stream is declared dead


def _dumps(body: object) -> bytes:
    """Compact JSON of a request body: orjson, else the standard library (str-enum keys)."""
    try:
        return orjson.dumps(body)
    except TypeError:
        return json.dumps(body, separators=(",", ":")).encode()


class KubeClient:
    """One connection pool to one API server, shared by every informer and controller."""

    def __init__(self, api_client: ApiClient, *, request_timeout: float = 30.0) -> None:
        self._api = api_client
        self._config: Configuration = api_client.configuration
        self._host = str(self._config.host).rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=request_timeout)
        self._counts: Counter[str] = Counter()
        self._by_resource: Counter[str] = Counter()
        self._auth = bool(self._config.api_key or self._config.refresh_api_key_hook)
        self.write_limiter = ObjectWriteLimiter()
        """Bounds updates and patches per object (lifecycle.kube.ratelimit)."""

    # -- construction -------------------------------------------------------------------

    @classmethod
    async def from_kubeconfig(
        cls, path: str | None = None, context: str | None = None, *, request_timeout: float = 30.0
    ) -> KubeClient:
        """Load a kubeconfig (``$KUBECONFIG`` or ~/.kube/config when ``path`` is None)."""
        cfg = Configuration()
        await kube_config.load_kube_config(
            config_file=path, context=context, client_configuration=cfg, persist_config=False
        )
        return cls.from_configuration(cfg, request_timeout=request_timeout)

    @classmethod
    async def in_cluster(cls, *, request_timeout: float = 30.0) -> KubeClient:
        """Use the pod's service account token and CA."""
        cfg = Configuration()
        kube_config.load_incluster_config(client_configuration=cfg)  # type: ignore[no-untyped-call]
        return cls.from_configuration(cfg, request_timeout=request_timeout)

    @classmethod
    def from_configuration(cls, cfg: Configuration, *, request_timeout: float = 30.0) -> KubeClient:
        """Wrap an already filled Configuration (must run inside the event loop)."""
        # Informers hold one long-lived connection each; leave room for the request bursts.
        cfg.connection_pool_maxsize = max(int(cfg.connection_pool_maxsize or 0), 256)
        api = ApiClient(configuration=cfg)
        if cfg.proxy is None and not _proxy_in_env():
            # kubernetes_asyncio's session trusts the environment, which costs two thread-pool
            # hops per request (netrc and proxy lookups) and throttles bursts; without proxy
            # variables there is nothing to find, so the same connector gets a session that
            # does not look.
            rest = api.rest_client
            default = rest.pool_manager
            rest.pool_manager = aiohttp.ClientSession(
                connector=default.connector, trust_env=False, read_bufsize=2**21
            )
            default.detach()
        return cls(api, request_timeout=request_timeout)

    @classmethod
    def for_url(cls, url: str, *, token: str | None = None, verify_ssl: bool = True) -> KubeClient:
        """A client for a server URL without a kubeconfig (the sandbox, a port-forward)."""
        cfg = Configuration(host=url)
        cfg.verify_ssl = verify_ssl
        if token:
            # The same slot and form the kubeconfig loader fills.
            cfg.api_key = {"BearerToken": f"Bearer {token}"}
        return cls.from_configuration(cfg)

    async def close(self) -> None:
        """Close the connection pool."""
        await self._api.close()

    async def __aenter__(self) -> KubeClient:
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

    # -- paths --------------------------------------------------------------------------

    @staticmethod
    def path(
        kind: ResourceKind,
        namespace: str | None = None,
        name: str | None = None,
        subresource: str | None = None,
    ) -> str:
        """The resource path, e.g. ``/apis/apps/v1/namespaces/ns/replicasets/rs/status``."""
        base = f"/apis/{kind.group}/{kind.version}" if kind.group else f"/api/{kind.version}"
        if kind.namespaced and namespace:
            base += f"/namespaces/{quote(namespace, safe='')}"
        base += f"/{kind.plural}"
        if name is not None:
            base += f"/{quote(name, safe='')}"
            if subresource:
                base += f"/{subresource}"
        return base

    # -- transport ----------------------------------------------------------------------

    async def _headers(self, content_type: str | None = None) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        if self._auth:
            await self._api.update_params_for_auth(headers, [], ["BearerToken"])
        return headers

    def _count(self, verb: str, kind: ResourceKind, subresource: str | None) -> None:
        self._counts[verb] += 1
        res = f"{kind.plural}/{subresource}" if subresource else kind.plural
        self._by_resource[f"{verb} {res}"] += 1

    async def _request(
        self,
        verb: str,
        method: str,
        kind: ResourceKind,
        path: str,
        *,
        query: Mapping[str, str | int | bool | None] | None = None,
        body: Any = None,
        content_type: str | None = None,
        subresource: str | None = None,
    ) -> Body:
        self._count(verb, kind, subresource)
        url = self._host + path
        q = _query(query)
        if q:
            url += "?" + q
        # no secret value the operator read is ever written back: one pass over the JSON text
        data = None if body is None else scrub_bytes(_dumps(body))
        raw = await self._send(method, path, url, data, content_type)
        if not raw:
            return {}
        try:
            result: Body = orjson.loads(raw)
        except ValueError as exc:
            raise BadRequest(f"{method} {path}: response is not JSON") from exc
        return result

    async def _send(
        self, method: str, path: str, url: str, data: bytes | str | None, content_type: str | None
    ) -> bytes:
        """One HTTP exchange: the body of a 2xx answer; KubeError for the others, Transient
        when the server cannot be reached."""
        headers = await self._headers(
            (content_type or "application/json") if data is not None else None
        )
        session: aiohttp.ClientSession = self._api.rest_client.pool_manager
        try:
            async with session.request(
                method, url, data=data, headers=headers, timeout=self._timeout
            ) as resp:
                raw = await resp.read()
                if resp.status >= 300:
                    raise error_from_status(resp.status, raw)
                return raw
        except KubeError:
            raise
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise Transient(f"{method} {path}: {type(exc).__name__}: {exc}") from exc

    # -- verbs --------------------------------------------------------------------------

    async def get(
        self,
        kind: ResourceKind,
        name: str,
        namespace: str | None = None,
        *,
        subresource: str | None = None,
    ) -> Body:
        """GET one object."""
        path = self.path(kind, namespace, name, subresource)
        return await self._request("get", "GET", kind, path, subresource=subresource)

    async def list(
        self,
        kind: ResourceKind,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        resource_version: str | None = None,
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
                query={
                    "labelSelector": label_selector,
                    "fieldSelector": field_selector,
                    "limit": limit,
                    "continue": token,
                    "resourceVersion": resource_version if token is None else None,
                },
            )
            for item in result.get("items") or ():
                item.setdefault("apiVersion", kind.api_version)
                item.setdefault("kind", kind.kind)
                items.append(item)
            meta = result.get("metadata") or {}
            token = meta.get("continue") or None
            if not token:
                return items, str(meta.get("resourceVersion", ""))

    async def create(
        self,
        kind: ResourceKind,
        body: Body,
        namespace: str | None = None,
        *,
        field_manager: str | None = None,
    ) -> Body:
        """POST a new object; the namespace defaults to ``body.metadata.namespace``."""
        ns = namespace or body.get("metadata", {}).get("namespace")
        return await self._request(
            "create",
            "POST",
            kind,
            self.path(kind, ns),
            query={"fieldManager": field_manager},
            body=_typed(kind, body),
        )

    async def replace(
        self,
        kind: ResourceKind,
        body: Body,
        *,
        subresource: str | None = None,
        field_manager: str | None = None,
    ) -> Body:
        """PUT the whole object; ``metadata.resourceVersion`` in the body makes it conditional."""
        meta = body.get("metadata", {})
        path = self.path(kind, meta.get("namespace"), meta["name"], subresource)
        await self.write_limiter.wait(self.path(kind, meta.get("namespace"), meta["name"]))
        return await self._request(
            "update",
            "PUT",
            kind,
            path,
            query={"fieldManager": field_manager},
            body=_typed(kind, body),
            subresource=subresource,
        )

    async def patch(
        self,
        kind: ResourceKind,
        name: str,
        body: Body | builtins.list[Any],
        namespace: str | None = None,
        *,
        content_type: PatchType = PatchType.MERGE,
        subresource: str | None = None,
        field_manager: str | None = None,
        force: bool | None = None,
    ) -> Body:
        """PATCH an object; server-side apply needs ``field_manager``."""
        if content_type is PatchType.APPLY and not field_manager:
            raise ValueError("server-side apply needs a field_manager")
        path = self.path(kind, namespace, name, subresource)
        await self.write_limiter.wait(self.path(kind, namespace, name))
        return await self._request(
            "patch",
            "PATCH",
            kind,
            path,
            query={"fieldManager": field_manager, "force": force},
            body=body,
            content_type=content_type.value,
            subresource=subresource,
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
        propagation: Propagation | None = None,
        uid: str | None = None,
        resource_version: str | None = None,
        grace_period_seconds: int | None = None,
    ) -> Body:
        """DELETE an object; ``uid``/``resource_version`` become preconditions (409 if stale)."""
        options: Body = {"apiVersion": "v1", "kind": "DeleteOptions"}
        if propagation is not None:
            options["propagationPolicy"] = propagation.value
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
        raw = await self._send(
            "GET", path, f"{self._host}{path}?tailLines={tail_lines}", None, None
        )
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
        url = self._host + self.path(kind, namespace)
        q = _query(
            {
                "watch": "true",
                "resourceVersion": resource_version,
                "labelSelector": label_selector,
                "fieldSelector": field_selector,
                "timeoutSeconds": timeout_seconds,
                "allowWatchBookmarks": "true" if allow_bookmarks else None,
            }
        )
        url += "?" + q
        read_timeout = (timeout_seconds or 300) + _WATCH_READ_GRACE
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=self._timeout.total, sock_read=read_timeout
        )
        headers = await self._headers()
        session: aiohttp.ClientSession = self._api.rest_client.pool_manager
        try:
            resp = await session.get(url, headers=headers, timeout=timeout)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise Transient(f"watch {kind.plural}: {type(exc).__name__}: {exc}") from exc
        finished = False
        try:
            if resp.status >= 300:
                raise error_from_status(resp.status, await resp.read())
            buf = b""
            while True:
                try:
                    chunk = await resp.content.readany()
                except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                    raise Transient(f"watch {kind.plural}: {type(exc).__name__}: {exc}") from exc
                if not chunk:
                    finished = True
                    return
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for line in lines:
                    if not line.strip():
                        continue
                    event = orjson.loads(line)
                    etype = str(event.get("type", ""))
                    obj = event.get("object") or {}
                    if etype == "ERROR":
                        raise error_from_status(int(obj.get("code") or 500), obj)
                    if etype != "BOOKMARK":
                        obj.setdefault("apiVersion", kind.api_version)
                        obj.setdefault("kind", kind.kind)
                    yield etype, obj
        finally:
            # A stream abandoned mid-way cannot go back to the pool: drop the connection.
            if finished:
                resp.release()
            else:
                resp.close()


def _typed(kind: ResourceKind, body: Body) -> Body:
    """``body`` with apiVersion/kind filled in, copied only when they are missing (never mutated)."""
    if "apiVersion" in body and "kind" in body:
        return body
    return {"apiVersion": kind.api_version, "kind": kind.kind, **body}


def _proxy_in_env() -> bool:
    return any(
        os.environ.get(name) or os.environ.get(name.lower())
        for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY")
    )


def _query(params: Mapping[str, str | int | bool | None] | None) -> str:
    if not params:
        return ""
    pairs = [
        (k, ("true" if v else "false") if isinstance(v, bool) else str(v))
        for k, v in params.items()
        if v is not None
    ]
    return urlencode(pairs)
