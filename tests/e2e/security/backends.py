"""Small HTTP servers the security tests point the operator at: an echoing metric backend and a
CloudEvents receiver. Both keep what they received, so a test can prove the echo happened."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.support.http import serve

__all__ = ["Received", "echo_backend", "serve"]


@dataclass
class Received:
    """What a server got: request headers and bodies, in order."""

    headers: list[dict[str, str]] = field(default_factory=list)
    bodies: list[Any] = field(default_factory=list)


def echo_backend(received: Received, status: int = 400) -> web.Application:
    """A misconfigured gateway: every answer echoes the request's headers and query back."""

    async def handle(request: web.Request) -> web.Response:
        headers = dict(request.headers)
        received.headers.append(headers)
        text = f"denied: headers {json.dumps(headers)} query {dict(request.query)}"
        return web.Response(status=status, text=text)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


def collector(received: Received) -> web.Application:
    """A CloudEvents endpoint keeping every event."""

    async def handle(request: web.Request) -> web.Response:
        received.headers.append(dict(request.headers))
        received.bodies.append(await request.text())
        return web.Response(status=202)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    return app
