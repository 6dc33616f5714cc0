"""The Prometheus provider against a real Prometheus (and small aiohttp servers in front of it)."""

from __future__ import annotations

import asyncio
import base64
import time
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from evaluator.providers import (
    BadResponseError,
    ConfigError,
    HTTPStatusError,
    MetricRange,
    NaNError,
    NoDataError,
    ProviderConfig,
    ProviderTimeout,
    StepAggregation,
    TooManySeriesError,
    UnreachableError,
    evaluate_metric,
    open_provider,
    parse_metric_range,
)
from evaluator.providers.prometheus import PrometheusProvider
from tests.evaluator.conftest import STEP_END, STEP_START, STEP_VALUES, T0
from tests.evaluator.promlauncher import Prometheus, free_port


def provider(url: str, http: aiohttp.ClientSession, **extra: object) -> PrometheusProvider:
    config = ProviderConfig("prometheus", url, **extra)  # type: ignore[arg-type]
    made = open_provider(config, http)
    assert isinstance(made, PrometheusProvider)
    return made


def now() -> datetime:
    return datetime.now(UTC)


async def test_instant_query_of_a_live_sample(
    prometheus: Prometheus, http: aiohttp.ClientSession
) -> None:
    result = await provider(prometheus.url, http).query('klt_live{app="podtato"}', at=now())
    assert result.value == 42.5
    assert b'"resultType":"vector"' in result.raw


async def test_instant_query_of_history_and_scalars(
    prometheus: Prometheus, http: aiohttp.ClientSession
) -> None:
    prom = provider(prometheus.url, http)
    at = STEP_START + timedelta(minutes=4, seconds=30)
    assert (await prom.query('klt_steps{case="agg"}', at=at)).value == 23
    assert (await prom.query("scalar(vector(7))", at=at)).value == 7


@pytest.mark.parametrize(
    ("aggregation", "expected"),
    [
        ("max", 42),
        ("min", 1),
        ("avg", sum(STEP_VALUES) / len(STEP_VALUES)),
        ("median", 6.5),
        ("p90", 23),  # sorted[ceil(10*0.9)-1] = sorted[8]
        ("p95", 42),
        ("p99", 42),
    ],
)
async def test_range_with_step_and_every_aggregation(
    prometheus: Prometheus, http: aiohttp.ClientSession, aggregation: str, expected: float
) -> None:
    spec = parse_metric_range({"interval": "9m", "step": "1m", "aggregation": aggregation})
    assert spec is not None and spec.aggregation is StepAggregation(aggregation)
    prom = provider(prometheus.url, http)
    result = await evaluate_metric(prom, 'klt_steps{case="agg"}', spec, STEP_END)
    assert result.value == pytest.approx(expected)
    points = await prom.query_range(
        'klt_steps{case="agg"}', start=STEP_START, end=STEP_END, step=timedelta(minutes=1)
    )
    assert points.values == tuple(STEP_VALUES)


async def test_range_without_step_is_the_first_point(
    prometheus: Prometheus, http: aiohttp.ClientSession
) -> None:
    prom = provider(prometheus.url, http)
    result = await evaluate_metric(
        prom, 'klt_steps{case="agg"}', MetricRange(interval=timedelta(minutes=5)), STEP_END
    )
    assert result.value == STEP_VALUES[4]  # the point at now-5m, KLT's "first point"
    instant = await evaluate_metric(prom, 'klt_steps{case="agg"}', None, STEP_END)
    assert instant.value == STEP_VALUES[-1]


async def test_no_data(prometheus: Prometheus, http: aiohttp.ClientSession) -> None:
    prom = provider(prometheus.url, http)
    with pytest.raises(NoDataError, match="no values in query result"):
        await prom.query("klt_nothing_here", at=now())
    with pytest.raises(NoDataError, match="no values"):
        await prom.range_value("klt_nothing_here", start=now() - timedelta(minutes=5), end=now())


async def test_many_series(prometheus: Prometheus, http: aiohttp.ClientSession) -> None:
    prom = provider(prometheus.url, http)
    at = T0 - timedelta(minutes=29)
    with pytest.raises(TooManySeriesError, match="too many values in query result"):
        await prom.query("klt_multi", at=at)
    with pytest.raises(TooManySeriesError, match="2 series"):
        await prom.analysis_value("klt_multi", start=at - timedelta(minutes=1), end=at, args={})
    assert (await prom.query("sum(klt_multi)", at=at)).value == 3


async def test_nan(prometheus: Prometheus, http: aiohttp.ClientSession) -> None:
    prom = provider(prometheus.url, http)
    with pytest.raises(NaNError, match="NaN"):
        await prom.query("vector(0) / 0", at=now())
    with pytest.raises(NaNError, match="every point is NaN"):
        await prom.query_range(
            "vector(0) / 0",
            start=now() - timedelta(minutes=2),
            end=now(),
            step=timedelta(minutes=1),
        )
    assert issubclass(NaNError, NoDataError)  # NaN follows the objective's noData policy


async def test_bad_query_is_an_http_status_error(
    prometheus: Prometheus, http: aiohttp.ClientSession
) -> None:
    with pytest.raises(HTTPStatusError, match="HTTP 400: bad_data") as caught:
        await provider(prometheus.url, http).query("rate(klt_live[5m]", at=now())
    assert caught.value.status == 400


