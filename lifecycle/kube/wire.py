"""What goes over the wire to an API server, whatever carries it: paths, query strings, JSON
bodies, the lines of a watch stream, and the `Transport` both carriers implement (with what
they share: the proxy check, their failures as Transient).

Invariants: standard library and orjson only (the CLI imports this); pure except
`proxy_in_env` (reads the environment).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncGenerator, Iterator, Mapping
from typing import Any, Protocol
from urllib.parse import quote, urlencode

import orjson

from lifecycle.core.model import ResourceKind
from lifecycle.kube.errors import Transient, error_from_status

__all__ = [
    "Body",
    "Transport",
    "WatchLines",
    "proxy_in_env",
    "query",
    "resource_path",
    "transient",
    "typed",
]

Body = dict[str, Any]


class Transport(Protocol):
    """Carries requests to one API server; raises Transient when it cannot be reached."""

    async def send(
        self, method: str, target: str, data: bytes | None, headers: Mapping[str, str], what: str
    ) -> tuple[int, bytes]:
        """One exchange of `target` (path and query): (status, body); `what` names it in errors."""

    def stream(
        self, target: str, headers: Mapping[str, str], read_timeout: float, what: str
    ) -> AsyncGenerator[bytes, None]:
        """A GET whose body is read as it comes (a watch); KubeError for a non-2xx answer,
        Transient when the connection fails; closing it releases the connection."""

    async def close(self) -> None:
        """Close every connection."""


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
