"""The object store: objects per resource, a global resourceVersion, watch history and fan-out.

Invariants:
- every write takes the next value of one global counter as its resourceVersion;
- a stored object (`Entry.obj`) is never mutated; writers build a new dict. `Entry.raw` is its
  JSON, serialised once and reused for get, list and every watcher (no copy per watcher);
- each bucket (one per group/plural) keeps its last `history` events; a watch from an older
  resourceVersion gets 410 Gone, as from a compacted etcd;
- fan-out is synchronous: when `put`/`remove` returns, every matching watcher has the event
  queued, so a bookmark taken afterwards never skips one.
This module knows nothing about HTTP, admission or API semantics (see `sandbox.verbs`).
"""

from __future__ import annotations

import asyncio
import bisect
import builtins
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from sandbox import jsonio
from sandbox.errors import gone
from sandbox.objectmeta import check_object_size
from sandbox.selectors import Selector
from sandbox.watchers import Encoder, Entry, Watcher, WatchEvent, dumps

# Entry, WatchEvent, Watcher and dumps are re-exported: callers know them as store types.
__all__ = ["Bucket", "Entry", "Persistence", "Store", "WatchEvent", "Watcher", "dumps"]


@dataclass(slots=True)
class Bucket:
    """The objects of one group/plural, by namespace then name, plus watch history."""

    key: str
    history_size: int
    items: dict[str, dict[str, Entry]] = field(default_factory=dict)
    history: deque[WatchEvent] = field(default_factory=deque)
    compacted_rv: int = 0
    """Events up to and including this resourceVersion are no longer kept."""
    last_rv: int = 0
    """The resourceVersion of the last change (callers cache what they derive from it)."""
    watchers: set[Watcher] = field(default_factory=set)
    _sorted: dict[str, list[str]] = field(default_factory=dict)
    """Sorted names per namespace, rebuilt only after a name is added or removed."""

    def names(self, namespace: str) -> list[str]:
        cached = self._sorted.get(namespace)
        if cached is None:
            cached = self._sorted[namespace] = sorted(self.items.get(namespace, ()))
        return cached

    def forget_order(self, namespace: str) -> None:
        self._sorted.pop(namespace, None)

    def ordered(
        self, namespace: str | None, after: tuple[str, str] | None = None
    ) -> Iterator[Entry]:
        """Entries in (namespace, name) order, starting after `after` when given."""
        spaces = [namespace] if namespace is not None else sorted(self.items)
        for ns in spaces:
            if after is not None and ns < after[0]:
                continue
            by_name = self.items.get(ns)
            if not by_name:
                continue
            names = self.names(ns)
            start = (
                bisect.bisect_right(names, after[1]) if after is not None and ns == after[0] else 0
            )
            for i in range(start, len(names)):
                yield by_name[names[i]]

    def publish(self, event: WatchEvent) -> None:
        self.last_rv = event.rv
        self.history.append(event)
        if len(self.history) > self.history_size:
            self.compacted_rv = self.history.popleft().rv
        for w in tuple(self.watchers):
            w.offer(event)
        # the history keeps the event, not its frames (a replay builds them again), and an
        # older version's JSON, not its parsed dict
        event.drop_frames()
        if event.old is not None:
            event.old.compact()

    def entries(self, namespace: str | None) -> Iterator[Entry]:
        if namespace is not None:
            yield from self.items.get(namespace, {}).values()
            return
        for by_name in self.items.values():
            yield from by_name.values()


class Persistence(Protocol):
    """Where a durable store writes through (see `sandbox.persistence`)."""

    def save(self, key: str, namespace: str, name: str, raw: bytes, rv: int) -> None: ...
    def delete(self, key: str, namespace: str, name: str, rv: int) -> None: ...
    def save_log(self, namespace: str, pod: str, container: str, text: str) -> None: ...
    def load(self) -> tuple[int, list[tuple[str, bytes]], list[tuple[str, str, str, str]]]: ...
    def close(self) -> None: ...


