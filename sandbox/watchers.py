"""Watch plumbing: stored entries, change events and the per-client watchers they fan out to.

Invariants: an `Entry` is immutable and carries its JSON once (`raw`); a `WatchEvent` builds
each `{"type":..., "object":...}` frame at most once and every watcher shares it; a
`Watcher` applies its selector (turning label transitions into ADDED/DELETED as the real
server does) and, once its stream is open, writes frames straight to the connection through
its `sink`, so fan-out costs no task wake-up per watcher. No HTTP parsing here.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox import jsonio
from sandbox.selectors import Selector

__all__ = ["Encoder", "Entry", "WatchEvent", "Watcher", "dumps", "frame"]


dumps = jsonio.dumps
"""Compact JSON, the wire format of every stored object."""


class Entry:
    """One stored object version: its JSON (`raw`), resourceVersion and the parsed dict.

    The dict (`obj`, read-only by convention) is kept while the version is current; the
    store calls `compact` once a newer version replaces it, so the versions that only the
    watch history still holds cost their JSON alone (parsed again if a replay needs them)."""

    __slots__ = ("_obj", "name", "namespace", "raw", "rv")

    def __init__(self, obj: dict[str, Any], raw: bytes, rv: int) -> None:
        self._obj: dict[str, Any] | None = obj
        self.raw = raw
        self.rv = rv
        meta = obj["metadata"]
        self.namespace = str(meta.get("namespace", ""))
        self.name = str(meta["name"])

    @property
    def obj(self) -> dict[str, Any]:
        obj = self._obj
        if obj is None:
            obj = self._obj = jsonio.loads(self.raw)
        return obj

    def compact(self) -> None:
        """Drop the parsed dict (the JSON stays)."""
        self._obj = None


@dataclass(slots=True)
class WatchEvent:
    """A change: `type` ADDED/MODIFIED/DELETED, the new (or last) entry and the previous one."""

    rv: int
    type: str
    entry: Entry
    old: Entry | None = None
    _frames: dict[str, bytes] = field(default_factory=dict)

    def frame(self, as_type: str) -> bytes:
        """`{"type":..., "object":...}` plus newline, built once per type and shared."""
        cached = self._frames.get(as_type)
        if cached is None:
            cached = frame(as_type, self.entry.raw)
            self._frames[as_type] = cached
        return cached

    def drop_frames(self) -> None:
        """Forget the frames built for the fan-out (the history keeps only the entry)."""
        if self._frames:
            self._frames = {}


def frame(as_type: str, raw: bytes) -> bytes:
    """One watch line: `{"type":..., "object":...}` and a newline, around an object's JSON."""
    return b'{"type":"' + as_type.encode() + b'","object":' + raw + b"}\n"


Encoder = Callable[[str, Entry], bytes]


@dataclass(slots=True, eq=False)
class Watcher:
    """One open watch: its selector and a queue of frames the HTTP handler drains."""

    selector: Selector
    encoder: Encoder | None = None
    limit: int = 20000
    frames: deque[bytes] = field(default_factory=deque)
    overflowed: bool = False
    closed: bool = False
    sink: Callable[[bytes], bool] | None = None
    """Once the stream is open, frames go straight to the connection through this
    (no task wake-up per watcher); it returns False when the client is too far behind."""
    last_sent: float = 0.0
    _waiter: asyncio.Future[None] | None = None

    def offer(self, event: WatchEvent) -> None:
        """Queue the event as this watcher sees it (selector transitions become ADDED/DELETED)."""
        sel = self.selector
        now = sel.matches(event.entry.obj)
        if event.type == "MODIFIED" and event.old is not None and not sel.trivial:
            before = sel.matches(event.old.obj)
            if now and not before:
                as_type = "ADDED"
            elif before and not now:
                as_type = "DELETED"
            elif now:
                as_type = "MODIFIED"
            else:
                return
        elif now:
            as_type = event.type
        else:
            return
        frame = self.encoder(as_type, event.entry) if self.encoder else event.frame(as_type)
        self.push(frame)

    def push(self, frame: bytes) -> None:
        sink = self.sink
        if sink is not None:
            self.last_sent = time.monotonic()
            if not sink(frame):
                self.overflowed = True
                self.close()
            return
        if len(self.frames) >= self.limit:
            # A client this far behind is dropped; it re-lists like after any broken watch.
            self.overflowed = True
        self.frames.append(frame)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def close(self) -> None:
        self.closed = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait(self, seconds: float) -> None:
        """Wait until a frame is queued, the watch is closed or `seconds` pass."""
        if self.frames or self.closed:
            return
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await asyncio.wait_for(self._waiter, seconds)
        except TimeoutError:
            pass
        finally:
            self._waiter = None

    def drain(self) -> bytes:
        out = b"".join(self.frames)
        self.frames.clear()
        return out
