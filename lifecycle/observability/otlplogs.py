"""Log records over OTLP beside the spans, correlated with them (OTel log correlation).

Role: when the operator's span exporter is fixed to an OTLP collector (``--otel-url`` /
``$OTEL_COLLECTOR_URL``: OTLP/HTTP or gRPC, tracing.setup.parse_target), `attach(url)` adds a
handler to the root logger that sends every record there too (HTTP: ``/v1/logs`` beside
``/v1/traces``), batched on the SDK's thread, with the operator's resource. Inside a reconcile a
record carries the reconcile's fields (lifecycle.observability.logs) as attributes
(``keptn.controller``, ``keptn.reconcile_id``, ``k8s.namespace.name``, ``keptn.object.name``,
``keptn.object.kind``) and, in a flow, the trace and span id of the phase span, so a backend
links the line to the span.
Invariants: records of the export pipeline itself (opentelemetry, urllib3, grpc) are not sent;
nothing is attached for other targets (none, console, file, or a collector that only
a KeptnConfig names: it can change at run time). `OtlpLogs.shutdown()` flushes what is queued.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExporter

from lifecycle.observability.logs import context
from tracing.setup import ExporterKind, ExporterTarget, make_resource, parse_target

__all__ = ["OtlpLogs", "attach"]

_ATTRIBUTES = {
    "controller": "keptn.controller",
    "reconcile_id": "keptn.reconcile_id",
    "namespace": "k8s.namespace.name",
    "name": "keptn.object.name",
    "kind": "keptn.object.kind",
}

_OWN_LOGGERS = ("opentelemetry", "urllib3", "grpc", "requests")


def _exporter(target: ExporterTarget) -> LogRecordExporter | None:
    if target.kind is ExporterKind.OTLP_HTTP:
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter

        endpoint = target.endpoint.removesuffix("/v1/traces") + "/v1/logs"
        return OTLPLogExporter(endpoint=endpoint, timeout=10)
    if target.kind is ExporterKind.OTLP_GRPC:
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import (
            OTLPLogExporter as GrpcLogExporter,
        )

        return GrpcLogExporter(endpoint=target.endpoint, insecure=target.insecure, timeout=10)
    return None


class _Handler(LoggingHandler):
    """The SDK's handler, plus the reconcile's fields and phase span."""

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(_OWN_LOGGERS):
            return  # the export pipeline's own complaints would feed themselves
        fields = context()
        record = logging.makeLogRecord(record.__dict__)  # the other handlers keep theirs as is
        for field, attribute in _ATTRIBUTES.items():
            if field in fields:
                setattr(record, attribute, fields[field])
        token = None
        if "trace_id" in fields and "span_id" in fields:
            span = trace.NonRecordingSpan(
                trace.SpanContext(
                    int(fields["trace_id"], 16),
                    int(fields["span_id"], 16),
                    is_remote=True,
                    trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED),
                )
            )
            token = otel_context.attach(trace.set_span_in_context(span))
        try:
            super().emit(record)
        finally:
            if token is not None:
                otel_context.detach(token)


@dataclass(frozen=True, slots=True)
class OtlpLogs:
    """The attached handler and its pipeline."""

    handler: logging.Handler
    provider: LoggerProvider

    def shutdown(self) -> None:
        """Detach and flush (blocks up to the export timeout)."""
        logging.getLogger().removeHandler(self.handler)
        self.provider.shutdown()


def attach(url: str | None, service_version: str = "") -> OtlpLogs | None:
    """Send the root logger's records to the OTLP collector at `url` too; None when `url` is
    not an OTLP collector."""
    exporter = _exporter(parse_target(url)) if url else None
    if exporter is None:
        return None
    provider = LoggerProvider(resource=make_resource(service_version))
    provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
    handler = _Handler(level=logging.NOTSET, logger_provider=provider)
    logging.getLogger().addHandler(handler)
    return OtlpLogs(handler, provider)
