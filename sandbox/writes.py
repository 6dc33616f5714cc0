"""The write path shared by every verb that changes a stored object, as kube-apiserver runs it.

`Writer` (the base of `sandbox.verbs.Api`) holds the tail of create, update, patch, apply
and bind: mutating admission (re-pruned when a webhook changed the object), validation,
validating admission and the guards (`_admit`), and for an existing object the rules of an
update (`_write`: server-owned metadata kept, status only through its subresource, generation
bumped on spec changes, no-op writes store nothing, 409 on a stale resourceVersion or a
`Raced` retry when the client sent none). `Admission` is what it needs of the webhooks
(`sandbox.admission`), one `Operation` describing the write.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from sandbox import errors, jsonio
from sandbox.apply import merge_managed
from sandbox.defaults import prepare_update
from sandbox.gc import now_rfc3339
from sandbox.resources import Registry, ResourceType
from sandbox.store import Entry, Store
from sandbox.updates import validate_update
from sandbox.validation import (
    prune_custom,
    spec_part,
    strip_volatile,
    validate_crd,
    validate_object,
)

__all__ = [
    "ATTEMPTS",
    "NO_OPTIONS",
    "Admission",
    "Operation",
    "Raced",
    "WriteOptions",
    "Writer",
    "status_only",
]

ATTEMPTS = 5
"""Writes without a client resourceVersion are redone this often when they race (see _write)."""


_MODIFIED = (
    "the object has been modified; please apply your changes to the latest version and try again"
)


def _modified(rt: ResourceType, name: str) -> errors.ApiError:
    """409 for a write based on an older version (optimistic concurrency)."""
    return errors.conflict(rt.plural, rt.group, name, _MODIFIED)


class Raced(Exception):
    """The object changed between reading it and storing the write (admission awaited)."""


@dataclass(frozen=True, slots=True)
class Operation:
    """A write as admission sees it: resource, CREATE/UPDATE/DELETE, subresource, namespace,
    the stored object (UPDATE, DELETE) and dryRun."""

    rt: ResourceType
    operation: str
    subresource: str
    namespace: str
    old: dict[str, Any] | None
    dry_run: bool


class Admission(Protocol):
    """Admission webhooks (see `sandbox.admission`)."""

    async def mutate(self, op: Operation, obj: dict[str, Any]) -> dict[str, Any]: ...

    async def validate(self, op: Operation, obj: dict[str, Any] | None) -> None: ...


@dataclass(frozen=True, slots=True)
class WriteOptions:
    """Query options of a write (`dryRun`, `fieldManager`, `fieldValidation`, `force`)."""

    dry_run: bool = False
    field_manager: str = ""
    field_validation: str = ""
    force: bool = False


NO_OPTIONS = WriteOptions()


def status_only(old: Entry, obj: dict[str, Any]) -> dict[str, Any]:
    """`old` with the status of `obj` (the status subresource changes nothing else).

    `obj` is a fresh object: when it differs from `old` only in status (a status patch),
    it is that result already; otherwise a fresh copy of `old` takes the status."""
    status = obj.get("status")
    if obj.keys() - {"status"} != old.obj.keys() - {"status"} or any(
        value != old.obj[key] for key, value in obj.items() if key != "status"
    ):
        obj = jsonio.loads(old.raw)
    if status is None:
        obj.pop("status", None)
    else:
        obj["status"] = status
    return obj


class Writer:
    """The shared write path over one store, registry and admission chain."""

    store: Store
    registry: Registry
    admission: Admission | None
    guards: list[Callable[[ResourceType, str, dict[str, Any]], None]]

    def existing(self, rt: ResourceType, namespace: str, name: str) -> Entry:
        """The stored object, or 404."""
        entry = self.store.get(rt.store_key, namespace if rt.namespaced else "", name)
        if entry is None:
            raise errors.not_found(rt.plural, rt.group, name)
        return entry

    async def _admit(self, op: Operation, obj: dict[str, Any]) -> dict[str, Any]:
        """Mutating admission, validation, validating admission and guards; the object to store."""
        rt, sent = op.rt, obj
        if self.admission is not None:
            obj = await self.admission.mutate(op, obj)
            if obj is not sent:  # an unchanged object was pruned and defaulted already
                prune_custom(rt, obj)
        validate_object(rt, obj, op.subresource == "status" and obj is sent)
        if op.operation == "CREATE" and rt.kind == "CustomResourceDefinition":
            validate_crd(obj)
        if op.old is not None:
            validate_update(rt, obj, op.old, op.subresource)
        if self.admission is not None:
            await self.admission.validate(op, obj)
        for guard in self.guards:
            guard(rt, op.namespace, obj)
        return obj

    async def _write(
        self,
        rt: ResourceType,
        old: Entry,
        obj: dict[str, Any],
        subresource: str,
        opts: WriteOptions,
        *,
        retryable: bool = False,
    ) -> Entry:
        """The shared tail of update, patch and apply-to-existing.

        `retryable`: the client sent no resourceVersion, so when the object changed while
        admission webhooks ran, raise `Raced` and let the caller redo the write on the new
        version (kube-apiserver's GuaranteedUpdate loop) instead of answering 409.
        """
        name, namespace = old.name, old.namespace
        sent_rv = obj["metadata"].get("resourceVersion")
        if sent_rv and sent_rv != str(old.rv):
            raise _modified(rt, name)
        old_meta = old.obj["metadata"]
        if subresource == "status":
            obj = status_only(old, obj)
        elif subresource != "binding":  # `bind` built the whole object (nodeName, PodScheduled)
            meta = obj["metadata"]
            for k in (
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
                "namespace",
            ):
                if k in old_meta:
                    meta[k] = old_meta[k]
                else:
                    meta.pop(k, None)
            meta["name"] = name
            if rt.has_status:
                if "status" in old.obj:
                    obj["status"] = copy.deepcopy(old.obj["status"])
                else:
                    obj.pop("status", None)
            if old_meta.get("deletionTimestamp"):
                added = set(meta.get("finalizers") or []) - set(old_meta.get("finalizers") or [])
                if added:
                    why = f"Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers {sorted(added)!r}"
                    cause = ("metadata.finalizers", "FieldValueForbidden", why)
                    raise errors.invalid(rt.kind, rt.group, name, [cause])
            prepare_update(rt.kind, obj, rt.custom)
        prune_custom(rt, obj, opts.field_validation)
        if opts.field_manager and subresource != "status":
            obj["metadata"]["managedFields"] = merge_managed(
                old_meta.get("managedFields"),
                opts.field_manager,
                "Update",
                rt.api_version,
                obj,
                rt.strategic,
            )
        elif "managedFields" in old_meta and "managedFields" not in obj["metadata"]:
            obj["metadata"]["managedFields"] = old_meta["managedFields"]
        op = Operation(rt, "UPDATE", subresource, namespace, old.obj, opts.dry_run)
        obj = await self._admit(op, obj)
        gen = old_meta.get("generation")
        if gen is not None:
            if subresource != "status" and spec_part(obj, rt.has_status) != spec_part(
                old.obj, rt.has_status
            ):
                gen += 1
            obj["metadata"]["generation"] = gen
        if strip_volatile(obj) == strip_volatile(old.obj):
            return old
        if opts.dry_run:
            obj["metadata"]["resourceVersion"] = str(old.rv)
            return Entry(obj, jsonio.dumps(obj), old.rv)
        current = self.store.get(rt.store_key, namespace, name)
        if current is None or current.rv != old.rv:
            if retryable and current is not None:
                raise Raced()
            raise _modified(rt, name)
        meta = obj["metadata"]
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            removed = self.store.remove(rt.store_key, namespace, name)
            assert removed is not None
            return removed
        entry = self.store.put(rt.store_key, obj, "MODIFIED")
        if rt.kind == "CustomResourceDefinition":
            self.registry.set_crd(entry.obj)
        return entry

    async def bind(self, rt: ResourceType, namespace: str, name: str, body: Any) -> Entry:
        """pods/binding: assign a pod to a node (spec.nodeName + PodScheduled=True), once."""
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request must be a Binding")
        node = (body.get("target") or {}).get("name")
        if not node:
            raise errors.invalid(
                "Binding", "", name, [("target.name", "FieldValueRequired", "Required value")]
            )
        old = self.existing(rt, namespace, name)
        current = (old.obj.get("spec") or {}).get("nodeName")
        if current:
            raise errors.conflict(
                rt.plural, rt.group, name, f'pod {name} is already assigned to node "{current}"'
            )
        obj = jsonio.loads(old.raw)
        obj["spec"]["nodeName"] = node
        status = obj.setdefault("status", {})
        conditions = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
        conditions.append(
            {
                "type": "PodScheduled",
                "status": "True",
                "lastProbeTime": None,
                "lastTransitionTime": now_rfc3339(),
            }
        )
        status["conditions"] = conditions
        return await self._write(rt, old, obj, "binding", NO_OPTIONS)
