"""The HTTP edge: every failure becomes one of our errors, with the backend's own message."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from evaluator.durations import format_duration, parse_duration
from evaluator.providers import (
    BadResponseError,
    HTTPStatusError,
    ProviderConfig,
    TransportError,
    UnreachableError,
    open_provider,
)
from evaluator.providers.transport import decode_json, fetch
from sandbox.tls import make_serving_cert
from tests.evaluator.promlauncher import free_port


@pytest.fixture
async def server() -> object:
    async def status(request: web.Request) -> web.StreamResponse:
        match request.match_info["kind"]:
            case "text":
                return web.Response(status=502, text="bad gateway from proxy")
            case "empty":
                return web.Response(status=503)
            case "plainjson":
                return web.json_response({"something": "else"}, status=500)
            case "list":
                return web.json_response(["a"], status=500)
            case "typed":
                return web.json_response(
                    {"status": "error", "errorType": "timeout", "error": "query timed out"},
                    status=503,
                )
            case "accepted":
                return web.json_response({"state": "RUNNING"}, status=202)
            case _:
                # drop the connection mid-answer
                response = web.StreamResponse(headers={"Content-Length": "100"})
                await response.prepare(request)
                await response.write(b"partial")
                assert request.transport is not None
                request.transport.close()
                await asyncio.sleep(0)
                return response

    app = web.Application()
    app.router.add_get("/{kind}", status)
    test_server = TestServer(app, host="127.0.0.1")
    await test_server.start_server()
    yield test_server
    await test_server.close()


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("text", "x /text: HTTP 502: bad gateway from proxy"),
        ("empty", "x /empty: HTTP 503: (empty body)"),
        ("plainjson", 'HTTP 500: {"something": "else"}'),
        ("list", 'HTTP 500: ["a"]'),
        ("typed", "HTTP 503: timeout: query timed out"),
    ],
)
async def test_error_statuses_carry_the_backend_message(
    server: TestServer, http: aiohttp.ClientSession, kind: str, message: str
) -> None:
    with pytest.raises(HTTPStatusError) as caught:
        await fetch(http, "GET", str(server.make_url(f"/{kind}")), what="x", timeout=5)
    assert str(caught.value) == message or message in str(caught.value)


async def test_accepted_statuses_and_broken_connections(
    server: TestServer, http: aiohttp.ClientSession
) -> None:
    status, body = await fetch(http, "GET", str(server.make_url("/accepted")), what="x", timeout=5)
    assert status == 202 and b"RUNNING" in body
    with pytest.raises(TransportError, match="x /drop: "):
        await fetch(http, "GET", str(server.make_url("/drop")), what="x", timeout=5)


def test_decode_json() -> None:
    assert decode_json(b'{"a": 1}', what="x") == {"a": 1}
    with pytest.raises(BadResponseError, match="x: response is not JSON: '<html>'"):
        decode_json(b"<html>", what="x")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("5m", 300),
        ("1h30m", 5400),
        ("500ms", 0.5),
        ("1.5s", 1.5),
        ("0", 0),
        ("-1m", -60),
        ("2us", 2e-6),
        ("3µs", 3e-6),
        ("7000ns", 7e-6),
        ("300ms", 0.3),
        ("1.5h", 5400),
        ("-2s", -2),
        ("+0", 0),
        ("1μs", 1e-6),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text).total_seconds() == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", 'time: invalid duration ""'),
        ("-", 'time: invalid duration "-"'),
        ("m", 'time: invalid duration "m"'),
        (".s", 'time: invalid duration ".s"'),
        (" 5m", 'time: invalid duration " 5m"'),
        ("5", 'time: missing unit in duration "5"'),
        ("1.5.s", 'time: missing unit in duration "1.5.s"'),
        ("5x", 'time: unknown unit "x" in duration "5x"'),
        ("1d", 'time: unknown unit "d" in duration "1d"'),
        ("1h 2m", 'time: unknown unit "h " in duration "1h 2m"'),
    ],
)
def test_parse_duration_rejects_with_go_text(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration(text)
    assert str(caught.value) == message


def test_format_duration() -> None:
    assert format_duration(timedelta(minutes=5)) == "300s"
    assert format_duration(timedelta(milliseconds=1500)) == "1500ms"


async def test_tls_verification_and_insecure_skip(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    async def query(request: web.Request) -> web.Response:
        return web.json_response(
            {"status": "success", "data": {"resultType": "scalar", "result": [1, "7"]}}
        )

    app = web.Application()
    app.router.add_get("/api/v1/query", query)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    untrusted = make_serving_cert(tmp_path).server_context()  # its CA is nobody's
    site = web.TCPSite(runner, "127.0.0.1", port, ssl_context=untrusted)
    await site.start()
    url = f"https://127.0.0.1:{port}"
    try:
        strict = open_provider(ProviderConfig("prometheus", url), http)
        with pytest.raises(UnreachableError, match="unreachable"):
            await strict.query("x", at=datetime.now(UTC))
        relaxed = open_provider(
            ProviderConfig("prometheus", url, insecure_skip_tls_verify=True), http
        )
        assert (await relaxed.query("x", at=datetime.now(UTC))).value == 7
    finally:
        await runner.cleanup()
