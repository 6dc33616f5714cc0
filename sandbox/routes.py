"""The non-resource HTTP routes and the request middleware of the sandbox API server.

Discovery (`/version`, `/api`, `/apis`, ...), OpenAPI, health checks, the admin endpoints
(`/sandbox/faults`, `/sandbox/pods/<ns>/<pod>/log`), and the middleware every request passes:
authentication and RBAC (`sandbox.authapi`: 401/403 Status), fault injection (latency, per-verb errors) and the mapping
of `ApiError` (and unexpected exceptions) to Status bodies. Resource URLs are handled by
`sandbox.handlers`. It owns no state beyond references to the sandbox's parts.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web

from sandbox import discovery, errors
from sandbox.authapi import AuthApi
from sandbox.faults import Faults, FaultSettings, injected_error
from sandbox.handlers import ResourceHandlers
from sandbox.requestinfo import json_answer, json_response, parse_target, request_verb
from sandbox.resources import Registry
from sandbox.store import Store

__all__ = ["Routes"]

log = logging.getLogger(__name__)

_READS = frozenset({"get", "list", "watch"})
"""Verbs an injected 409 Conflict spares (a real API server answers reads with no Conflict)."""


MAX_REQUEST_BYTES = 3 * 1024 * 1024
"""kube-apiserver's --max-request-bytes default for resource writes."""


def _check_body_size(request: web.Request) -> None:
    """413 for a resource write whose body exceeds kube-apiserver's limit."""
    size = request.content_length
    if (
        size is not None
        and size > MAX_REQUEST_BYTES
        and request.method in ("POST", "PUT", "PATCH")
        and request.path.startswith("/api")
    ):
        raise errors.ApiError(
            413,
            "RequestEntityTooLarge",
            f"Request entity too large: limit is {MAX_REQUEST_BYTES}",
        )


