"""The operator's transport: one aiohttp connection pool to the API server.

Role: `AiohttpTransport(access)` carries KubeClient's requests concurrently over keep-alive
connections (up to 256: every informer holds one for its watch). The environment's proxy
settings are looked up only when a proxy variable is set (otherwise aiohttp would spend two
thread-pool hops per request on netrc and proxy lookups); a kubeconfig's proxy-url is used
as given.
Invariants: aiohttp's exceptions never escape: they become Transient naming the request
(lifecycle.kube.wire.transient).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping

import aiohttp

from lifecycle.kube.errors import error_from_status
from lifecycle.kube.kubeconfig import ClusterAccess
from lifecycle.kube.wire import proxy_in_env, transient

__all__ = ["AiohttpTransport"]

_FAILURES = (aiohttp.ClientError, TimeoutError, OSError)


class AiohttpTransport:
    """Requests over one aiohttp session (must be built inside the event loop)."""

    def __init__(self, access: ClusterAccess, *, request_timeout: float = 30.0) -> None:
        connector = aiohttp.TCPConnector(limit=256, ssl=access.ssl_context() or False)
        self._session = aiohttp.ClientSession(
            connector=connector, trust_env=proxy_in_env(), read_bufsize=2**21
        )
        self._timeout = aiohttp.ClientTimeout(total=request_timeout)
        self._server = access.server.rstrip("/")
        self._proxy = access.proxy_url
        self._server_hostname = access.tls_server_name

    async def send(
        self, method: str, target: str, data: bytes | None, headers: Mapping[str, str], what: str
    ) -> tuple[int, bytes]:
        with transient(what, _FAILURES):
            async with self._session.request(
                method,
                self._server + target,
                data=data,
                headers=headers,
                timeout=self._timeout,
                proxy=self._proxy,
                server_hostname=self._server_hostname,
            ) as resp:
                return resp.status, await resp.read()

    async def stream(
        self, target: str, headers: Mapping[str, str], read_timeout: float, what: str
    ) -> AsyncGenerator[bytes, None]:
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=self._timeout.total, sock_read=read_timeout
        )
        # Leaving the block releases the connection: back to the pool after the whole body,
        # closed when the stream was abandoned mid-way or failed (aiohttp decides).
        with transient(what, _FAILURES):
            async with self._session.get(
                self._server + target,
                headers=headers,
                timeout=timeout,
                proxy=self._proxy,
                server_hostname=self._server_hostname,
            ) as resp:
                if resp.status >= 300:
                    raise error_from_status(resp.status, await resp.read())
                while chunk := await resp.content.readany():
                    yield chunk

    async def close(self) -> None:
        await self._session.close()
