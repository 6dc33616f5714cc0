"""Tracer provider and span exporters chosen by one URL (KeptnConfig ``spec.OTelCollectorUrl`` or a flag).

Role: own the export pipeline for spans built by :mod:`tracing.spans`. :class:`Tracing` holds a
``TracerProvider`` (resource ``service.name=lifecycle-operator``) and one span processor in front of
the exporter; finished spans built from status are fed to that processor, live spans (if any code
uses ``tracing.provider.get_tracer``) go through the same processor.

Exporter choice (:func:`parse_target`):

=====================================  =====================================================
``""``, ``None``, ``"none"``           no export
``"console"`` / ``"stdout"``           SDK ConsoleSpanExporter (KLT's default is stdout)
``"file:///path/spans.jsonl"``         one JSON object per span per line (:class:`JsonLinesSpanExporter`,
                                       read back by :func:`read_span_lines`, used by ``klt trace``)
``"http(s)://host:4318[/v1/traces]"``  OTLP/HTTP protobuf (``/v1/traces`` appended if missing)
``"host:4317"`` / ``"grpc://h:p"``     OTLP/gRPC, insecure (as KLT); ``"grpcs://h:p"`` uses TLS
=====================================  =====================================================

:meth:`Tracing.export_then` also reports, per span, whether the batch holding it was exported
(lifecycle.observability.spanmarks writes durable "exported" marks from that).

Invariants: :meth:`Tracing.export` never blocks on the network when ``batch=True`` (the batch
processor exports from its own thread); :meth:`Tracing.reconfigure` builds a new pipeline and shuts
the old one down (flushing it), because a TracerProvider cannot drop a processor. ``shutdown`` and
``reconfigure`` may block up to the export timeout: call them via ``asyncio.to_thread`` from async code.
Must not import ``lifecycle``.
"""

from __future__ import annotations

import enum
import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)

__all__ = [
    "SERVICE_NAME",
    "Confirm",
    "ExporterKind",
    "ExporterTarget",
    "JsonLinesSpanExporter",
    "Tracing",
    "make_exporter",
    "make_resource",
    "parse_target",
    "read_span_lines",
    "span_to_dict",
]

SERVICE_NAME = "lifecycle-operator"


class ExporterKind(enum.Enum):
    """Which exporter a URL asks for (the module table)."""

    NONE = "none"
    CONSOLE = "console"
    FILE = "file"
    OTLP_HTTP = "otlp-http"
    OTLP_GRPC = "otlp-grpc"


@dataclass(frozen=True, slots=True)
class ExporterTarget:
    """An exporter kind and where it sends spans."""

    kind: ExporterKind
    endpoint: str = ""
    """URL for OTLP/HTTP, ``host:port`` for gRPC, a filesystem path for FILE."""
    insecure: bool = True
    """gRPC only: plaintext (KLT's behaviour) unless the URL said ``grpcs://``."""


def parse_target(url: str | None) -> ExporterTarget:
    """Which exporter a KeptnConfig/flag URL asks for (see the module table)."""
    value = (url or "").strip()
    if value.lower() in ("", "none", "off"):
        return ExporterTarget(ExporterKind.NONE)
    if value.lower() in ("console", "stdout"):
        return ExporterTarget(ExporterKind.CONSOLE)
    parts = urlsplit(value)
    scheme = parts.scheme.lower()
    if scheme == "file":
        return ExporterTarget(ExporterKind.FILE, parts.path)
    if scheme in ("http", "https"):
        path = parts.path.rstrip("/")
        if not path.endswith("/v1/traces"):
            path += "/v1/traces"
        return ExporterTarget(ExporterKind.OTLP_HTTP, f"{scheme}://{parts.netloc}{path}")
    if scheme in ("grpc", "grpcs"):
        return ExporterTarget(ExporterKind.OTLP_GRPC, parts.netloc, insecure=scheme == "grpc")
    # A bare "host:port" (KLT's documented form, e.g. otel-collector:4317) is gRPC.
    return ExporterTarget(ExporterKind.OTLP_GRPC, value)


