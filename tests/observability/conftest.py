"""Fixtures for the observability tests: a real OTLP/HTTP receiver and a CloudEvents endpoint.

Both are aiohttp servers on loopback decoding with the real libraries (opentelemetry-proto,
cloudevents.core), so the tests exercise the exporters' wire format, not a mock.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from tests.support.http import serve


@dataclass
class OTLPReceiver:
    url: str = ""
    spans: list[Span] = field(default_factory=list)
    resources: list[dict[str, str]] = field(default_factory=list)
    requests: int = 0


@pytest.fixture
async def otlp_receiver() -> AsyncIterator[OTLPReceiver]:
    received = OTLPReceiver()

    async def traces(request: web.Request) -> web.Response:
        # aiohttp already inflates Content-Encoding: gzip bodies (tooling.md §3, gotcha 1).
        body = await request.read()
        message = ExportTraceServiceRequest.FromString(body)
        received.requests += 1
        for resource_spans in message.resource_spans:
            received.resources.append(
                {kv.key: kv.value.string_value for kv in resource_spans.resource.attributes}
            )
            for scope_spans in resource_spans.scope_spans:
                received.spans.extend(scope_spans.spans)
        return web.Response(
            body=ExportTraceServiceResponse().SerializeToString(),
            content_type="application/x-protobuf",
        )

    app = web.Application()
    app.router.add_post("/v1/traces", traces)
    async with serve(app) as url:
        received.url = f"{url}/v1/traces"
        yield received


@pytest.fixture(scope="session")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is required (apt-get install prometheus)")
    return path
