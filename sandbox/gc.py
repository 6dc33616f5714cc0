"""Garbage collection by ownerReferences, deletion finalizers and namespace termination.

Driven by store events (listener), like the real garbage collector watching the cluster:
- an object removed -> its dependents whose every owner is gone are deleted (background),
  dependents with other live owners just lose the dangling reference;
- an object marked for deletion with the `foregroundDeletion` finalizer -> its dependents are
  deleted first, then the finalizer is removed; with `orphan` -> its dependents lose the
  ownerReference, then the finalizer is removed;
- an object marked for deletion whose finalizers are all gone is removed;
- a Terminating namespace is emptied, then removed.
Work is scheduled with `call_soon` so the owner is observed gone before its dependents, and
recursion never runs inside a store write. It bypasses admission (the real GC's deletes do go
through admission; no webhook here depends on that).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from sandbox import jsonio
from sandbox.resources import ResourceType
from sandbox.store import Entry, Store, WatchEvent

__all__ = ["GarbageCollector", "now_rfc3339", "propagation_policy"]

FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"


def now_rfc3339() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def propagation_policy(rt: ResourceType, options: dict[str, Any]) -> str:
    """The propagation a DELETE asked for, or the resource's default.

    batch/v1 Jobs default to Orphan (kept for compatibility by kube-apiserver; kubectl asks for
    Background explicitly); everything else to Background.
    """
    policy = options.get("propagationPolicy")
    if policy:
        return str(policy)
    orphan = options.get("orphanDependents")
    if orphan is not None:
        return "Orphan" if orphan else "Background"
    return "Orphan" if rt.kind == "Job" and rt.group == "batch" else "Background"


class GarbageCollector:
    """Reacts to store events; see the module docstring for the rules."""

    def __init__(self, store: Store, namespaced: Callable[[str], bool]) -> None:
        self.store = store
        self.namespaced = namespaced
        """Whether a store key holds namespaced objects (from the registry)."""
        store.listeners.append(self._on_event)

    def _schedule(self, fn: Callable[..., None], *args: Any) -> None:
        try:
            asyncio.get_running_loop().call_soon(fn, *args)
        except RuntimeError:
            fn(*args)

    def _on_event(self, key: str, event: WatchEvent) -> None:
        meta = event.entry.obj["metadata"]
        if event.type == "DELETED":
            uid = meta.get("uid")
            if uid and self.store.dependents.get(uid):
                self._schedule(self.collect_dependents, uid)
            for ref in meta.get("ownerReferences") or []:
                self._schedule(self.recheck_owner, ref.get("uid"))
            ns = meta.get("namespace")
            if ns:
                self._schedule(self.recheck_namespace, ns)
            return
        if meta.get("deletionTimestamp"):
            finalizers = meta.get("finalizers") or []
            if FOREGROUND in finalizers or ORPHAN in finalizers:
                self._schedule(self.process_deleting, key, event.entry.namespace, event.entry.name)
            if key == "namespaces" and event.type == "MODIFIED":
                self._schedule(self.recheck_namespace, event.entry.name)

    def delete(self, key: str, entry: Entry, policy: str = "Background") -> tuple[Entry, bool]:
        """Delete like the API does (finalizers first), without admission; returns (entry, gone)."""
        meta = entry.obj["metadata"]
        finalizers = list(meta.get("finalizers") or [])
        uid = meta.get("uid")
        has_dependents = bool(uid and self.store.dependents.get(uid))
        if policy == "Foreground" and has_dependents and FOREGROUND not in finalizers:
            finalizers.append(FOREGROUND)
        elif policy == "Orphan" and has_dependents and ORPHAN not in finalizers:
            finalizers.append(ORPHAN)
        if not finalizers:
            removed = self.store.remove(key, entry.namespace, entry.name)
            return (removed or entry), True
        if meta.get("deletionTimestamp") and finalizers == meta.get("finalizers"):
            return entry, False
        meta = dict(
            meta,
            finalizers=finalizers,
            deletionTimestamp=meta.get("deletionTimestamp") or now_rfc3339(),
            deletionGracePeriodSeconds=0,
        )
        return self.store.put(key, dict(entry.obj, metadata=meta), "MODIFIED"), False

    def _dependents(self, uid: str) -> list[tuple[str, Entry]]:
        found = [self.store.get_by_uid(dep) for dep in list(self.store.dependents.get(uid, ()))]
        return [dep for dep in found if dep is not None]

    def collect_dependents(self, owner_uid: str) -> None:
        """The owner is gone: delete dependents with no live owner left, unlink the others."""
        if self.store.get_by_uid(owner_uid) is not None:
            return
        for key, dep in self._dependents(owner_uid):
            refs = dep.obj["metadata"].get("ownerReferences") or []
            live = [
                r
                for r in refs
                if r.get("uid") != owner_uid and self.store.get_by_uid(r.get("uid", ""))
            ]
            if live:
                self._unlink(key, dep, owner_uid)
            else:
                self.delete(key, dep, "Background")

    def _unlink(self, key: str, dep: Entry, owner_uid: str) -> None:
        """Drop the ownerReference to `owner_uid` from a dependent."""
        meta = dict(dep.obj["metadata"])
        refs = [r for r in meta.get("ownerReferences") or [] if r.get("uid") != owner_uid]
        if refs:
            meta["ownerReferences"] = refs
        else:
            meta.pop("ownerReferences", None)
        self.store.put(key, dict(dep.obj, metadata=meta), "MODIFIED")

    def _drop_finalizer(self, key: str, entry: Entry, finalizer: str) -> None:
        meta = entry.obj["metadata"]
        finalizers = [f for f in meta.get("finalizers") or [] if f != finalizer]
        if not finalizers:
            self.store.remove(key, entry.namespace, entry.name)
            return
        self.store.put(key, dict(entry.obj, metadata=dict(meta, finalizers=finalizers)), "MODIFIED")

    def process_deleting(self, key: str, namespace: str, name: str) -> None:
        """Run the orphan / foreground finalizers of an object being deleted."""
        entry = self.store.get(key, namespace, name)
        if entry is None or not entry.obj["metadata"].get("deletionTimestamp"):
            return
        meta = entry.obj["metadata"]
        finalizers = meta.get("finalizers") or []
        uid = meta.get("uid", "")
        if ORPHAN in finalizers:
            for dep_key, dep in self._dependents(uid):
                self._unlink(dep_key, dep, uid)
            entry = self.store.get(key, namespace, name)
            if entry is not None:
                self._drop_finalizer(key, entry, ORPHAN)
            return
        if FOREGROUND in finalizers:
            deps = self._dependents(uid)
            for dep_key, dep in deps:
                if not dep.obj["metadata"].get("deletionTimestamp"):
                    self.delete(dep_key, dep, "Foreground")
            if not self._dependents(uid):
                self._drop_finalizer(key, entry, FOREGROUND)

    def recheck_owner(self, owner_uid: str | None) -> None:
        """A dependent went away: a foreground-deleting owner may now be done."""
        if not owner_uid:
            return
        found = self.store.get_by_uid(owner_uid)
        if found is None:
            return
        key, entry = found
        meta = entry.obj["metadata"]
        deleting = meta.get("deletionTimestamp") and FOREGROUND in (meta.get("finalizers") or [])
        if deleting and not self._dependents(owner_uid):
            self._drop_finalizer(key, entry, FOREGROUND)

    def recheck_namespace(self, namespace: str) -> None:
        """Empty a Terminating namespace, then remove it once nothing is left in it."""
        ns = self.store.get("namespaces", "", namespace)
        if ns is None or not ns.obj["metadata"].get("deletionTimestamp"):
            return
        remaining = False
        for key, bucket in list(self.store.buckets.items()):
            if key == "namespaces" or not self.namespaced(key):
                continue
            for entry in list(bucket.items.get(namespace, {}).values()):
                remaining = True
                if not entry.obj["metadata"].get("deletionTimestamp"):
                    self.delete(key, entry, "Background")
        if not remaining and not any(
            namespace in b.items for k, b in self.store.buckets.items() if k != "namespaces"
        ):
            self.store.remove("namespaces", "", namespace)

    def terminate_namespace(self, old: Entry) -> Entry:
        """Mark a namespace Terminating; `recheck_namespace` empties and removes it."""
        if old.obj["metadata"].get("deletionTimestamp"):
            return old
        obj = jsonio.loads(old.raw)
        obj["metadata"]["deletionTimestamp"] = now_rfc3339()
        obj["metadata"]["deletionGracePeriodSeconds"] = 0
        obj["status"] = {"phase": "Terminating"}
        return self.store.put("namespaces", obj, "MODIFIED")

    def drop_custom_resources(self, crd: dict[str, Any]) -> None:
        """Remove every object of a CRD being deleted."""
        spec = crd.get("spec", {})
        key = f"{spec.get('names', {}).get('plural')}.{spec.get('group')}"
        for entry in list(self.store.bucket(key).entries(None)):
            self.store.remove(key, entry.namespace, entry.name)
