"""Informer: list, then watch, into an indexed in-memory cache, calling handlers on changes.

The loop (kopf's ``watching.py`` and client-go's reflector):

    list -> replace the cache (diffing: ADDED / MODIFIED / DELETED for what changed) -> synced
    watch from the list's resourceVersion, bookmarks on, server timeout 300 s +0..10% jitter
      stream ends (server timeout)  -> watch again from the last resourceVersion seen
      410 Gone                      -> list again; deletes missed in the gap are delivered
      any other error               -> jittered exponential backoff, then watch again
                                       (list again if the error was on the list)
    Rounds that make no progress (an error, a 410 right after a list, an empty stream that
    closed within 1 s) grow the backoff; any delivered event resets it.

Invariants: cached objects are shared with every handler and reader and must never be
mutated (copy before editing); the cache only changes inside this loop, before handlers
run, so a handler always sees the new state in the cache; handlers get
``(event_type, obj, old_obj)`` with event_type ADDED, MODIFIED or DELETED, never BOOKMARK;
a handler's exception is logged and never stops the informer; every watch stream is closed
(``aclosing``). ``synced`` is set after the first complete list and never cleared. Handlers
are plain callables that must not block (they enqueue keys); the informer never calls the
API other than list and watch. Each object goes through the informer's ``transform`` (by
default ``transforms.strip_managed_fields``) before it is cached or handed to a handler, so
the cache holds only what its readers use.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
import random
from collections.abc import Callable, Iterable, Iterator

from lifecycle.core.meta import owner_uids
from lifecycle.core.model import ResourceKind
from lifecycle.kube.client import Body, KubeClient
from lifecycle.kube.errors import Gone, KubeError
from lifecycle.kube.transforms import Transform, strip_managed_fields

__all__ = ["Handler", "IndexFn", "Informer", "Informers", "Store", "owner_uids"]

log = logging.getLogger(__name__)

Handler = Callable[[str, Body, Body | None], None]
IndexFn = Callable[[Body], Iterable[str]]
_Ref = tuple[str, str]  # (namespace, name)


class _Many(dict[_Ref, Body]):
    """An index key's objects by ref, when it has several."""

    __slots__ = ()


# An index key's objects: one (most keys: an owner's or a version's uid) is held as itself,
# several in a _Many (a one-entry dict would cost 224 bytes for every object of thousands).
_Bucket = Body | _Many


def _ref(obj: Body) -> _Ref:
    meta = obj.get("metadata") or {}
    return (meta.get("namespace") or "", meta.get("name") or "")


class Store:
    """The cache: objects by (namespace, name), plus secondary indexes by key function."""

    def __init__(self, indexes: dict[str, IndexFn] | None = None) -> None:
        self._objects: dict[_Ref, Body] = {}
        self._index_fns: dict[str, IndexFn] = dict(indexes or {})
        self._indexes: dict[str, dict[str, _Bucket]] = {n: {} for n in self._index_fns}

    def __len__(self) -> int:
        return len(self._objects)

    def get(self, namespace: str | None, name: str) -> Body | None:
        """The cached object, or None."""
        return self._objects.get((namespace or "", name))

    def list(self, namespace: str | None = None) -> list[Body]:
        """All cached objects, or those of one namespace."""
        if namespace is None:
            return list(self._objects.values())
        return [o for (ns, _), o in self._objects.items() if ns == namespace]

    def by_index(self, name: str, key: str) -> builtins.list[Body]:
        """Objects whose index function ``name`` yielded ``key``."""
        bucket = self._indexes[name].get(key)
        if bucket is None:
            return []
        return list(bucket.values()) if isinstance(bucket, _Many) else [bucket]

    def index_keys(self, name: str) -> builtins.list[str]:
        return list(self._indexes[name])

    def upsert(self, obj: Body) -> Body | None:
        """Store ``obj``; returns the previous version."""
        ref = _ref(obj)
        old = self._objects.get(ref)
        if old is not None:
            self._unindex(ref, old)
        self._objects[ref] = obj
        for name, fn in self._index_fns.items():
            self._index_one(name, fn, ref, obj)
        return old

    def remove(self, obj: Body) -> Body | None:
        """Drop the object with ``obj``'s namespace/name; returns what was cached."""
        ref = _ref(obj)
        old = self._objects.pop(ref, None)
        if old is not None:
            self._unindex(ref, old)
        return old

    def _index_one(self, name: str, fn: IndexFn, ref: _Ref, obj: Body) -> None:
        try:
            keys = list(fn(obj))
        except Exception:
            log.exception("index %s failed on %s/%s", name, *ref)
            return
        idx = self._indexes[name]
        for key in keys:
            bucket = idx.get(key)
            if isinstance(bucket, _Many):
                bucket[ref] = obj
            elif bucket is None or _ref(bucket) == ref:
                idx[key] = obj
            else:
                idx[key] = _Many({_ref(bucket): bucket, ref: obj})

    def _unindex(self, ref: _Ref, obj: Body) -> None:
        for name, fn in self._index_fns.items():
            try:
                keys = list(fn(obj))
            except Exception:
                continue
            idx = self._indexes[name]
            for key in keys:
                bucket = idx.get(key)
                if isinstance(bucket, _Many):
                    bucket.pop(ref, None)
                    if len(bucket) == 1:
                        idx[key] = next(iter(bucket.values()))
                    elif not bucket:
                        del idx[key]
                elif bucket is not None and _ref(bucket) == ref:
                    del idx[key]


