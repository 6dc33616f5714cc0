"""API semantics on top of the store: create, update, patch, delete as a real API server does.

Order of a write, as in kube-apiserver: decode -> defaults (built-ins) or prune+default
(custom resources) -> mutating admission -> validation -> validating admission -> storage.
Rules kept here:
- create: generateName, uid, creationTimestamp, generation 1, 409 AlreadyExists, 404 when the
  namespace is missing, 403 when it is terminating;
- update/patch: 409 on a stale resourceVersion; the main resource never changes status and the
  status subresource changes only status; metadata.generation bumps on spec changes only; an
  update that changes nothing writes nothing (no new resourceVersion, no watch event);
- delete: finalizers and deletionTimestamp; propagation Background/Foreground/Orphan (Jobs
  default to Orphan, as batch/v1 does); the garbage collector (`sandbox.gc`) does the rest.
It does not parse HTTP (see `sandbox.handlers`).
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import yaml

from sandbox import errors, jsonio
from sandbox.apply import apply_config, managed_entry, merge_managed
from sandbox.defaults import prepare_create, prepare_update
from sandbox.gc import GarbageCollector, now_rfc3339, propagation_policy
from sandbox.objectmeta import generate_name
from sandbox.patching import apply_patch
from sandbox.resources import Registry, ResourceType
from sandbox.store import Entry, Store
from sandbox.updates import validate_update
from sandbox.validation import (
    decode,
    prune_custom,
    spec_part,
    strip_volatile,
    validate_crd,
    validate_object,
)

__all__ = ["Admission", "Api", "WriteOptions"]

_ATTEMPTS = 5
"""Writes without a client resourceVersion are redone this often when they race (see _write)."""


class _Raced(Exception):
    """The object changed between reading it and storing the write (admission awaited)."""


class Admission(Protocol):
    """Admission webhooks (see `sandbox.admission`)."""

    async def mutate(
        self,
        rt: ResourceType,
        operation: str,
        subresource: str,
        namespace: str,
        obj: dict[str, Any],
        old: dict[str, Any] | None,
        dry_run: bool,
    ) -> dict[str, Any]: ...

    async def validate(
        self,
        rt: ResourceType,
        operation: str,
        subresource: str,
        namespace: str,
        obj: dict[str, Any] | None,
        old: dict[str, Any] | None,
        dry_run: bool,
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class WriteOptions:
    """Query options of a write (`dryRun`, `fieldManager`, `fieldValidation`, `force`)."""

    dry_run: bool = False
    field_manager: str = ""
    field_validation: str = ""
    force: bool = False


def _status_only(old: Entry, obj: dict[str, Any]) -> dict[str, Any]:
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


class Api:
    """The verbs of the API over one store and registry."""

    def __init__(
        self, store: Store, registry: Registry, admission: Admission | None = None
    ) -> None:
        self.store = store
        self.registry = registry
        self.admission = admission
        self.gc = GarbageCollector(store, self._namespaced_key)
        self.plugins: list[Callable[[ResourceType, str, str, dict[str, Any]], None]] = []
        """Built-in admission plugins, `(rt, operation, namespace, obj)`, run before the
        mutating webhooks (e.g. ServiceAccount)."""
        self.guards: list[Callable[[ResourceType, str, dict[str, Any]], None]] = []
        """Checks run on every create and update just before storage (e.g. RBAC escalation)."""

    def _namespaced_key(self, key: str) -> bool:
        rt = self.registry.by_store_key(key)
        return rt.namespaced if rt is not None else True

    # ---- helpers
    @staticmethod
    def _pruned(rt: ResourceType, before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
        """The object after mutating admission, pruned again if a webhook changed it (an
        unchanged object was pruned and defaulted already: pruning twice changes nothing)."""
        if after is not before:
            prune_custom(rt, after)
        return after

    def _get(self, rt: ResourceType, namespace: str, name: str) -> Entry:
        entry = self.store.get(rt.store_key, namespace if rt.namespaced else "", name)
        if entry is None:
            raise errors.not_found(rt.plural, rt.group, name)
        return entry

    def _check_namespace(self, rt: ResourceType, namespace: str, operation: str) -> None:
        if not rt.namespaced:
            return
        ns = self.store.get("namespaces", "", namespace)
        if ns is None:
            raise errors.not_found("namespaces", "", namespace)
        if operation == "CREATE" and ns.obj["metadata"].get("deletionTimestamp"):
            raise errors.ApiError(
                403,
                "Forbidden",
                f'{rt.plural} "{namespace}" is forbidden: unable to create new content in namespace {namespace} because it is being terminated',
            )

    # ---- create
    async def create(
        self, rt: ResourceType, namespace: str, body: Any, opts: WriteOptions = WriteOptions()
    ) -> Entry:
        obj = decode(rt, body)
        meta = obj["metadata"]
        if rt.namespaced:
            if meta.get("namespace") and meta["namespace"] != namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
            namespace = ""
        if not meta.get("name"):
            if not meta.get("generateName"):
                raise errors.invalid(
                    rt.kind,
                    rt.group,
                    "",
                    [
                        (
                            "metadata.name",
                            "FieldValueRequired",
                            "Required value: name or generateName is required",
                        )
                    ],
                )
            meta["name"] = generate_name(str(meta["generateName"]))
        self._check_namespace(rt, namespace, "CREATE")
        for k in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
            meta.pop(k, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_rfc3339()
        meta["generation"] = 1
        if rt.has_status and rt.custom:
            obj.pop("status", None)
        prepare_create(rt.kind, obj, rt.custom)
        prune_custom(rt, obj, opts.field_validation)
        if opts.field_manager:
            meta["managedFields"] = [
                managed_entry(opts.field_manager, "Update", rt.api_version, obj, rt.strategic)
            ]
        for plugin in self.plugins:
            plugin(rt, "CREATE", namespace, obj)
        if self.admission is not None:
            obj = self._pruned(
                rt,
                obj,
                await self.admission.mutate(rt, "CREATE", "", namespace, obj, None, opts.dry_run),
            )
        validate_object(rt, obj)
        if rt.kind == "CustomResourceDefinition":
            validate_crd(obj)
        if self.admission is not None:
            await self.admission.validate(rt, "CREATE", "", namespace, obj, None, opts.dry_run)
        for guard in self.guards:
            guard(rt, namespace, obj)
        if self.store.get(rt.store_key, namespace, obj["metadata"]["name"]) is not None:
            raise errors.already_exists(rt.plural, rt.group, obj["metadata"]["name"])
        if opts.dry_run:
            return Entry(obj, jsonio.dumps(obj), self.store.rv)
        entry = self.store.put(rt.store_key, obj, "ADDED")
        if rt.kind == "CustomResourceDefinition":
            self.registry.set_crd(entry.obj)
        return entry

    # ---- update
    async def update(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        body: Any,
        subresource: str = "",
        opts: WriteOptions = WriteOptions(),
    ) -> Entry:
        obj = decode(rt, body)
        namespace = namespace if rt.namespaced else ""
        if obj["metadata"].get("name", name) != name:
            raise errors.bad_request(
                f"the name of the object ({obj['metadata']['name']}) does not match the name on the URL ({name})"
            )
        retryable = not obj["metadata"].get("resourceVersion")
        # a write that may be redone keeps the body as sent; the first attempt uses `obj`
        raw = jsonio.dumps(obj) if retryable else b""
        for attempt in range(_ATTEMPTS):
            old = self._get(rt, namespace, name)
            try:
                return await self._write(
                    rt,
                    old,
                    obj if attempt == 0 else jsonio.loads(raw),
                    subresource,
                    opts,
                    retryable=retryable and attempt < _ATTEMPTS - 1,
                )
            except _Raced:
                continue
        raise AssertionError("unreachable: the last attempt raises Conflict instead")

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
        admission webhooks ran, raise `_Raced` and let the caller redo the write on the new
        version (kube-apiserver's GuaranteedUpdate loop) instead of answering 409.
        """
        name, namespace = old.name, old.namespace
        sent_rv = obj["metadata"].get("resourceVersion")
        if sent_rv and sent_rv != str(old.rv):
            raise errors.conflict(
                rt.plural,
                rt.group,
                name,
                "the object has been modified; please apply your changes to the latest version and try again",
            )
        old_meta = old.obj["metadata"]
        if subresource == "binding":
            pass  # `bind` built the whole object: nodeName and the PodScheduled condition
        elif subresource == "status":
            obj = _status_only(old, obj)
        else:
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
                    raise errors.invalid(
                        rt.kind,
                        rt.group,
                        name,
                        [
                            (
                                "metadata.finalizers",
                                "FieldValueForbidden",
                                f"Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers {sorted(added)!r}",
                            )
                        ],
                    )
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
        if self.admission is not None:
            obj = self._pruned(
                rt,
                obj,
                await self.admission.mutate(
                    rt, "UPDATE", subresource, namespace, obj, old.obj, opts.dry_run
                ),
            )
        validate_object(rt, obj)
        validate_update(rt, obj, old.obj, subresource)
        if self.admission is not None:
            await self.admission.validate(
                rt, "UPDATE", subresource, namespace, obj, old.obj, opts.dry_run
            )
        for guard in self.guards:
            guard(rt, namespace, obj)
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
                raise _Raced()
            raise errors.conflict(
                rt.plural,
                rt.group,
                name,
                "the object has been modified; please apply your changes to the latest version and try again",
            )
        meta = obj["metadata"]
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            removed = self.store.remove(rt.store_key, namespace, name)
            assert removed is not None
            return removed
        entry = self.store.put(rt.store_key, obj, "MODIFIED")
        if rt.kind == "CustomResourceDefinition":
            self.registry.set_crd(entry.obj)
        return entry

    # ---- patch
    async def patch(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        content_type: str,
        body: bytes,
        subresource: str = "",
        opts: WriteOptions = WriteOptions(),
    ) -> tuple[Entry, bool]:
        """Apply a patch; returns (entry, created) — created only for server-side apply."""
        namespace = namespace if rt.namespaced else ""
        ctype = content_type.split(";")[0].strip()
        if ctype == "application/apply-patch+yaml":
            return await self._apply(rt, namespace, name, body, subresource, opts)
        try:
            patch = jsonio.loads(body or b"null")
        except ValueError as exc:
            raise errors.bad_request(f"error decoding patch: {exc}") from None
        sent_rv = (
            (patch.get("metadata") or {}).get("resourceVersion")
            if isinstance(patch, dict)
            else None
        )
        for attempt in range(_ATTEMPTS):
            old = self._get(rt, namespace, name)
            new = self._patched(rt, old, ctype, patch)
            try:
                entry = await self._write(
                    rt,
                    old,
                    new,
                    subresource,
                    opts,
                    retryable=not sent_rv and attempt < _ATTEMPTS - 1,
                )
            except _Raced:
                continue
            return entry, False
        raise AssertionError("unreachable: the last attempt raises Conflict instead")

    def _patched(self, rt: ResourceType, old: Entry, ctype: str, patch: Any) -> dict[str, Any]:
        """The object after applying `patch` of type `ctype` to `old` (resourceVersion set)."""
        new = apply_patch(ctype, jsonio.loads(old.raw), patch, rt.strategic)
        new = decode(rt, new)
        if isinstance(patch, dict):
            sent = (patch.get("metadata") or {}).get("resourceVersion")
            new["metadata"]["resourceVersion"] = sent or str(old.rv)
        else:
            new["metadata"]["resourceVersion"] = new["metadata"].get("resourceVersion") or str(
                old.rv
            )
        return new

    async def _apply(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        body: bytes,
        subresource: str,
        opts: WriteOptions,
    ) -> tuple[Entry, bool]:
        """Server-side apply: create, or merge the config, dropping fields this manager no longer sets."""
        try:
            config = yaml.safe_load(body.decode() or "{}")
        except yaml.YAMLError as exc:
            raise errors.bad_request(f"error decoding YAML: {exc}") from None
        if not opts.field_manager:
            raise errors.bad_request(
                'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch'
            )
        config = decode(rt, config)
        config["metadata"].setdefault("name", name)
        existing = self.store.get(rt.store_key, namespace, name)
        if existing is None:
            if subresource:
                raise errors.not_found(rt.plural, rt.group, name)
            created = copy.deepcopy(config)
            created["metadata"]["managedFields"] = [
                managed_entry(opts.field_manager, "Apply", rt.api_version, config, rt.strategic)
            ]
            entry = await self.create(
                rt, namespace, created, WriteOptions(opts.dry_run, "", opts.field_validation)
            )
            return entry, True
        merged = apply_config(jsonio.loads(existing.raw), config, opts.field_manager, rt.strategic)
        merged["metadata"]["resourceVersion"] = config["metadata"].get("resourceVersion") or str(
            existing.rv
        )
        merged["metadata"]["managedFields"] = merge_managed(
            existing.obj["metadata"].get("managedFields"),
            opts.field_manager,
            "Apply",
            rt.api_version,
            config,
            rt.strategic,
        )
        entry = await self._write(
            rt,
            existing,
            merged,
            subresource,
            WriteOptions(opts.dry_run, "", opts.field_validation, opts.force),
        )
        return entry, False

    async def bind(self, rt: ResourceType, namespace: str, name: str, body: Any) -> Entry:
        """pods/binding: assign a pod to a node (spec.nodeName + PodScheduled=True), once."""
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request must be a Binding")
        node = (body.get("target") or {}).get("name")
        if not node:
            raise errors.invalid(
                "Binding", "", name, [("target.name", "FieldValueRequired", "Required value")]
            )
        old = self._get(rt, namespace, name)
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
        return await self._write(rt, old, obj, "binding", WriteOptions())

    # ---- delete
    async def delete(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        options: dict[str, Any],
        dry_run: bool = False,
    ) -> tuple[Entry, bool]:
        """Delete; returns (entry, gone) — gone is False while finalizers keep it."""
        namespace = namespace if rt.namespaced else ""
        old = self._get(rt, namespace, name)
        pre = options.get("preconditions") or {}
        if pre.get("uid") and pre["uid"] != old.obj["metadata"].get("uid"):
            raise errors.conflict(
                rt.plural,
                rt.group,
                name,
                f"Precondition failed: UID in precondition: {pre['uid']}, UID in object meta: {old.obj['metadata'].get('uid')}",
            )
        if pre.get("resourceVersion") and pre["resourceVersion"] != str(old.rv):
            raise errors.conflict(
                rt.plural,
                rt.group,
                name,
                f"Precondition failed: ResourceVersion in precondition: {pre['resourceVersion']}, ResourceVersion in object meta: {old.rv}",
            )
        if self.admission is not None:
            await self.admission.validate(rt, "DELETE", "", namespace, None, old.obj, dry_run)
        if dry_run:
            return old, False
        policy = propagation_policy(rt, options)
        if rt.kind == "Namespace" and not rt.group:
            return self.gc.terminate_namespace(old), False
        if rt.kind == "CustomResourceDefinition":
            self.gc.drop_custom_resources(old.obj)
            self.registry.remove_crd(old.name)
        return self.gc.delete(rt.store_key, old, policy)
