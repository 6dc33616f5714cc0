"""A light transport on the standard library (http.client) for short-lived commands.

Role: `klt status` and `klt trace` read a few lists and must start in well under 0.2 s;
aiohttp alone takes longer than that to import. `StdlibTransport` sends one request at a time
over one keep-alive connection in a worker thread (`asyncio.to_thread`), so KubeClient's verbs
work unchanged on top of it; not watches (the commands poll: `--watch` reads again each
second). Proxies: the kubeconfig's proxy-url, else HTTPS_PROXY/HTTP_PROXY/NO_PROXY (through an
HTTP CONNECT tunnel).
Invariants: only the standard library; failures to connect or read become Transient (a refused
connection's cause names host and port); a GET on a kept-alive connection that the server
closed meanwhile is sent again once on a new one.
Must not: be used by the operator (no concurrency: requests wait for each other).
"""

from __future__ import annotations

import asyncio
import http.client
import socket
from collections.abc import Mapping
from typing import NoReturn
from urllib.parse import urlsplit

from lifecycle.kube.kubeconfig import ClusterAccess
from lifecycle.kube.wire import proxy_in_env, transient

__all__ = ["ConnectFailed", "StdlibTransport"]

_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)
_FAILURES = (OSError, http.client.HTTPException)


class ConnectFailed(ConnectionError):
    """The server could not be reached (what a CLI error message names)."""

    def __init__(self, host: str, port: int, cause: OSError) -> None:
        super().__init__(cause.errno, f"{host}:{port}: {cause.strerror or cause}")
        self.host, self.port = host, port


class _HTTPSConnection(http.client.HTTPSConnection):
    """HTTPS with the kubeconfig's tls-server-name (SNI and the name the certificate must hold)."""

    server_name: str | None = None

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)
        name = self.server_name or self._tunnel_host or self.host  # type: ignore[attr-defined]
        self.sock = self._context.wrap_socket(self.sock, server_hostname=name)  # type: ignore[attr-defined]


class StdlibTransport:
    """Requests one at a time on http.client."""

    def __init__(self, access: ClusterAccess, *, request_timeout: float = 30.0) -> None:
        url = urlsplit(access.server)
        self._https = url.scheme == "https"
        self._host = url.hostname or "localhost"
        self._port = url.port or (443 if self._https else 80)
        self._base_path = url.path.rstrip("/")
        self._access = access
        self._timeout = request_timeout
        self._conn: http.client.HTTPConnection | None = None
        self._lock = asyncio.Lock()

    def _proxy(self) -> str | None:
        if self._access.proxy_url:
            return self._access.proxy_url
        if not proxy_in_env():
            return None
        import urllib.request

        if urllib.request.proxy_bypass(self._host):
            return None
        found = urllib.request.getproxies_environment()
        return found.get("https" if self._https else "http") or found.get("all")

    def _connect(self) -> http.client.HTTPConnection:
        proxy = self._proxy()
        host, port = self._host, self._port
        if proxy:
            parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
            host, port = parts.hostname or host, parts.port or 80
        conn: http.client.HTTPConnection
        if self._https:
            context = self._access.ssl_context()
            conn = _HTTPSConnection(host, port, timeout=self._timeout, context=context)
            conn.server_name = self._access.tls_server_name
        else:
            conn = http.client.HTTPConnection(host, port, timeout=self._timeout)
        if proxy:
            conn.set_tunnel(self._host, self._port)
        try:
            conn.connect()
        except (ConnectionRefusedError, socket.gaierror) as exc:
            raise ConnectFailed(host, port, exc) from exc
        return conn

    def _exchange(
        self, method: str, target: str, data: bytes | None, headers: Mapping[str, str]
    ) -> tuple[int, bytes]:
        while True:
            fresh = self._conn is None
            if self._conn is None:
                self._conn = self._connect()
            try:
                self._conn.request(method, target, body=data, headers=dict(headers))
                resp = self._conn.getresponse()
                body = resp.read()
            except BaseException as exc:
                self._drop()
                if isinstance(exc, _STALE) and not fresh and method == "GET":
                    continue  # the server closed the kept-alive connection: once more, anew
                raise
            if resp.will_close:
                self._drop()
            return resp.status, body

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def send(
        self, method: str, target: str, data: bytes | None, headers: Mapping[str, str], what: str
    ) -> tuple[int, bytes]:
        target = self._base_path + target
        async with self._lock:
            with transient(what, _FAILURES):
                return await asyncio.to_thread(self._exchange, method, target, data, headers)

    def stream(
        self, target: str, headers: Mapping[str, str], read_timeout: float, what: str
    ) -> NoReturn:
        raise TypeError(f"{what}: the light transport does not stream (KubeClient(light=False))")

    async def close(self) -> None:
        self._drop()