def _rv(obj: Body) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion", ""))


class Informer:
    """List+watch of one kind (optionally one namespace / selector) into a Store."""

    def __init__(
        self,
        client: KubeClient,
        kind: ResourceKind,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        indexes: dict[str, IndexFn] | None = None,
        timeout_seconds: int = 300,
        backoff_base: float = 0.2,
        backoff_max: float = 30.0,
        page_size: int | None = 500,
        transform: Transform | None = strip_managed_fields,
    ) -> None:
        self.client = client
        self._transform = transform
        self.kind = kind
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.store = Store(indexes)
        self.synced = asyncio.Event()
        self.resource_version = ""
        self.lists = 0
        self.watches = 0
        self._timeout = timeout_seconds
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._page_size = page_size
        self._handlers: list[Handler] = []
        self._task: asyncio.Task[None] | None = None
        self._delivered = False

    def add_handler(self, fn: Handler) -> None:
        """Call ``fn(event_type, obj, old_obj)`` on each ADDED/MODIFIED/DELETED."""
        self._handlers.append(fn)

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> asyncio.Task[None]:
        """Run the informer as a task (idempotent)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run(), name=f"informer-{self.kind.plural}")
        return self._task

    async def stop(self) -> None:
        """Cancel the loop and wait for it (the open stream is closed on the way out)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def wait_synced(self) -> None:
        """Wait for the first complete list (wrap in ``asyncio.timeout`` to bound it)."""
        await self.synced.wait()

    async def run(self) -> None:
        """List and watch until cancelled."""
        # ``failures`` counts rounds in a row without progress (a stream that delivered
        # something); a round after a failure first sleeps a jittered, growing delay, so a
        # server that keeps answering 410 or dropping streams at once is not hammered.
        # The first 410 after progress re-lists at once.
        failures = 0
        need_list = True
        while True:
            if failures:
                await asyncio.sleep(self._delay(failures))
            self._delivered = False
            listed = need_list
            try:
                if need_list:
                    await self._list()
                    need_list = False
                started = asyncio.get_running_loop().time()
                await self._watch()
                quick = asyncio.get_running_loop().time() - started < 1.0
                failures = 0 if self._delivered or not quick else failures + 1
            except asyncio.CancelledError:
                raise
            except Gone:
                log.info(
                    "%s: resourceVersion %s gone, re-listing",
                    self.kind.plural,
                    self.resource_version,
                )
                need_list = True
                # A 410 right after a fresh list counts as a failure; after progress it does not.
                failures = failures + 1 if listed and not self._delivered else 0
            except KubeError as exc:
                failures = 1 if self._delivered else failures + 1
                log.warning(
                    "%s: API error, retry in ~%.2fs: %s",
                    self.kind.plural,
                    self._delay(failures),
                    exc,
                )
            except Exception:
                failures = 1 if self._delivered else failures + 1
                log.exception("%s: informer error, re-listing", self.kind.plural)
                need_list = True

    def _delay(self, failures: int) -> float:
        base = min(self._backoff_base * 2.0 ** (failures - 1), self._backoff_max)
        return base * random.uniform(0.5, 1.0)

    async def _list(self) -> None:
        items, rv = await self.client.list(
            self.kind,
            self.namespace,
            label_selector=self.label_selector,
            field_selector=self.field_selector,
            limit=self._page_size,
        )
        self.lists += 1
        seen: set[_Ref] = set()
        if self._transform is not None:
            items = [self._transform(obj) for obj in items]
        for obj in items:
            seen.add(_ref(obj))
            old = self.store.upsert(obj)
            if old is None:
                self._dispatch("ADDED", obj, None)
            elif _rv(old) != _rv(obj):
                self._dispatch("MODIFIED", obj, old)
        for obj in self.store.list():
            if _ref(obj) not in seen:
                self.store.remove(obj)
                self._dispatch("DELETED", obj, obj)
        self.resource_version = rv
        self.synced.set()

    async def _watch(self) -> None:
        """One watch stream, until the server ends it; sets ``_delivered`` on any event."""
        self.watches += 1
        timeout = int(self._timeout * random.uniform(1.0, 1.1))
        stream = self.client.watch(
            self.kind,
            self.namespace,
            resource_version=self.resource_version or None,
            label_selector=self.label_selector,
            field_selector=self.field_selector,
            timeout_seconds=timeout,
            allow_bookmarks=True,
        )
        async with contextlib.aclosing(stream) as events:
            async for etype, obj in events:
                self._delivered = True
                rv = _rv(obj)
                if etype == "BOOKMARK":
                    if rv:
                        self.resource_version = rv
                    continue
                if self._transform is not None:
                    obj = self._transform(obj)
                if etype in ("ADDED", "MODIFIED"):
                    old = self.store.upsert(obj)
                    self._dispatch("MODIFIED" if old is not None else "ADDED", obj, old)
                elif etype == "DELETED":
                    old = self.store.remove(obj)
                    self._dispatch("DELETED", obj, old)
                if rv:
                    self.resource_version = rv

    def _dispatch(self, etype: str, obj: Body, old: Body | None) -> None:
        for fn in self._handlers:
            try:
                fn(etype, obj, old)
            except Exception:
                log.exception("%s: handler failed on %s %s/%s", self.kind.plural, etype, *_ref(obj))