class Store:
    """All objects, the global resourceVersion and the pod logs."""

    def __init__(self, *, history: int = 1000, persistence: Persistence | None = None) -> None:
        self.rv = 0
        self.history_size = history
        self.buckets: dict[str, Bucket] = {}
        self.by_uid: dict[str, tuple[str, str, str]] = {}
        self.dependents: dict[str, set[str]] = {}
        """owner uid -> uids of objects whose ownerReferences name it."""
        self.logs: dict[tuple[str, str, str], str] = {}
        self.log_waiters: dict[tuple[str, str], set[asyncio.Event]] = {}
        self.persistence = persistence
        self.listeners: list[Callable[[str, WatchEvent], None]] = []
        if persistence is not None:
            self._load(persistence)

    def _load(self, persistence: Persistence) -> None:
        rv, objects, logs = persistence.load()
        for key, raw in objects:
            obj = jsonio.loads(raw)
            entry = Entry(obj, raw, int(obj["metadata"].get("resourceVersion", "0") or 0))
            self._index(key, entry, None)
        self.rv = rv
        for bucket in self.buckets.values():
            bucket.compacted_rv = rv
        for ns, pod, container, text in logs:
            self.logs[(ns, pod, container)] = text

    def bucket(self, key: str) -> Bucket:
        b = self.buckets.get(key)
        if b is None:
            b = self.buckets[key] = Bucket(key, self.history_size)
        return b

    def get(self, key: str, namespace: str, name: str) -> Entry | None:
        b = self.buckets.get(key)
        if b is None:
            return None
        return b.items.get(namespace, {}).get(name)

    def get_by_uid(self, uid: str) -> tuple[str, Entry] | None:
        loc = self.by_uid.get(uid)
        if loc is None:
            return None
        entry = self.get(*loc)
        return (loc[0], entry) if entry is not None else None

    def list(self, key: str, selector: Selector) -> builtins.list[Entry]:
        """Matching entries in (namespace, name) order, like etcd's key order."""
        return self.page(key, selector)[0]

    def page(
        self, key: str, selector: Selector, limit: int = 0, after: tuple[str, str] | None = None
    ) -> tuple[builtins.list[Entry], bool]:
        """Up to `limit` (0 = all) matching entries after `after`, and whether more exist.

        Stops at the first match past the limit, so paging costs what the page costs.
        """
        b = self.buckets.get(key)
        if b is None:
            return [], False
        out: builtins.list[Entry] = []
        trivial = selector.trivial
        for e in b.ordered(selector.namespace, after):
            if trivial or selector.matches(e.obj):
                if limit and len(out) == limit:
                    return out, True
                out.append(e)
        return out, False

    def next_rv(self) -> int:
        self.rv += 1
        return self.rv

    def put(self, key: str, obj: dict[str, Any], event_type: str) -> Entry:
        """Store `obj` (its metadata.resourceVersion gets the next global value) and publish.

        An object whose JSON exceeds etcd's request limit is refused (`check_object_size`)."""
        obj["metadata"]["resourceVersion"] = str(self.rv + 1)
        raw = dumps(obj)
        check_object_size(len(raw))
        rv = self.next_rv()
        entry = Entry(obj, raw, rv)
        old = self._index(key, entry, event_type)
        if self.persistence is not None:
            self.persistence.save(key, entry.namespace, entry.name, entry.raw, rv)
        self._publish(key, WatchEvent(rv, event_type, entry, old))
        return entry

    def _publish(self, key: str, event: WatchEvent) -> None:
        """Fan the change out to watchers, `pods/log` followers and listeners (GC, caches)."""
        self.bucket(key).publish(event)
        if key == "pods" and self.log_waiters:
            self.notify_log(event.entry.namespace, event.entry.name)
        for listener in self.listeners:
            listener(key, event)

    def _index(self, key: str, entry: Entry, event_type: str | None) -> Entry | None:
        b = self.bucket(key)
        by_name = b.items.setdefault(entry.namespace, {})
        old = by_name.get(entry.name)
        if old is None:
            b.forget_order(entry.namespace)
        by_name[entry.name] = entry
        meta = entry.obj["metadata"]
        uid = meta.get("uid")
        if uid:
            self.by_uid[uid] = (key, entry.namespace, entry.name)
            old_owners = (
                {r.get("uid") for r in (old.obj["metadata"].get("ownerReferences") or [])}
                if old
                else set()
            )
            new_owners = {r.get("uid") for r in (meta.get("ownerReferences") or [])}
            for gone_owner in old_owners - new_owners:
                self.dependents.get(gone_owner, set()).discard(uid)
            for owner in new_owners:
                self.dependents.setdefault(owner, set()).add(uid)
        return old

    def remove(self, key: str, namespace: str, name: str) -> Entry | None:
        """Delete the object; the DELETED event carries its last state with a new resourceVersion."""
        b = self.buckets.get(key)
        if b is None or name not in b.items.get(namespace, {}):
            return None
        last = b.items[namespace].pop(name)
        b.forget_order(namespace)
        if not b.items[namespace]:
            del b.items[namespace]
        rv = self.next_rv()
        obj = dict(last.obj)
        obj["metadata"] = dict(obj["metadata"], resourceVersion=str(rv))
        entry = Entry(obj, dumps(obj), rv)
        uid = obj["metadata"].get("uid")
        if uid:
            self.by_uid.pop(uid, None)
            for ref in obj["metadata"].get("ownerReferences") or []:
                self.dependents.get(ref.get("uid"), set()).discard(uid)
        if self.persistence is not None:
            self.persistence.delete(key, namespace, name, rv)
        if key == "pods":
            for log_key in [k for k in self.logs if k[0] == namespace and k[1] == name]:
                del self.logs[log_key]
        self._publish(key, WatchEvent(rv, "DELETED", entry, last))
        return entry

    def watch(
        self, key: str, selector: Selector, since: int | None, encoder: Encoder | None = None
    ) -> tuple[Watcher, builtins.list[bytes]]:
        """Open a watcher. `since=None` replays current objects as ADDED; otherwise history after it.

        Raises 410 Gone when `since` is older than the kept history.
        """
        b = self.bucket(key)
        w = Watcher(selector, encoder)
        initial: builtins.list[bytes] = []
        if since is None:
            for e in self.list(key, selector):
                initial.append(
                    encoder("ADDED", e) if encoder else WatchEvent(e.rv, "ADDED", e).frame("ADDED")
                )
        else:
            if since < b.compacted_rv:
                raise gone(f"too old resource version: {since} ({b.compacted_rv + 1})")
            for event in b.history:
                if event.rv > since:
                    w.offer(event)
            initial = list(w.frames)
            w.frames.clear()
        b.watchers.add(w)
        return w, initial

    def unwatch(self, key: str, watcher: Watcher) -> None:
        self.bucket(key).watchers.discard(watcher)

    def close_watchers(self, key: str | None = None) -> int:
        """Close open watches (all, or one bucket's); used by fault injection and shutdown."""
        n = 0
        for bkey, b in self.buckets.items():
            if key is None or bkey == key:
                for w in tuple(b.watchers):
                    w.close()
                    n += 1
        return n

    # Pod logs: the node agent stores container output here; pods/log serves it.
    def set_pod_log(self, namespace: str, pod: str, text: str, container: str = "") -> None:
        """Replace the log of a pod's container ("" = the pod's only/first container)."""
        self.logs[(namespace, pod, container)] = text
        if self.persistence is not None:
            self.persistence.save_log(namespace, pod, container, text)
        self.notify_log(namespace, pod)

    def notify_log(self, namespace: str, pod: str) -> None:
        """Wake `kubectl logs -f` streams of this pod (its log or its status changed)."""
        for event in self.log_waiters.get((namespace, pod), ()):
            event.set()

    def append_pod_log(self, namespace: str, pod: str, text: str, container: str = "") -> None:
        """Append to a pod container's log."""
        self.set_pod_log(
            namespace, pod, self.logs.get((namespace, pod, container), "") + text, container
        )

    def pod_log(self, namespace: str, pod: str, container: str = "") -> str | None:
        if (namespace, pod, container) in self.logs:
            return self.logs[(namespace, pod, container)]
        if container:
            return self.logs.get((namespace, pod, ""))
        for (ns, name, _), text in self.logs.items():
            if ns == namespace and name == pod:
                return text
        return None
