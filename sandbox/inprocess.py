"""The simulated node's requests, served in process by the sandbox's own aiohttp application.

`InProcessTransport` (a `sandbox.node.client.Transport`) turns each call of the node's client
into an `aiohttp.web.Request` and runs it through `Application._handle`, i.e. the same router,
middlewares (authentication and RBAC, fault injection, the aggregator), handlers, admission,
validation and watch code as a request over HTTP: nothing is skipped, only the socket, the
HTTP parsing and the TLS are. Each request runs in its own task (its own context, as a served
request has), and a caller that gives up cancels it, as `handler_cancellation` does over HTTP.
Answers are read from the `web.Response` the handlers return; a watch's frames arrive through
a `Channel`, which plays the connection (transport and payload writer) of that one request.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from aiohttp import web
from aiohttp.abc import AbstractStreamWriter
from aiohttp.http import HttpVersion11, RawRequestMessage
from aiohttp.streams import EMPTY_PAYLOAD, StreamReader
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

if TYPE_CHECKING:
    from sandbox.node.client import Call

__all__ = ["Channel", "InProcessTransport"]

_CLIENT_MAX_SIZE = 64 * 1024 * 1024
"""As `Routes.build_app`: the 413 of kube-apiserver's limit is the middleware's."""


class Channel(AbstractStreamWriter):
    """The connection of one in-process request: its payload writer, transport and protocol.

    Bytes written (headers aside) are queued for the caller unframed: a watch's sink writes
    frames with `write_raw`, without HTTP chunk framing.
    """

    def __init__(self) -> None:
        self.chunks: deque[bytes] = deque()
        self.size = 0
        self.ended = False
        self.closing = False
        self._wakeup: asyncio.Event = asyncio.Event()
        # protocol attributes read by web.Request and StreamReader
        self.writer = self
        self.ssl_context = None
        self.peername = ("127.0.0.1", 0)
        self.sockname = ("127.0.0.1", 0)
        self._reading_paused = False

    @property
    def transport(self) -> Channel:  # type: ignore[override]
        """The protocol's transport: this channel."""
        return self

    # ---- transport
    def is_closing(self) -> bool:
        return self.closing

    def get_write_buffer_size(self) -> int:
        return self.size

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": self.peername, "sockname": self.sockname}.get(name, default)

    def write_raw(self, data: bytes) -> None:
        """Queue bytes for the caller (what a watch sink writes)."""
        if data and not self.closing:
            self.chunks.append(data)
            self.size += len(data)
            self._wakeup.set()

    def pause_reading(self, *args: object, **kwargs: object) -> None:
        """The body is fed at once: reading never pauses (nor resumes)."""

    resume_reading = pause_reading

    # ---- payload writer (headers do not travel in process, frames are not chunk-framed)
    async def write(self, chunk: bytes | bytearray | memoryview) -> None:
        self.write_raw(bytes(chunk))

    async def write_eof(self, chunk: bytes = b"") -> None:
        self.write_raw(chunk)
        self.end()

    async def write_headers(self, status_line: str, headers: CIMultiDict[str]) -> None:
        pass

    async def drain(self) -> None:
        pass

    def enable_compression(self, encoding: str = "deflate", strategy: int | None = None) -> None:
        pass

    def enable_chunking(self) -> None:
        pass

    # ---- the caller's side
    def end(self) -> None:
        self.ended = True
        self._wakeup.set()

    async def first(self) -> None:
        """Wait until something is written or the response ends."""
        while not self.chunks and not self.ended:
            self._wakeup.clear()
            await self._wakeup.wait()

    async def read(self) -> AsyncIterator[bytes]:
        """The queued bytes as they come, until the response ends."""
        while self.chunks or not self.ended:
            await self.first()
            while self.chunks:
                chunk = self.chunks.popleft()
                self.size -= len(chunk)
                yield chunk


class InProcessTransport:
    """Requests handled by `app` in this process (see the module docstring)."""

    def __init__(self, app: web.Application) -> None:
        self._app = app

    async def close(self) -> None:
        """No connection to close."""

    def _request(self, call: Call, channel: Channel) -> web.Request:
        path_qs = f"{call.path}?{urlencode(call.params)}" if call.params else call.path
        headers = CIMultiDict(call.headers)
        payload: StreamReader = EMPTY_PAYLOAD
        loop = asyncio.get_running_loop()
        if call.data is not None:
            headers["Content-Length"] = str(len(call.data))
            payload = StreamReader(channel, len(call.data) + 1, loop=loop)  # type: ignore[arg-type]
            payload.feed_data(call.data)
            payload.feed_eof()
        proxy = CIMultiDictProxy(headers)
        raw = tuple((k.encode(), v.encode()) for k, v in headers.items())
        message = RawRequestMessage(
            call.method, path_qs, HttpVersion11, proxy, raw, False, None, False, False,
            URL(path_qs, encoded=True),
        )  # fmt: skip
        task = asyncio.current_task()
        assert task is not None
        return web.Request(
            message,
            payload,
            channel,  # type: ignore[arg-type]
            channel,
            task,
            loop,
            client_max_size=_CLIENT_MAX_SIZE,
            remote="127.0.0.1",
        )

    async def _serve(self, call: Call, channel: Channel) -> int:
        """Run the request; its status (a plain response's body goes to the channel too)."""
        try:
            try:  # aiohttp's own dispatch: router, then the application's middlewares
                response = await self._app._handle(self._request(call, channel))
            except web.HTTPException as exc:
                response = web.Response(status=exc.status, text=exc.text or "")
            if isinstance(response, web.Response) and isinstance(response.body, bytes):
                channel.write_raw(response.body)
            return response.status
        finally:
            channel.end()

    async def exchange(self, call: Call) -> tuple[int, bytes]:
        """One request in its own task: (status, body)."""
        channel = Channel()
        status = await asyncio.create_task(self._serve(call, channel))
        return status, b"".join(channel.chunks)

    @contextlib.asynccontextmanager
    async def stream(
        self, call: Call, read_timeout: float
    ) -> AsyncIterator[tuple[int, AsyncIterator[bytes]]]:
        """A streamed GET: the status once the handler has written (or answered), then the
        frames as the handler writes them. `read_timeout` has no use in process."""
        channel = Channel()
        task = asyncio.create_task(self._serve(call, channel))
        try:
            await channel.first()
            yield (task.result() if task.done() else 200), channel.read()
        finally:
            channel.closing = True
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