class Informers:
    """One Informer per (kind, namespace, label selector) on one client, shared by controllers.

    ``namespace`` scopes every namespaced kind (None watches all namespaces); informers asked
    for after ``start()`` start at once. Readiness (``/readyz``) is ``synced()``.
    """

    def __init__(
        self, client: KubeClient, *, namespace: str | None = None, timeout_seconds: int = 300
    ) -> None:
        self.client = client
        self.namespace = namespace
        self._timeout = timeout_seconds
        self._informers: dict[tuple[ResourceKind, str | None, str | None], Informer] = {}
        self._started = False

    def get(self, kind: ResourceKind, *, label_selector: str | None = None) -> Informer:
        """The shared informer for ``kind`` (created on first use)."""
        ns = self.namespace if kind.namespaced else None
        key = (kind, ns, label_selector)
        inf = self._informers.get(key)
        if inf is None:
            inf = Informer(
                self.client,
                kind,
                namespace=ns,
                label_selector=label_selector,
                timeout_seconds=self._timeout,
            )
            self._informers[key] = inf
            if self._started:
                inf.start()
        return inf

    def __iter__(self) -> Iterator[Informer]:
        return iter(list(self._informers.values()))

    def start(self) -> None:
        self._started = True
        for inf in self._informers.values():
            inf.start()

    def synced(self) -> bool:
        return all(inf.synced.is_set() for inf in self._informers.values())

    async def wait_synced(self) -> None:
        """Wait until every informer has listed once."""
        await asyncio.gather(*(inf.synced.wait() for inf in self._informers.values()))

    async def stop(self) -> None:
        await asyncio.gather(*(inf.stop() for inf in self._informers.values()))
        self._started = False
