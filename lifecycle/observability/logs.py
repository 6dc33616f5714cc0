"""The operator's logs: text for a terminal, JSON lines (python-json-logger) for a log pipeline.

Role: `configure_logging(fmt, level)` sends every record to stderr, as text or as one JSON object
per line with `ts`, `level`, `logger`, `msg` and the reconcile's context: `controller`,
`reconcile_id` (one per reconcile, as controller-runtime's `reconcileID`), the object's
`namespace`, `name` and `kind` and, inside a flow, the `trace_id`/`span_id` of the phase span the
object is in (OpenTelemetry's log correlation fields, read from the W3C traceparent of
`status.phaseTraceIDs[<currentPhase>]`), so a log line joins its trace in Grafana.

`reconciling(controller, key)` (lifecycle.kube.controller, around each reconcile) and
`bind_phase(obj)` (the flow executor, once the object is read) set that context in a
contextvar: each asyncio task (worker) has its own. `extra=` fields of a call are kept too.

Invariants: a record outside any reconcile has none of those fields (never stale ones from
another task); nothing is written to stdout. Must not: import the Kubernetes client.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import secrets
import sys
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from types import MappingProxyType

from lifecycle.observability.telemetry_labels import VersionBody, phase_exemplar

__all__ = ["CONTEXT_FIELDS", "bind_phase", "configure_logging", "context", "reconciling"]

CONTEXT_FIELDS = ("controller", "reconcile_id", "namespace", "name", "kind", "trace_id", "span_id")
_RESERVED = (
    "args", "asctime", "created", "exc_info", "exc_text", "filename", "funcName", "levelno",
    "lineno", "module", "msecs", "message", "msg", "name", "pathname", "process", "processName",
    "relativeCreated", "stack_info", "thread", "threadName", "taskName",
)  # fmt: skip
"""LogRecord attributes that are not fields of a JSON line (those named in the format are)."""
_NONE: Mapping[str, str] = MappingProxyType({})
_context: ContextVar[Mapping[str, str]] = ContextVar("klt_log_context", default=_NONE)


def context() -> Mapping[str, str]:
    """The fields the current task's log records get."""
    return _context.get()


@functools.cache
def _kind_of(controller: str) -> str:
    """The Kind a controller reconciles (its name is the kind in lower case), else ""."""
    from lifecycle.core import model

    by_name = {k.kind.lower(): k.kind for k in model.ALL_KINDS}
    return by_name.get(
        controller, {"schedulinggates": "Pod", "adoption": "Pod"}.get(controller, "")
    )


@contextlib.contextmanager
def reconciling(controller: str, key: object) -> Iterator[None]:
    """Log context of one reconcile of `key` (an ObjectKey, or any key) by `controller`."""
    fields = {"controller": controller, "reconcile_id": secrets.token_hex(8)}
    namespace, name = getattr(key, "namespace", None), getattr(key, "name", None)
    if name is not None:
        fields.update(namespace=str(namespace or ""), name=str(name))
    else:
        fields["name"] = str(key)
    if kind := _kind_of(controller):
        fields["kind"] = kind
    token = _context.set(fields)
    try:
        yield
    finally:
        _context.reset(token)


def bind_phase(obj: VersionBody) -> None:
    """Add the trace and span id of `obj`'s current phase span to this reconcile's context."""
    current = obj.get("status", {}).get("currentPhase") or ""
    ids = phase_exemplar(obj, current) or phase_exemplar(obj, "root")
    if ids is not None:
        _context.set({**_context.get(), **ids})


def json_formatter() -> logging.Formatter:
    """python-json-logger's formatter: ts (UTC, ISO 8601), level, logger, msg, then the
    context and `extra=` fields (a call's own win); a traceback goes under `exc_info`."""
    from pythonjsonlogger.json import JsonFormatter

    class Formatter(JsonFormatter):
        def add_fields(
            self, log_data: dict[str, object], record: logging.LogRecord, message: dict[str, object]
        ) -> None:
            super().add_fields(log_data, record, message)
            log_data["level"] = record.levelname.lower()  # as the operator's JSON logs always had
            for field, value in _context.get().items():  # formatted in the logging task
                log_data.setdefault(field, value)

    return Formatter(
        "{level}{name}{message}",
        style="{",
        validate=False,
        rename_fields={"name": "logger", "message": "msg"},
        timestamp="ts",
        json_ensure_ascii=False,
        reserved_attrs=[*_RESERVED, "levelname"],
    )


def configure_logging(fmt: str, level: str) -> None:
    """Every record to stderr, as `text` or `json` lines, at `level` (root logger)."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(json_formatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler], force=True)
