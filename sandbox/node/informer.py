"""List+watch loops that keep a local cache of one resource and report every change.

Invariants: the cache reflects the server as of the last event seen, plus our own writes
(``remember``/``forget``) so a controller never acts on a view older than what it wrote;
an event older than the cached object (by resourceVersion, a counter in the sandbox) is
ignored. A re-list reports every listed object whose resourceVersion differs from the one the
handler last saw (not the cached one: ``remember`` caches our own writes without an event, and
their watch event may be lost to a cut stream and a 410). A 410 re-lists, a broken stream reconnects after a short backoff. No polling: the
only sleeps are the reconnect backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from sandbox.node.client import ApiClient, ApiError, Gone, Resource

__all__ = ["Informer", "Key", "key_of"]

log = logging.getLogger(__name__)

Body = dict[str, Any]
Key = tuple[str, str]
"""(namespace, name)."""

Handler = Callable[[str, Body], None]
"""Called with the event type (ADDED, MODIFIED, DELETED) and the object."""


def key_of(obj: Body) -> Key:
    """(namespace, name) of an object."""
    meta = obj.get("metadata", {})
    return str(meta.get("namespace", "")), str(meta.get("name", ""))


def _rv(obj: Body) -> int:
    try:
        return int(obj.get("metadata", {}).get("resourceVersion", ""))
    except ValueError:
        return -1


class Informer:
    """Cache + list/watch loop for one resource across all namespaces."""

    def __init__(self, client: ApiClient, resource: Resource, handler: Handler) -> None:
        self._client = client
        self.resource = resource
        self._handler = handler
        self._cache: dict[Key, Body] = {}
        self._by_owner: dict[str, set[Key]] = {}
        self._delivered: dict[Key, int] = {}  # resourceVersion the handler last saw, per key
        self.synced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the loop in the background."""
        self._task = asyncio.create_task(self._run(), name=f"informer-{self.resource.plural}")

    async def stop(self) -> None:
        """Cancel the loop and wait for it."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def get(self, key: Key) -> Body | None:
        """The cached object, or None."""
        return self._cache.get(key)

    def owned_by(self, uid: str) -> list[Body]:
        """Cached objects whose controller ownerReference has this uid."""
        keys = self._by_owner.get(uid, set())
        return [self._cache[k] for k in sorted(keys) if k in self._cache]

    def remember(self, obj: Body) -> bool:
        """Cache an object unless the cached one is newer; also our own writes, at once
        (read-your-writes). Whether it was stored."""
        key = key_of(obj)
        old = self._cache.get(key)
        if old is not None and 0 <= _rv(obj) < _rv(old):
            return False
        if old is not None:
            self._unindex(key, old)
        self._cache[key] = obj
        for uid in _owner_uids(obj):
            self._by_owner.setdefault(uid, set()).add(key)
        return True

    def forget(self, key: Key) -> None:
        """Drop an object (one we deleted, or one reported deleted)."""
        old = self._cache.pop(key, None)
        if old is not None:
            self._unindex(key, old)

    def _unindex(self, key: Key, obj: Body) -> None:
        for uid in _owner_uids(obj):
            keys = self._by_owner.get(uid)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_owner[uid]

    def _emit(self, kind: str, obj: Body) -> None:
        if kind == "DELETED":
            self._delivered.pop(key_of(obj), None)
        else:
            self._delivered[key_of(obj)] = _rv(obj)
        try:
            self._handler(kind, obj)
        except Exception:  # a bad handler must not kill the watch
            log.exception("handler of %s failed", self.resource.plural)

    async def _relist(self) -> str:
        items, rv = await self._client.list(self.resource)
        seen = {key_of(i) for i in items}
        for key, gone in [(k, o) for k, o in self._cache.items() if k not in seen]:
            self.forget(key)
            self._emit("DELETED", gone)
        for item in items:
            key = key_of(item)
            old = self._cache.get(key)
            if old is not None and self._delivered.get(key, -1) == _rv(item) >= 0:
                continue  # the handler saw this version already: no event
            if self.remember(item):
                self._emit("ADDED" if key not in self._delivered else "MODIFIED", item)
        self.synced.set()
        return rv

    async def _run(self) -> None:
        rv = ""
        backoff = 0.05
        gone = 0
        while True:
            try:
                if not rv:
                    rv = await self._relist()
                async for event in self._client.watch(self.resource, rv):
                    backoff, gone = 0.05, 0
                    new_rv = event.object.get("metadata", {}).get("resourceVersion")
                    if new_rv:
                        rv = str(new_rv)
                    if event.type == "BOOKMARK":
                        continue
                    if event.type == "DELETED":
                        self.forget(key_of(event.object))
                        self._emit("DELETED", event.object)
                    elif self.remember(event.object):
                        self._emit(event.type, event.object)
            except Gone:
                rv = ""
                # Re-list at once, but do not spin if every fresh watch is refused.
                if gone:
                    await asyncio.sleep(min(0.01 * 2**gone, 1.0))
                gone += 1
            except ApiError as exc:
                log.debug("watch of %s broke: %s", self.resource.plural, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)


def _owner_uids(obj: Body) -> list[str]:
    refs = obj.get("metadata", {}).get("ownerReferences") or []
    return [str(r.get("uid")) for r in refs if r.get("controller")]