async def test_prometheus_down(http: aiohttp.ClientSession) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(UnreachableError, match="prometheus /api/v1/query: unreachable"):
        await provider(closed, http).query("up", at=now())


async def _serve(app: web.Application) -> TestServer:
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return server


async def test_slow_backend_times_out(http: aiohttp.ClientSession) -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.json_response({"status": "success", "data": {"result": []}})

    app = web.Application()
    app.router.add_get("/api/v1/query", slow)
    server = await _serve(app)
    try:
        started = time.monotonic()
        with pytest.raises(ProviderTimeout, match=r"no answer within 0.2s"):
            await provider(str(server.make_url("")), http, timeout=0.2).query("up", at=now())
        assert time.monotonic() - started < 1.5
    finally:
        await server.close()


async def test_basic_auth_through_a_checking_proxy(
    prometheus: Prometheus, http: aiohttp.ClientSession
) -> None:
    expected = "Basic " + base64.b64encode(b"keptn:s3cret").decode()

    async def guard(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != expected:
            return web.json_response({"status": "error", "error": "unauthorized"}, status=401)
        async with http.get(f"{prometheus.url}{request.path_qs}") as upstream:
            return web.Response(body=await upstream.read(), content_type="application/json")

    app = web.Application()
    app.router.add_get("/{tail:.*}", guard)
    server = await _serve(app)
    url = str(server.make_url("")).rstrip("/")
    try:
        good = provider(url, http, secret={"user": "keptn", "password": "s3cret"})
        assert (await good.query('klt_live{app="podtato"}', at=now())).value == 42.5
        bad = provider(url, http, secret={"user": "keptn", "password": "wrong"})
        with pytest.raises(HTTPStatusError, match="HTTP 401: unauthorized") as caught:
            await bad.query("up", at=now())
        assert "wrong" not in str(caught.value) and "s3cret" not in str(caught.value)
        with pytest.raises(HTTPStatusError):
            await provider(url, http).query("up", at=now())  # no secret, no header
    finally:
        await server.close()


async def test_malformed_answers(http: aiohttp.ClientSession) -> None:
    answers = {
        "/notjson/api/v1/query": web.Response(text="hello"),
        "/error/api/v1/query": web.json_response({"status": "error", "error": "boom"}),
        "/nodata/api/v1/query": web.json_response({"status": "success", "data": {}}),
        "/sample/api/v1/query": web.json_response(
            {"status": "success", "data": {"resultType": "vector", "result": [{"x": 1}]}}
        ),
        "/value/api/v1/query": web.json_response(
            {
                "status": "success",
                "data": {"resultType": "vector", "result": [{"value": [1, "abc"]}]},
            }
        ),
        "/matrix/api/v1/query_range": web.json_response(
            {"status": "success", "data": {"resultType": "matrix", "result": [{"values": 5}]}}
        ),
        "/empty/api/v1/query_range": web.json_response(
            {"status": "success", "data": {"resultType": "matrix", "result": [{"values": []}]}}
        ),
    }

    async def answer(request: web.Request) -> web.StreamResponse:
        return answers[request.path]

    app = web.Application()
    app.router.add_get("/{tail:.*}", answer)
    server = await _serve(app)
    base = str(server.make_url("")).rstrip("/")
    try:
        for prefix, error, message in [
            ("/notjson", BadResponseError, "not JSON"),
            ("/error", BadResponseError, "query failed: boom"),
            ("/nodata", BadResponseError, "no data.result"),
            ("/sample", BadResponseError, "malformed vector sample"),
            ("/value", BadResponseError, "'abc' is not a number"),
        ]:
            with pytest.raises(error, match=message):
                await provider(base + prefix, http).query("up", at=now())
        window = {"start": now() - timedelta(minutes=1), "end": now()}
        with pytest.raises(BadResponseError, match="malformed matrix"):
            await provider(base + "/matrix", http).range_value("up", **window)
        with pytest.raises(NoDataError, match="no points"):
            await provider(base + "/empty", http).range_value("up", **window)
    finally:
        await server.close()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"step": "1m"}, "step requires aggregation"),
        ({"aggregation": "max"}, "step requires aggregation"),
        ({"interval": "five"}, "invalid duration"),
        ({"step": "1m", "aggregation": "p42"}, "range:"),
        ({"interval": "0"}, "must be positive"),
        ({"storedResults": 256}, "storedResults"),
    ],
)
def test_metric_range_errors(body: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_metric_range(body)


def test_metric_range_defaults() -> None:
    assert parse_metric_range(None) is None
    assert parse_metric_range({}) == MetricRange(interval=timedelta(minutes=5))
    spec = parse_metric_range({"interval": "1h30m", "storedResults": 3})
    assert spec == MetricRange(interval=timedelta(minutes=90), stored_results=3)


def test_unknown_provider_type_and_secret_never_printed() -> None:
    with pytest.raises(ConfigError, match="unknown provider type 'graphite'"):
        open_provider(ProviderConfig("graphite", "http://x"), None)  # type: ignore[arg-type]
    config = ProviderConfig("prometheus", "http://x", secret={"password": "hunter2"})
    assert "hunter2" not in repr(config) and "password" in repr(config)