def _found(doc: dict[str, Any] | None) -> web.Response:
    """A discovery or OpenAPI document, or 404 when the group/version is not served."""
    if doc is None:
        raise errors.no_such_path()
    return json_answer(doc)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Routes:
    """Builds the aiohttp application of one sandbox."""

    auth: AuthApi
    registry: Registry
    store: Store
    faults: Faults
    resources: ResourceHandlers
    address: Callable[[], str]
    """host:port clients are told in `/api` (known once the server listens)."""

    def build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024 * 1024)
        h = self.resources
        r = app.router
        for path, handler in (
            ("/version", self._version),
            ("/api", self._api),
            ("/api/v1", self._core_resources),
            ("/apis", self._apis),
            ("/apis/{group}", self._group),
            ("/apis/{group}/{version}", self._group_resources),
        ):
            r.add_get(path, handler)
            r.add_get(f"{path}/", handler)
        for path in ("/healthz", "/livez", "/readyz"):
            r.add_get(path, self._ok)
        self.auth.add_routes(r)  # before the resource routes, which would take its paths
        r.add_route("*", "/api/v1/{tail:.+}", h.dispatch)
        r.add_route("*", "/apis/{group}/{version}/{tail:.+}", h.dispatch)
        r.add_get("/openapi/v2", self._openapi_v2)
        r.add_get("/openapi/v3", self._openapi_v3)
        r.add_get("/openapi/v3/{tail:.+}", self._openapi_v3_gv)
        r.add_route("*", "/sandbox/faults", self._faults)
        r.add_route("*", "/sandbox/pods/{namespace}/{name}/log", self._pod_log)
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            self.auth.guard(request)
            _check_body_size(request)
            if self.faults.active and request.path.startswith("/api"):
                await self._inject(request)
            response: web.StreamResponse = await handler(request)
            return response
        except errors.ApiError as exc:
            return json_response(exc.raw(), exc.code)
        except web.HTTPNotFound:
            return json_response(errors.no_such_path().raw(), 404)
        except web.HTTPMethodNotAllowed:
            return json_response(errors.method_not_allowed(request.method, request.path).raw(), 405)
        except web.HTTPException:
            raise
        except Exception as exc:  # an unexpected bug answers 500 instead of dropping the connection
            log.exception("internal error on %s %s", request.method, request.path)
            return json_response(errors.internal(repr(exc)).raw(), 500)

    async def _inject(self, request: web.Request) -> None:
        fs = self.faults.settings
        if fs.latency_seconds:
            await asyncio.sleep(fs.latency_seconds)
        if not fs.error_rate:
            return
        tail = request.path.split("/")
        has_name = False
        with contextlib.suppress(errors.ApiError, IndexError):
            if tail[1] == "api":
                t = parse_target(self.registry, "", "v1", "/".join(tail[3:]))
            else:
                t = parse_target(self.registry, tail[2], tail[3], "/".join(tail[4:]))
            has_name = bool(t.name)
        verb = request_verb(request, has_name)
        if fs.error_kind == "409" and verb in _READS:
            return  # a real API server never answers a read with 409 Conflict
        if not self.faults.should_fail(verb):
            return
        if fs.error_kind == "timeout":
            await asyncio.sleep(fs.timeout_seconds)
        raise injected_error(fs.error_kind)

    async def _version(self, request: web.Request) -> web.Response:
        return json_answer(discovery.version_info())

    async def _ok(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _api(self, request: web.Request) -> web.Response:
        return json_answer(discovery.api_versions(self.address()))

    async def _core_resources(self, request: web.Request) -> web.Response:
        return json_answer(discovery.resource_list(self.registry, "", "v1"))

    async def _apis(self, request: web.Request) -> web.Response:
        return json_answer(discovery.api_group_list(self.registry))

    async def _group(self, request: web.Request) -> web.Response:
        return _found(discovery.api_group(self.registry, request.match_info["group"]))

    async def _group_resources(self, request: web.Request) -> web.Response:
        m = request.match_info
        return _found(discovery.resource_list(self.registry, m["group"], m["version"]))

    async def _openapi_v2(self, request: web.Request) -> web.Response:
        accept = request.headers.get("Accept", "")
        if "protobuf" in accept and "json" not in accept:
            return web.Response(
                body=discovery.openapi_v2_protobuf(),
                content_type="application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
            )
        return json_answer(discovery.openapi_v2(self.registry))

    async def _openapi_v3(self, request: web.Request) -> web.Response:
        return json_answer(discovery.openapi_v3_root(self.registry))

    async def _openapi_v3_gv(self, request: web.Request) -> web.Response:
        parts = request.match_info["tail"].strip("/").split("/")
        doc = None
        if len(parts) == 2 and parts[0] == "api":
            doc = discovery.openapi_v3_gv(self.registry, "", parts[1])
        elif len(parts) == 3 and parts[0] == "apis":
            doc = discovery.openapi_v3_gv(self.registry, parts[1], parts[2])
        return _found(doc)

    async def _faults(self, request: web.Request) -> web.Response:
        if request.method in ("PUT", "POST"):
            try:
                self.faults.replace(FaultSettings.from_json(await request.json()))
            except (ValueError, TypeError) as exc:
                raise errors.bad_request(str(exc)) from None
        elif request.method != "GET":
            raise errors.method_not_allowed(request.method, "/sandbox/faults")
        body = dataclasses.asdict(self.faults.settings)
        body["injected"] = self.faults.injected
        return json_answer(body)

    async def _pod_log(self, request: web.Request) -> web.Response:
        ns, name = request.match_info["namespace"], request.match_info["name"]
        container = request.query.get("container", "")
        if request.method == "GET":
            return web.Response(
                text=self.store.pod_log(ns, name, container) or "", content_type="text/plain"
            )
        text = await request.text()
        if request.method == "PUT":
            self.store.set_pod_log(ns, name, text, container)
        elif request.method == "POST":
            self.store.append_pod_log(ns, name, text, container)
        else:
            raise errors.method_not_allowed(request.method, "pods/log")
        return web.Response(status=204)
