"""Fixtures of the end-to-end observability tests: an OTLP/HTTP receiver and the sandbox.

Role: `otlp` is an aiohttp server on loopback that decodes what the operator's OTLP/HTTP exporter
sends with opentelemetry-proto (the real wire format, no mock) into `ReceivedSpan`s with hex ids;
`sandbox` is the embedded API server with the simulated node and the opted-in namespace `demo`
(tests.e2e.flow.conftest.start_sandbox). Invariant: the receiver keeps every span it got, in
arrival order, duplicates included -- the tests count them. Must not: answer anything but 200.
"""

from __future__ import annotations

import collections
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from sandbox.server import Sandbox
from tests.e2e.flow.conftest import start_sandbox
from tests.support.http import serve

__all__ = ["OTLPReceiver", "ReceivedSpan"]


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


@dataclass(frozen=True, slots=True)
class ReceivedSpan:
    trace_id: str
    span_id: str
    parent_id: str
    name: str
    scope: str
    attributes: dict[str, Any]
    links: list[tuple[str, str, dict[str, Any]]]
    """(trace id, span id, attributes) per link."""
    error: bool
    status_message: str
    ok: bool
    events: list[str]
    start_ns: int
    end_ns: int

    @classmethod
    def decode(cls, span: Span, scope: str) -> ReceivedSpan:
        return cls(
            trace_id=span.trace_id.hex(),
            span_id=span.span_id.hex(),
            parent_id=span.parent_span_id.hex(),
            name=span.name,
            scope=scope,
            attributes={kv.key: _value(kv.value) for kv in span.attributes},
            links=[
                (
                    link.trace_id.hex(),
                    link.span_id.hex(),
                    {kv.key: _value(kv.value) for kv in link.attributes},
                )
                for link in span.links
            ],
            error=span.status.code == Status.STATUS_CODE_ERROR,
            status_message=span.status.message,
            ok=span.status.code == Status.STATUS_CODE_OK,
            events=[event.name for event in span.events],
            start_ns=span.start_time_unix_nano,
            end_ns=span.end_time_unix_nano,
        )


@dataclass
class OTLPReceiver:
    url: str = ""
    spans: list[ReceivedSpan] = field(default_factory=list)
    requests: int = 0

    def trace_of(self, root_name: str) -> list[ReceivedSpan]:
        """Every span (duplicates included) of the trace whose parentless span is `root_name`."""
        roots = {s.trace_id for s in self.spans if s.name == root_name and not s.parent_id}
        assert len(roots) == 1, (root_name, roots, sorted({s.name for s in self.spans}))
        (trace_id,) = roots
        return [s for s in self.spans if s.trace_id == trace_id]

    def duplicates(self) -> dict[str, int]:
        """Span id -> times received, for ids received more than once."""
        counts = collections.Counter(s.span_id for s in self.spans)
        return {span_id: n for span_id, n in counts.items() if n > 1}


@pytest.fixture
async def otlp() -> AsyncIterator[OTLPReceiver]:
    received = OTLPReceiver()

    async def traces(request: web.Request) -> web.Response:
        # aiohttp inflates Content-Encoding: gzip itself (tooling.md §3).
        message = ExportTraceServiceRequest.FromString(await request.read())
        received.requests += 1
        for resource_spans in message.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                received.spans.extend(
                    ReceivedSpan.decode(span, scope_spans.scope.name) for span in scope_spans.spans
                )
        return web.Response(
            body=ExportTraceServiceResponse().SerializeToString(),
            content_type="application/x-protobuf",
        )

    app = web.Application()
    app.router.add_post("/v1/traces", traces)
    async with serve(app) as received.url:
        yield received


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[Sandbox]:
    sb = await start_sandbox(tmp_path)
    try:
        yield sb
    finally:
        await sb.stop()
