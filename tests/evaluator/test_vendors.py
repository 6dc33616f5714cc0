"""Datadog, Dynatrace, DQL and Elastic against aiohttp fakes of each vendor's documented API.

Each fake checks the auth header and request shape the vendor documents and answers with the
documented response body; a wrong header gets the vendor's error answer.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from evaluator.providers import (
    BadResponseError,
    ConfigError,
    HTTPStatusError,
    MetricRange,
    NoDataError,
    ProviderConfig,
    ProviderTimeout,
    StepAggregation,
    evaluate_metric,
    open_provider,
)
from evaluator.providers.dql import DqlProvider, record_values
from evaluator.providers.dynatrace import api_prefix
from evaluator.providers.elastic import extract_metric

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
MS = 1_795_780_800_000  # NOW in epoch milliseconds


@dataclass
class Fake:
    """A running fake vendor: its URL and the requests it saw."""

    url: str
    seen: list[web.Request] = field(default_factory=list)
    bodies: list[Any] = field(default_factory=list)


Handler = Callable[[web.Request, Fake], Any]


@pytest.fixture
async def fake() -> AsyncIterator[Callable[[dict[str, Handler]], Any]]:
    servers: list[TestServer] = []

    async def start(routes: dict[str, Handler]) -> Fake:
        app = web.Application()
        state = Fake("")

        def bind(handler: Handler) -> Callable[[web.Request], Any]:
            async def serve(request: web.Request) -> web.StreamResponse:
                state.seen.append(request)
                if request.can_read_body:
                    raw = await request.read()
                    ctype = request.content_type
                    state.bodies.append(json.loads(raw) if "json" in ctype else raw.decode())
                result: web.StreamResponse = await handler(request, state)
                return result

            return serve

        for route, handler in routes.items():
            method, path = route.split(" ", 1)
            app.router.add_route(method, path, bind(handler))
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        state.url = str(server.make_url("")).rstrip("/")
        return state

    yield start
    for server in servers:
        await server.close()


# --- Datadog ------------------------------------------------------------------------------

DD_SECRET = {"DD_CLIENT_API_KEY": "api-123", "DD_CLIENT_APP_KEY": "app-456"}


async def datadog_query(request: web.Request, state: Fake) -> web.Response:
    if request.headers.get("DD-API-KEY") != "api-123" or (
        request.headers.get("DD-APPLICATION-KEY") != "app-456"
    ):
        return web.json_response({"errors": ["Forbidden"]}, status=403)
    query = request.query["query"]
    if query == "bad{":
        return web.json_response({"errors": ["Error parsing query: bad{"]}, status=400)
    if query == "nothing":
        return web.json_response({"status": "ok", "series": [], "res_type": "time_series"})
    start, end = int(request.query["from"]), int(request.query["to"])
    points = [[start * 1000.0, 1.0], [start * 1000.0 + 60_000, None], [end * 1000.0, 5.0]]
    if "interval" in request.query:
        points.append([end * 1000.0, 9.0])
    return web.json_response(
        {
            "status": "ok",
            "res_type": "time_series",
            "series": [{"metric": query, "pointlist": points, "length": len(points)}],
            "from_date": start * 1000,
            "to_date": end * 1000,
            "query": query,
        }
    )


async def test_datadog(fake: Any, http: aiohttp.ClientSession) -> None:
    server: Fake = await fake({"GET /api/v1/query": datadog_query})
    dd = open_provider(ProviderConfig("datadog", server.url, secret=DD_SECRET), http)
    value = await dd.query("avg:system.cpu.idle{*}", at=NOW)
    assert value.value == 3.0  # average of non-null points 1 and 5
    params = server.seen[-1].query
    assert int(params["to"]) - int(params["from"]) == 300  # KLT: the last 5 minutes
    assert params["query"] == "avg:system.cpu.idle{*}"
    window = await dd.range_value("q", start=NOW - timedelta(hours=1), end=NOW)
    assert window.value == 3.0 and int(server.seen[-1].query["from"]) == int(NOW.timestamp()) - 3600
    stepped = await evaluate_metric(
        dd,
        "q",
        MetricRange(timedelta(minutes=10), timedelta(minutes=1), StepAggregation.MAX),
        NOW,
    )
    assert stepped.value == 9.0 and server.seen[-1].query["interval"] == "60000"
    analysis = await dd.analysis_value("q", start=NOW - timedelta(minutes=2), end=NOW, args={})
    assert analysis.value == 3.0
    with pytest.raises(NoDataError, match="no series"):
        await dd.query("nothing", at=NOW)
    with pytest.raises(HTTPStatusError, match=r"HTTP 400: .*Error parsing query"):
        await dd.query("bad{", at=NOW)
    wrong = open_provider(
        ProviderConfig("datadog", server.url, secret={**DD_SECRET, "DD_CLIENT_APP_KEY": "x"}), http
    )
    with pytest.raises(HTTPStatusError, match="HTTP 403") as caught:
        await wrong.query("q", at=NOW)
    assert "api-123" not in str(caught.value)


async def test_datadog_needs_both_keys_and_reports_error_status(
    fake: Any, http: aiohttp.ClientSession
) -> None:
    with pytest.raises(ConfigError, match="DD_CLIENT_API_KEY and DD_CLIENT_APP_KEY"):
        open_provider(
            ProviderConfig("datadog", "http://x", secret={"DD_CLIENT_API_KEY": "a"}), http
        )

    async def error(request: web.Request, state: Fake) -> web.Response:
        match request.query["query"]:
            case "err":
                return web.json_response({"status": "error", "error": "rate limited"})
            case "noseries":
                return web.json_response({"status": "ok"})
            case "nulls":
                return web.json_response({"status": "ok", "series": [{"pointlist": [[1, None]]}]})
            case _:
                return web.json_response({"status": "ok", "series": [{"pointlist": 3}]})

    server: Fake = await fake({"GET /api/v1/query": error})
    dd = open_provider(ProviderConfig("datadog", server.url, secret=DD_SECRET), http)
    for query, exc, message in [
        ("err", BadResponseError, "rate limited"),
        ("noseries", BadResponseError, "no series list"),
        ("nulls", NoDataError, "no non-null points"),
        ("broken", BadResponseError, "malformed pointlist"),
    ]:
        with pytest.raises(exc, match=message):
            await dd.query(query, at=NOW)


# --- Dynatrace ----------------------------------------------------------------------------


async def dynatrace_query(request: web.Request, state: Fake) -> web.Response:
    if request.headers.get("Authorization") != "Api-Token dt0c01.TOKEN":
        return web.json_response(
            {"error": {"code": 401, "message": "Missing authorization parameter."}}, status=401
        )
    selector = request.query["metricSelector"]
    if selector == "empty":
        return web.json_response({"totalCount": 0, "nextPageKey": None, "result": []})
    data = [
        {
            "dimensions": ["SERVICE-1"],
            "dimensionMap": {"dt.entity.service": "SERVICE-1"},
            "timestamps": [MS - 120_000, MS - 60_000, MS],
            "values": [10.0, None, 20.0],
        },
        {
            "dimensions": ["SERVICE-2"],
            "dimensionMap": {"dt.entity.service": "SERVICE-2"},
            "timestamps": [MS],
            "values": [30.0],
        },
    ]
    return web.json_response(
        {
            "totalCount": 1,
            "nextPageKey": None,
            "resolution": request.query.get("resolution", "1m"),
            "result": [
                {
                    "metricId": selector,
                    "dataPointCountRatio": 0.0001,
                    "dimensionCountRatio": 0.001,
                    "data": data,
                }
            ],
        }
    )


@pytest.mark.parametrize("suffix", ["", "/", "/api", "/api/"])
async def test_dynatrace(fake: Any, http: aiohttp.ClientSession, suffix: str) -> None:
    server: Fake = await fake({"GET /api/v2/metrics/query": dynatrace_query})
    config = ProviderConfig(
        "dynatrace",
        server.url + suffix,
        secret={"token": "dt0c01.TOKEN"},
        secret_key="token",
    )
    dt = open_provider(config, http)
    value = await dt.query("builtin:service.response.time", at=NOW)
    assert value.value == 20.0  # average of 10, 20, 30 over all series
    assert server.seen[-1].query["to"] == str(MS)
    window = await dt.analysis_value(
        "builtin:service.response.time", start=NOW - timedelta(minutes=5), end=NOW, args={}
    )
    assert window.value == 20.0 and server.seen[-1].query["from"] == str(MS - 300_000)
    stepped = await dt.query_range(
        "x", start=NOW - timedelta(minutes=5), end=NOW, step=timedelta(minutes=2)
    )
    assert stepped.values == (10.0, 20.0, 30.0) and server.seen[-1].query["resolution"] == "2m"
    ranged = await evaluate_metric(dt, "x", MetricRange(timedelta(minutes=3)), NOW)
    assert ranged.value == 20.0
    with pytest.raises(NoDataError):
        await dt.query("empty", at=NOW)


async def test_dynatrace_errors(fake: Any, http: aiohttp.ClientSession) -> None:
    server: Fake = await fake({"GET /api/v2/metrics/query": dynatrace_query})
    wrong = ProviderConfig("dynatrace", server.url, secret={"t": "nope"}, secret_key="t")
    with pytest.raises(HTTPStatusError, match=r"HTTP 401: .*Missing authorization") as caught:
        await open_provider(wrong, http).query("x", at=NOW)
    assert "nope" not in str(caught.value)
    with pytest.raises(ConfigError, match="secretKeyRef"):
        open_provider(ProviderConfig("dynatrace", server.url, secret={"t": "x"}), http)
    assert api_prefix("https://abc.live.dynatrace.com") == "https://abc.live.dynatrace.com/api/"


# --- DQL ----------------------------------------------------------------------------------

DQL_TOKEN = "dt0s08.CLIENT.SECRETPART"


def dql_routes(*, polls_needed: int, record: dict[str, Any] | None) -> dict[str, Handler]:
    async def oauth(request: web.Request, state: Fake) -> web.Response:
        form = await request.post()
        ok = (
            form.get("grant_type") == "client_credentials"
            and form.get("client_id") == "dt0s08.CLIENT"
            and form.get("client_secret") == DQL_TOKEN
            and form.get("scope") == "storage:metrics:read environment:roles:viewer"
        )
        if not ok:
            return web.json_response({"error": "invalid_client"}, status=400)
        return web.json_response(
            {"access_token": "bearer-xyz", "token_type": "Bearer", "expires_in": 300}
        )

    def authorised(request: web.Request) -> bool:
        return request.headers.get("Authorization") == "Bearer bearer-xyz"

    def succeeded() -> dict[str, Any]:
        records = [record] if record is not None else []
        return {"state": "SUCCEEDED", "progress": 100, "result": {"records": records}}

    async def execute(request: web.Request, state: Fake) -> web.Response:
        if not authorised(request):
            return web.json_response({"error": {"code": 401, "message": "no"}}, status=401)
        if polls_needed == 0:
            return web.json_response(succeeded())
        return web.json_response(
            {"state": "RUNNING", "requestToken": "req-1", "ttlSeconds": 500}, status=202
        )

    async def poll(request: web.Request, state: Fake) -> web.Response:
        assert authorised(request) and request.query["request-token"] == "req-1"
        polls = sum(1 for r in state.seen if r.path.endswith("query:poll"))
        if polls < polls_needed:
            return web.json_response({"state": "RUNNING", "progress": 50})
        return web.json_response(succeeded())

    return {
        "POST /sso/oauth2/token": oauth,
        "POST /platform/storage/query/v1/query:execute": execute,
        "GET /platform/storage/query/v1/query:poll": poll,
    }


def dql_config(url: str) -> ProviderConfig:
    secret = json.dumps({"token": DQL_TOKEN, "authUrl": f"{url}/sso/oauth2/token"})
    return ProviderConfig("dql", url, secret={"dql": secret}, secret_key="dql")


TIMESERIES = {
    "timeframe": {"start": "2026-11-27T11:55:00Z", "end": "2026-11-27T12:00:00Z"},
    "interval": "60000000000",
    "avg(dt.host.cpu.usage)": [1.5, None, 2.5, 4.0],
}


async def test_dql_execute_then_poll(fake: Any, http: aiohttp.ClientSession) -> None:
    server: Fake = await fake(dql_routes(polls_needed=2, record=TIMESERIES))
    dql = DqlProvider(dql_config(server.url), http, poll_interval=0.01)
    value = await dql.analysis_value(
        "timeseries avg(dt.host.cpu.usage)", start=NOW - timedelta(minutes=5), end=NOW, args={}
    )
    assert value.value == 4.0  # the last element of the first numeric array
    execute_body = next(b for b in server.bodies if isinstance(b, dict))
    assert execute_body["query"] == "timeseries avg(dt.host.cpu.usage)"
    assert execute_body["defaultTimeframeStart"] == "2026-11-27T11:55:00.000000Z"
    assert execute_body["defaultTimeframeEnd"] == "2026-11-27T12:00:00.000000Z"
    assert execute_body["timezone"] == "UTC" and execute_body["locale"] == "en_US"
    paths = [r.path for r in server.seen]
    assert paths.count("/platform/storage/query/v1/query:poll") == 2
    stepped = await evaluate_metric(
        dql,
        "q",
        MetricRange(timedelta(minutes=5), timedelta(minutes=1), StepAggregation.AVG),
        NOW,
    )
    assert stepped.value == pytest.approx(8 / 3)
    assert paths.count("/sso/oauth2/token") == 1  # bearer token cached
    assert [r.path for r in server.seen].count("/sso/oauth2/token") == 1
    assert (await dql.query("q", at=NOW)).value == 4.0
    assert (await dql.range_value("q", start=NOW - timedelta(minutes=1), end=NOW)).value == 4.0


async def test_dql_gives_up_after_max_polls(fake: Any, http: aiohttp.ClientSession) -> None:
    server: Fake = await fake(dql_routes(polls_needed=99, record=TIMESERIES))
    dql = DqlProvider(dql_config(server.url), http, poll_interval=0.0, max_polls=3)
    with pytest.raises(ProviderTimeout, match="still RUNNING after 3 polls"):
        await dql.query("q", at=NOW)


async def test_dql_immediate_success_scalar_record_and_no_records(
    fake: Any, http: aiohttp.ClientSession
) -> None:
    server: Fake = await fake(dql_routes(polls_needed=0, record={"count()": "42"}))
    assert (await open_provider(dql_config(server.url), http).query("q", at=NOW)).value == 42
    empty: Fake = await fake(dql_routes(polls_needed=0, record=None))
    with pytest.raises(NoDataError, match="no records"):
        await open_provider(dql_config(empty.url), http).query("q", at=NOW)
    text: Fake = await fake(dql_routes(polls_needed=0, record={"name": "x"}))
    with pytest.raises(NoDataError, match="no numeric value"):
        await open_provider(dql_config(text.url), http).query("q", at=NOW)


async def test_dql_config_and_auth_errors(fake: Any, http: aiohttp.ClientSession) -> None:
    for secret, message in [
        ({"dql": "not json"}, "JSON"),
        ({"dql": json.dumps({"authUrl": "x"})}, "JSON"),
        ({"dql": json.dumps({"token": "short.token"})}, "dt0s08"),
    ]:
        with pytest.raises(ConfigError, match=message):
            open_provider(ProviderConfig("dql", "http://x", secret=secret, secret_key="dql"), http)
    server: Fake = await fake(dql_routes(polls_needed=0, record=TIMESERIES))
    bad = json.dumps({"token": "dt0s08.OTHER.X", "authUrl": f"{server.url}/sso/oauth2/token"})
    config = ProviderConfig("dql", server.url, secret={"k": bad}, secret_key="k")
    with pytest.raises(HTTPStatusError, match=r"dql oauth .*HTTP 400: invalid_client") as caught:
        await open_provider(config, http).query("q", at=NOW)
    assert "OTHER" not in str(caught.value)


async def test_dql_bad_states(fake: Any, http: aiohttp.ClientSession) -> None:
    async def oauth(request: web.Request, state: Fake) -> web.Response:
        return web.json_response({"access_token": "t"})

    async def execute(request: web.Request, state: Fake) -> web.Response:
        kind = (await request.json())["query"]
        return web.json_response(
            {
                "failed": {"state": "FAILED"},
                "notoken": {"state": "RUNNING"},
                "noresult": {"state": "SUCCEEDED", "result": {}},
                "list": [1],
            }[kind]
        )

    server: Fake = await fake(
        {
            "POST /token": oauth,
            "POST /platform/storage/query/v1/query:execute": execute,
        }
    )
    secret = json.dumps({"token": DQL_TOKEN, "authUrl": f"{server.url}/token"})
    dql = open_provider(
        ProviderConfig("dql", server.url, secret={"k": secret}, secret_key="k"), http
    )
    for query, message in [
        ("failed", "query state 'FAILED'"),
        ("notoken", "without requestToken"),
        ("noresult", "no records"),
        ("list", "not an object"),
    ]:
        with pytest.raises(BadResponseError, match=message):
            await dql.query(query, at=NOW)


async def test_dql_oauth_without_token(fake: Any, http: aiohttp.ClientSession) -> None:
    async def oauth(request: web.Request, state: Fake) -> web.Response:
        return web.json_response({"token_type": "Bearer"})

    server: Fake = await fake({"POST /token": oauth})
    secret = json.dumps({"token": DQL_TOKEN, "authUrl": f"{server.url}/token"})
    dql = open_provider(
        ProviderConfig("dql", server.url, secret={"k": secret}, secret_key="k"), http
    )
    with pytest.raises(BadResponseError, match="no access_token"):
        await dql.query("q", at=NOW)


def test_record_values() -> None:
    assert record_values(TIMESERIES) == [1.5, 2.5, 4.0]
    assert record_values({"a": ["x"], "b": True, "c": 3}) == [3.0]
    assert record_values({"a": None, "b": {"c": 1}}) == []


# --- Elastic ------------------------------------------------------------------------------

ELASTIC_ANSWER = {
    "took": 5,
    "timed_out": False,
    "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
    "hits": {"total": {"value": 42, "relation": "eq"}, "max_score": None, "hits": []},
    "aggregations": {"avg_latency": {"value": 123.5}, "p95_latency": {"value": 250.0}},
}


async def elastic_search(request: web.Request, state: Fake) -> web.Response:
    if request.headers.get("Authorization") != "ApiKey c2VjcmV0LWFwaS1rZXk=":
        return web.json_response(
            {"error": {"type": "security_exception", "reason": "unable to authenticate"}},
            status=401,
        )
    body = state.bodies[-1]
    if "aggs" not in body:
        return web.json_response({**ELASTIC_ANSWER, "aggregations": {}})
    return web.json_response(ELASTIC_ANSWER)


async def test_elastic_uses_the_secret_value_as_api_key(
    fake: Any, http: aiohttp.ClientSession
) -> None:
    server: Fake = await fake({"POST /_search": elastic_search})
    config = ProviderConfig(
        "elastic", server.url, secret={"apiKey": "c2VjcmV0LWFwaS1rZXk="}, secret_key="apiKey"
    )
    es = open_provider(config, http)
    query = json.dumps(
        {
            "query": {"range": {"@timestamp": {"gte": "now-5m"}}},
            "aggs": {"avg_latency": {"avg": {"field": "latency"}}},
        }
    )
    assert (await es.query(query, at=NOW)).value == 123.5
    assert server.bodies[-1]["aggs"]["avg_latency"] == {"avg": {"field": "latency"}}
    assert server.seen[-1].content_type == "application/json"
    picked = await es.analysis_value(query, start=NOW, end=NOW, args={"metricPath": "p95_latency"})
    assert picked.value == 250.0
    hits = json.dumps({"query": {"match_all": {}}})
    assert (await es.range_value(hits, start=NOW, end=NOW)).value == 42
    with pytest.raises(ConfigError, match=r"range\.step"):
        await es.query_range(hits, start=NOW, end=NOW, step=timedelta(minutes=1))
    with pytest.raises(ConfigError, match="JSON search body"):
        await es.query("not json", at=NOW)
    # KLT used the key *name* as the API key: that is refused by the server
    quirk = ProviderConfig(
        "elastic",
        server.url,
        secret={"c2VjcmV0LWFwaS1rZXk=": "x"},
        secret_key="c2VjcmV0LWFwaS1rZXk=",
    )
    with pytest.raises(HTTPStatusError, match=r"HTTP 401: .*unable to authenticate"):
        await open_provider(quirk, http).query(query, at=NOW)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("", 123.5),
        ("aggregations.p95_latency.value", 250.0),
        ("p95_latency.value", 250.0),
        ("p95", 250.0),
        ("hits.total.value", 42),
    ],
)
def test_elastic_extract_metric(path: str, expected: float) -> None:
    assert extract_metric(ELASTIC_ANSWER, path) == expected


def test_elastic_extract_metric_no_match() -> None:
    with pytest.raises(NoDataError, match="metricPath 'nope'"):
        extract_metric(ELASTIC_ANSWER, "nope")
    with pytest.raises(NoDataError, match="no aggregation value"):
        extract_metric({"took": 1, "_shards": {"total": 1}}, "")
    assert extract_metric({"hits": {"total": {"value": 7}}}, "") == 7


async def test_malformed_vendor_answers(fake: Any, http: aiohttp.ClientSession) -> None:
    async def dynatrace(request: web.Request, state: Fake) -> web.Response:
        if request.query["metricSelector"] == "noresult":
            return web.json_response({"totalCount": 0})
        return web.json_response({"result": [{"data": [{"values": "x"}]}]})

    async def elastic(request: web.Request, state: Fake) -> web.Response:
        return web.json_response([1, 2])

    server: Fake = await fake({"GET /api/v2/metrics/query": dynatrace, "POST /_search": elastic})
    config = ProviderConfig("dynatrace", server.url, secret={"t": "x"}, secret_key="t")
    dt = open_provider(config, http)
    with pytest.raises(BadResponseError, match="no result list"):
        await dt.query("noresult", at=NOW)
    with pytest.raises(BadResponseError, match="malformed result data"):
        await dt.query("broken", at=NOW)
    es = open_provider(
        ProviderConfig("elastic", server.url, secret={"k": "v"}, secret_key="k"), http
    )
    with pytest.raises(BadResponseError, match="not an object"):
        await es.query("{}", at=NOW)


def test_step_aggregation_of_nothing_is_no_data() -> None:
    from evaluator.providers import aggregate_steps

    with pytest.raises(NoDataError):
        aggregate_steps([], StepAggregation.MAX)
