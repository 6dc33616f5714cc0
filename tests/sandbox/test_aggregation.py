"""APIService objects: the sandbox proxies their group/version to the service (front-proxy
headers, query and body passed on), lists the group in /apis, answers 503 when the service
cannot be reached, and never proxies what it serves itself."""

from __future__ import annotations

import json
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from sandbox.server import Sandbox
from sandbox.tls import make_serving_cert
from tests.sandbox.conftest import FIXTURES
from tests.support.http import serve


def apiservice(group: str, version: str, service: str) -> dict[str, Any]:
    return {
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {"name": f"{version}.{group}"},
        "spec": {
            "group": group,
            "version": version,
            "insecureSkipTLSVerify": True,
            "groupPriorityMinimum": 100,
            "versionPriority": 100,
            "service": {"name": service, "namespace": "default", "port": 443},
        },
    }


@pytest.fixture
async def backend() -> AsyncIterator[tuple[int, list[dict[str, Any]]]]:
    """An aggregated API server over TLS (the sandbox's certificate helper) echoing requests."""
    seen: list[dict[str, Any]] = []

    async def echo(request: web.Request) -> web.Response:
        seen.append(
            {
                "path": request.path_qs,
                "user": request.headers.get("X-Remote-User"),
                "auth": request.headers.get("Authorization"),
                "body": (await request.read()).decode(),
            }
        )
        return web.json_response({"kind": "Echo", "path": request.path})

    with tempfile.TemporaryDirectory() as tmp:
        cert = make_serving_cert(Path(tmp))
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", echo)
        async with serve(app, cert.server_context()) as base:
            yield int(base.rsplit(":", 1)[1]), seen


async def test_apiservice_proxies_lists_and_fails_clearly(
    backend: tuple[int, list[dict[str, Any]]],
) -> None:
    port, seen = backend
    services = {"echo.default:443": f"127.0.0.1:{port}"}
    async with (
        Sandbox(crds_dir=FIXTURES, node=False, webhook_services=services) as sb,
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {sb.token}"}) as http,
    ):
        base = sb.url + "/apis/apiregistration.k8s.io/v1/apiservices"
        for body in (
            apiservice("echo.klt.dev", "v1", "echo"),
            apiservice("gone.klt.dev", "v1", "nowhere"),
            apiservice("apps", "v1", "echo"),  # served by the sandbox: never proxied
        ):
            async with http.post(base, data=json.dumps(body)) as resp:
                assert resp.status == 201, await resp.text()
        async with http.post(sb.url + "/apis/echo.klt.dev/v1/things?x=1", data="hi") as resp:
            assert resp.status == 200
            assert await resp.json() == {"kind": "Echo", "path": "/apis/echo.klt.dev/v1/things"}
        assert seen == [
            {
                "path": "/apis/echo.klt.dev/v1/things?x=1",
                "user": "sandbox-admin",
                "auth": None,
                "body": "hi",
            }
        ]
        async with http.get(sb.url + "/apis") as resp:
            groups = {g["name"]: g for g in (await resp.json())["groups"]}
        assert groups["echo.klt.dev"]["preferredVersion"]["groupVersion"] == "echo.klt.dev/v1"
        async with http.get(sb.url + "/apis/gone.klt.dev/v1/x") as resp:
            assert resp.status == 503
            assert (
                "the server is currently unable to handle the request"
                in (await resp.json())["message"]
            )
        async with http.get(sb.url + "/apis/apps/v1/namespaces/default/deployments") as resp:
            assert resp.status == 200 and (await resp.json())["kind"] == "DeploymentList"
        assert len(seen) == 1
