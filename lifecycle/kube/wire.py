"""What goes over the wire to an API server, whatever carries it: paths, query strings, the
lines of a watch stream, and what both carriers share (the proxy check, their failures as
Transient). A carrier (aiotransport, stdtransport) has `send(method, target, data, headers,
what)` → (status, body), `stream(target, headers, read_timeout, what)` → the chunks of a GET
(KubeError for a non-2xx answer; closing it releases the connection) and `close()`; `what`
names the request in the Transient it raises when the server cannot be reached.

Invariants: standard library and orjson only (the CLI imports this); pure except
`proxy_in_env` (reads the environment).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote, urlencode

import orjson

from lifecycle.core.model import ResourceKind
from lifecycle.kube.errors import Transient, error_from_status

__all__ = [
    "Body",
    "WatchLines",
    "proxy_in_env",
    "query",
    "resource_path",
    "transient",
    "typed",
]

Body = dict[str, Any]


def resource_path(
    kind: ResourceKind,
    namespace: str | None = None,
    name: str | None = None,
    subresource: str | None = None,
) -> str:
    """The resource path, e.g. ``/apis/apps/v1/namespaces/ns/replicasets/rs/status``."""
    base = f"/apis/{kind.group}/{kind.version}" if kind.group else f"/api/{kind.version}"
    if kind.namespaced and namespace:
        base += f"/namespaces/{quote(namespace, safe='')}"
    base += f"/{kind.plural}"
    if name is not None:
        base += f"/{quote(name, safe='')}"
        if subresource:
            base += f"/{subresource}"
    return base


def query(params: Mapping[str, str | int | None] | None) -> str:
    """A query string of the parameters that are set."""
    return urlencode([(k, str(v)) for k, v in (params or {}).items() if v is not None])


def typed(kind: ResourceKind, body: Body) -> Body:
    """``body`` with apiVersion/kind filled in, copied only when they are missing (never mutated)."""
    if "apiVersion" in body and "kind" in body:
        return body
    return {"apiVersion": kind.api_version, "kind": kind.kind, **body}


def proxy_in_env() -> bool:
    """Whether a proxy is configured in the environment."""
    return any(
        os.environ.get(name) or os.environ.get(name.lower())
        for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY")
    )


@contextlib.contextmanager
def transient(what: str, failures: tuple[type[Exception], ...]) -> Iterator[None]:
    """A carrier's own `failures` become Transient naming the request (`what`)."""
    try:
        yield
    except failures as exc:
        raise Transient(f"{what}: {type(exc).__name__}: {exc}") from exc


class WatchLines:
    """Splits a watch stream's bytes into ``(type, object)`` events; ERROR events are raised
    (410 as ``Gone``); objects other than BOOKMARKs get apiVersion/kind filled in."""

    def __init__(self, kind: ResourceKind) -> None:
        self.kind = kind
        self._buf = b""

    def feed(self, chunk: bytes) -> Iterator[tuple[str, Body]]:
        self._buf += chunk
        *lines, self._buf = self._buf.split(b"\n")
        for line in lines:
            if not line.strip():
                continue
            event = orjson.loads(line)
            etype = str(event.get("type", ""))
            obj = event.get("object") or {}
            if etype == "ERROR":
                raise error_from_status(int(obj.get("code") or 500), obj)
            yield etype, (obj if etype == "BOOKMARK" else typed(self.kind, obj))
