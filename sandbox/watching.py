"""Watch streams: one JSON event per line over chunked HTTP, fed by the store's fan-out.

`serve_watch` opens a watcher (replaying current objects as ADDED when no resourceVersion is
given, or the kept history after it), writes what is pending, then hands the watcher a sink
that writes each later frame straight to the connection. It honours `timeoutSeconds`,
`allowWatchBookmarks` (a BOOKMARK with the current resourceVersion after each idle
`bookmark_interval`), `sendInitialEvents` (watch-list: current objects, then a BOOKMARK
annotated `k8s.io/initial-events-end`), Table output for kubectl, and the fault settings (dropped watches,
forced 410). An expired resourceVersion gets HTTP 200 then an ERROR event holding a 410
Status, as the real watch cache answers. The stream always ends with the watcher removed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from sandbox import errors
from sandbox.conversion import converts, from_storage
from sandbox.faults import Faults
from sandbox.inprocess import Channel
from sandbox.requestinfo import TRUE, wants_table
from sandbox.resources import ResourceType
from sandbox.selectors import Selector
from sandbox.store import Entry, Store, dumps
from sandbox.tables import table_for
from sandbox.watchers import frame

__all__ = ["serve_watch"]

_MAX_BUFFERED = 8 * 1024 * 1024
_DEFAULT_TIMEOUT = 1800.0
"""Seconds a watch without `timeoutSeconds` lasts."""


def _table_encoder(rt: ResourceType, include: str) -> Callable[[str, Entry], bytes]:
    """Frames holding one-row Tables; only the first carries the column definitions."""
    first = [True]

    def encoder(as_type: str, entry: Entry) -> bytes:
        table = table_for(rt, [entry.obj], str(entry.rv), include, headers=first[0])
        first[0] = False
        return frame(as_type, dumps(table))

    return encoder


def _view_encoder(rt: ResourceType) -> Callable[[str, Entry], bytes]:
    """Frames holding objects converted to the view `rt` serves (e.g. events.k8s.io/v1)."""

    def encoder(as_type: str, entry: Entry) -> bytes:
        return frame(as_type, dumps(from_storage(rt, entry.obj)))

    return encoder


def _bookmark(rt: ResourceType, meta: dict[str, Any]) -> bytes:
    """A BOOKMARK frame: an object of the watched kind that carries only metadata."""
    mark = {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": meta}
    return dumps({"type": "BOOKMARK", "object": mark}) + b"\n"


class _ChunkSink:
    """Writes frames as HTTP chunks straight to the connection, one write per loop turn.

    The response was prepared with chunked encoding and nothing else writes to it until the
    watch ends, so framing the chunk here keeps the stream well-formed. Frames offered while
    the loop runs other callbacks are joined into one chunk written at the next turn (one
    `transport.write`, i.e. one TLS record and one syscall, per watcher per turn instead of
    per event). Calling it returns False once the client has fallen more than 8 MiB behind
    or gone away.
    """

    __slots__ = ("_framed", "_pending", "_size", "_transport")

    def __init__(self, request: web.Request) -> None:
        self._transport = request.transport
        self._framed = not isinstance(self._transport, Channel)
        """An in-process request (`sandbox.inprocess`) takes frames without chunk framing."""
        self._pending: list[bytes] = []
        self._size = 0

    def __call__(self, frame: bytes) -> bool:
        transport = self._transport
        if transport is None or transport.is_closing():
            return False
        if not self._pending:
            asyncio.get_running_loop().call_soon(self.flush)
        self._pending.append(frame)
        self._size += len(frame)
        return self._size + transport.get_write_buffer_size() < _MAX_BUFFERED

    def flush(self) -> None:
        """Write what is pending as one chunk (also called when the stream ends)."""
        if not self._pending:
            return
        data = b"".join(self._pending)
        self._pending.clear()
        self._size = 0
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        if self._framed:
            transport.write(b"%x\r\n%b\r\n" % (len(data), data))
        else:
            transport.write_raw(data)  # type: ignore[attr-defined]


async def serve_watch(
    request: web.Request,
    *,
    store: Store,
    rt: ResourceType,
    stored_rt: ResourceType,
    selector: Selector,
    faults: Faults,
    bookmark_interval: float,
    convert: Callable[[bytes], Awaitable[bytes]] | None = None,
) -> web.StreamResponse:
    """Answer a `?watch=true` request (see the module docstring).

    `rt` is the resource asked for; `stored_rt` the one whose objects it serves (the same
    unless `rt` is a converted view such as events.k8s.io/v1 Events). `convert`, for a
    custom resource watched at a version other than its storage version, converts frames
    (possibly through a conversion webhook): frames are then queued and written by this task.
    """
    q = request.query
    rv_param = q.get("resourceVersion", "")
    try:
        since = None if rv_param in ("", "0") else int(rv_param)
    except ValueError:
        raise errors.bad_request(f'invalid resource version "{rv_param}"') from None
    # watch-list (sendInitialEvents=true): replay the current objects, then mark their end
    initial_events = q.get("sendInitialEvents") in TRUE
    if initial_events:
        since = None
    timeout = float(q.get("timeoutSeconds") or _DEFAULT_TIMEOUT)
    fs = faults.settings
    if fs.watch_drop_seconds:
        timeout = min(timeout, fs.watch_drop_seconds)
    bookmarks = q.get("allowWatchBookmarks") in TRUE
    encoder = None
    if wants_table(request):
        encoder = _table_encoder(stored_rt, q.get("includeObject", "Metadata"))
    elif converts(rt):
        encoder = _view_encoder(rt)
    gone_status: dict[str, Any] | None = None
    sink: _ChunkSink | None = None
    try:
        if fs.watch_gone and since is not None:
            raise errors.gone(f"too old resource version: {since} (injected fault)")
        watcher, initial = store.watch(rt.store_key, selector, since, encoder)
    except errors.ApiError as exc:
        if exc.code != 410:
            raise
        gone_status = exc.body()
    resp = web.StreamResponse(
        headers={"Content-Type": "application/json", "Cache-Control": "no-cache"}
    )
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    if gone_status is not None:
        await resp.write(dumps({"type": "ERROR", "object": gone_status}) + b"\n")
        return resp
    try:
        pending = b"".join(initial)
        if initial_events:
            # the bookmark that tells a watch-list client its initial state is complete
            end = {"k8s.io/initial-events-end": "true"}
            pending += _bookmark(rt, {"resourceVersion": str(store.rv), "annotations": end})
        pending += watcher.drain()
        if convert is not None:
            pending = await convert(pending)
        if pending:
            await resp.write(pending)
        if convert is None:
            sink = _ChunkSink(request)
            watcher.sink = sink
        watcher.last_sent = time.monotonic()
        deadline = time.monotonic() + timeout
        while not (watcher.closed or watcher.overflowed):
            now = time.monotonic()
            if now >= deadline:
                break
            wait = deadline - now
            if bookmarks:
                wait = min(wait, max(0.0, watcher.last_sent + bookmark_interval - now))
            await watcher.wait(wait)
            if convert is not None and watcher.frames:
                await resp.write(await convert(watcher.drain()))
                watcher.last_sent = time.monotonic()
            idle = time.monotonic() - watcher.last_sent
            if bookmarks and not watcher.closed and idle >= bookmark_interval:
                watcher.push(_bookmark(rt, {"resourceVersion": str(store.rv)}))
    except ConnectionResetError:
        pass
    finally:
        store.unwatch(rt.store_key, watcher)
        watcher.sink = None
        if sink is not None:
            sink.flush()
    return resp