def make_resource(service_version: str = "") -> Resource:
    """The operator's resource: service.name=lifecycle-operator (+ service.version if known)."""
    values: dict[str, str] = {"service.name": SERVICE_NAME, "service.namespace": "keptn"}
    if service_version:
        values["service.version"] = service_version
    return Resource.create(values)


def span_to_dict(span: ReadableSpan) -> dict[str, object]:
    """One span as the JSON-lines exporter writes it (OTLP/JSON-like, hex ids, integer ns times)."""
    ctx = span.context
    assert ctx is not None
    return {
        "traceId": f"{ctx.trace_id:032x}",
        "spanId": f"{ctx.span_id:016x}",
        "parentSpanId": f"{span.parent.span_id:016x}" if span.parent else "",
        "name": span.name,
        "kind": span.kind.name,
        "startTimeUnixNano": span.start_time,
        "endTimeUnixNano": span.end_time,
        "attributes": dict(span.attributes or {}),
        "events": [
            {"name": e.name, "timeUnixNano": e.timestamp, "attributes": dict(e.attributes or {})}
            for e in span.events
        ],
        "links": [
            {
                "traceId": f"{link.context.trace_id:032x}",
                "spanId": f"{link.context.span_id:016x}",
                "attributes": dict(link.attributes or {}),
            }
            for link in span.links
        ],
        "status": {"code": span.status.status_code.name, "message": span.status.description or ""},
        "scope": span.instrumentation_scope.name if span.instrumentation_scope else "",
        "resource": dict(span.resource.attributes),
    }


class JsonLinesSpanExporter(SpanExporter):
    """Appends one JSON object per span to a file; a crash loses at most the line being written.

    SUCCESS means written and flushed to the operating system (a SIGKILL of the process no longer
    loses it; a power cut may): the caller marks the spans exported only then (at least once).
    """

    def __init__(self, path: str | Path) -> None:
        self._path = Path(path)
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = "".join(json.dumps(span_to_dict(s), sort_keys=True) + "\n" for s in spans)
        try:
            with self._lock, self._path.open("a", encoding="utf-8") as handle:
                handle.write(lines)
                handle.flush()
        except OSError:
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True  # every export is written through


def read_span_lines(path: str | Path) -> list[dict[str, object]]:
    """The spans a :class:`JsonLinesSpanExporter` wrote; a torn last line is skipped."""
    spans: list[dict[str, object]] = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            spans.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return spans


def make_exporter(target: ExporterTarget, *, timeout_s: float = 10.0) -> SpanExporter | None:
    """The SDK exporter for a target; None for ExporterKind.NONE."""
    match target.kind:
        case ExporterKind.NONE:
            return None
        case ExporterKind.CONSOLE:
            return ConsoleSpanExporter(service_name=SERVICE_NAME)
        case ExporterKind.FILE:
            return JsonLinesSpanExporter(target.endpoint)
        case ExporterKind.OTLP_HTTP:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
                OTLPSpanExporter as HTTPSpanExporter,
            )

            return HTTPSpanExporter(endpoint=target.endpoint, timeout=timeout_s)
        case ExporterKind.OTLP_GRPC:
            # Imported lazily: grpc is heavy and unused by most configurations.
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
                OTLPSpanExporter as GRPCSpanExporter,
            )

            return GRPCSpanExporter(
                endpoint=target.endpoint, insecure=target.insecure, timeout=timeout_s
            )


Confirm = Callable[[bool], None]
"""Called once per span handed to :meth:`Tracing.export_then`: True when its batch was exported."""


class _ConfirmingExporter(SpanExporter):
    """Wraps the real exporter; after each batch, calls the callbacks of the spans it held.

    Callbacks run on the exporting thread (the batch processor's); spans the processor drops
    (queue full) never get one -- callers must treat silence as "not confirmed".
    """

    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner
        self._lock = threading.Lock()
        self._waiting: dict[int, Confirm] = {}

    def expect(self, span: ReadableSpan, confirm: Confirm) -> None:
        if span.context is not None:
            with self._lock:
                self._waiting[span.context.span_id] = confirm

    def _settle(self, spans: Sequence[ReadableSpan], ok: bool) -> None:
        with self._lock:
            found = [
                self._waiting.pop(s.context.span_id, None) for s in spans if s.context is not None
            ]
        for confirm in found:
            if confirm is not None:
                confirm(ok)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            result = self.inner.export(spans)
        except Exception:
            self._settle(spans, False)
            raise
        self._settle(spans, result is SpanExportResult.SUCCESS)
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()
        with self._lock:
            left, self._waiting = list(self._waiting.values()), {}
        for confirm in left:
            confirm(False)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


class _Pipeline:
    __slots__ = ("confirming", "processor", "provider", "target")

    def __init__(
        self,
        target: ExporterTarget,
        exporter: SpanExporter | None,
        resource: Resource,
        batch: bool,
    ) -> None:
        self.target = target
        self.provider = TracerProvider(resource=resource)
        self.processor: SpanProcessor | None = None
        self.confirming: _ConfirmingExporter | None = None
        if exporter is not None:
            self.confirming = _ConfirmingExporter(exporter)
            self.processor = (
                BatchSpanProcessor(self.confirming, schedule_delay_millis=500)
                if batch
                else SimpleSpanProcessor(self.confirming)
            )
            self.provider.add_span_processor(self.processor)


class Tracing:
    """The operator's span pipeline; implements :class:`tracing.spans.SpanSink`."""

    def __init__(
        self,
        url: str | None = None,
        *,
        service_version: str = "",
        batch: bool = True,
        exporter: SpanExporter | None = None,
    ) -> None:
        """``exporter`` overrides ``url`` (tests pass an InMemorySpanExporter with batch=False)."""
        self._resource = make_resource(service_version)
        self._batch = batch
        self._lock = threading.Lock()
        target = parse_target(url)
        if exporter is not None:
            target = ExporterTarget(ExporterKind.CONSOLE, "custom")
        self._pipeline = _Pipeline(target, exporter or make_exporter(target), self._resource, batch)

    @property
    def resource(self) -> Resource:
        return self._resource

    @property
    def provider(self) -> TracerProvider:
        return self._pipeline.provider

    @property
    def exporting(self) -> bool:
        """False when no exporter is configured (URL empty or "none"): spans go nowhere."""
        return self._pipeline.processor is not None

    @property
    def target(self) -> ExporterTarget:
        return self._pipeline.target

    def export(self, spans: Sequence[ReadableSpan]) -> None:
        """Queue finished spans for export (non-blocking with batch=True)."""
        processor = self._pipeline.processor
        if processor is None:
            return
        for span in spans:
            processor.on_end(span)

    def export_then(self, spans: Sequence[ReadableSpan], confirm: Confirm) -> None:
        """Queue spans like :meth:`export`; ``confirm(ok)`` once per span after its batch went out.

        With no exporter configured (see :attr:`exporting`) the spans are dropped, unconfirmed.
        """
        pipeline = self._pipeline
        if pipeline.processor is None or pipeline.confirming is None:
            return
        for span in spans:
            pipeline.confirming.expect(span, confirm)
            pipeline.processor.on_end(span)

    def reconfigure(self, url: str | None) -> bool:
        """Switch exporter when the URL changed (KeptnConfig update); True if it did."""
        target = parse_target(url)
        with self._lock:
            if target == self._pipeline.target:
                return False
            old = self._pipeline
            self._pipeline = _Pipeline(target, make_exporter(target), self._resource, self._batch)
        old.provider.shutdown()
        return True

    def force_flush(self, timeout_millis: int = 10_000) -> bool:
        """Export everything queued so far (blocking)."""
        return self._pipeline.provider.force_flush(timeout_millis)

    def shutdown(self) -> None:
        """Flush and stop the exporter (blocking)."""
        self._pipeline.provider.shutdown()
