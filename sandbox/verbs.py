"""API semantics on top of the store: create, update, patch, delete as a real API server does.

Order of a write, as in kube-apiserver: decode -> defaults (built-ins) or prune+default
(custom resources) -> mutating admission -> validation -> validating admission -> storage.
Rules kept here:
- create: generateName, uid, creationTimestamp, generation 1, 409 AlreadyExists, 404 when the
  namespace is missing, 403 when it is terminating;
- update/patch/apply: the retry when a write without resourceVersion races; the rest of an
  update of an existing object, and the admission tail every write shares, are in
  `sandbox.writes` (`Writer`, the base of `Api`);
- delete: finalizers and deletionTimestamp; propagation Background/Foreground/Orphan (Jobs
  default to Orphan, as batch/v1 does); the garbage collector (`sandbox.gc`) does the rest.
It does not parse HTTP (see `sandbox.handlers`).
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from typing import Any

import yaml

from sandbox import errors, jsonio
from sandbox.apply import apply_config, managed_entry, merge_managed
from sandbox.defaults import prepare_create
from sandbox.gc import GarbageCollector, now_rfc3339, propagation_policy
from sandbox.objectmeta import generate_name
from sandbox.patching import apply_patch
from sandbox.resources import Registry, ResourceType
from sandbox.store import Entry, Store
from sandbox.validation import decode, prune_custom
from sandbox.writes import ATTEMPTS, NO_OPTIONS, Admission, Operation, Raced, WriteOptions, Writer

__all__ = ["Admission", "Api", "WriteOptions"]


class Api(Writer):
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
        self, rt: ResourceType, namespace: str, body: Any, opts: WriteOptions = NO_OPTIONS
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
                why = "Required value: name or generateName is required"
                cause = ("metadata.name", "FieldValueRequired", why)
                raise errors.invalid(rt.kind, rt.group, "", [cause])
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
        obj = await self._admit(Operation(rt, "CREATE", "", namespace, None, opts.dry_run), obj)
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
        opts: WriteOptions = NO_OPTIONS,
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

        def attempt_body(attempt: int, old: Entry) -> dict[str, Any]:
            return obj if attempt == 0 else jsonio.loads(raw)

        return await self._retried(rt, namespace, name, attempt_body, subresource, opts, retryable)

    async def _retried(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        new_object: Callable[[int, Entry], dict[str, Any]],
        subresource: str,
        opts: WriteOptions,
        retryable: bool,
    ) -> Entry:
        """`_write` on the current version, redone when it raced (see `_write`)."""
        for attempt in range(ATTEMPTS):
            old = self.existing(rt, namespace, name)
            try:
                return await self._write(
                    rt,
                    old,
                    new_object(attempt, old),
                    subresource,
                    opts,
                    retryable=retryable and attempt < ATTEMPTS - 1,
                )
            except Raced:
                continue
        raise AssertionError("unreachable: the last attempt raises Conflict instead")

    # ---- patch
    async def patch(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        content_type: str,
        body: bytes,
        subresource: str = "",
        opts: WriteOptions = NO_OPTIONS,
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

        def patched(attempt: int, old: Entry) -> dict[str, Any]:
            # the patch's own resourceVersion (if any) survives it, as in the patched object
            new = decode(rt, apply_patch(ctype, jsonio.loads(old.raw), patch, rt.strategic))
            new["metadata"]["resourceVersion"] = new["metadata"].get("resourceVersion") or str(
                old.rv
            )
            return new

        entry = await self._retried(rt, namespace, name, patched, subresource, opts, not sent_rv)
        return entry, False

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
        old = self.existing(rt, namespace, name)
        pre = options.get("preconditions") or {}
        uid = old.obj["metadata"].get("uid")
        for key, field, current in (
            ("uid", "UID", uid),
            ("resourceVersion", "ResourceVersion", str(old.rv)),
        ):
            if pre.get(key) and pre[key] != current:
                why = f"Precondition failed: {field} in precondition: {pre[key]}, {field} in object meta: {current}"
                raise errors.conflict(rt.plural, rt.group, name, why)
        if self.admission is not None:
            await self.admission.validate(
                Operation(rt, "DELETE", "", namespace, old.obj, dry_run), None
            )
        if dry_run:
            return old, False
        policy = propagation_policy(rt, options)
        if rt.kind == "Namespace" and not rt.group:
            return self.gc.terminate_namespace(old), False
        if rt.kind == "CustomResourceDefinition":
            self.gc.drop_custom_resources(old.obj)
            self.registry.remove_crd(old.name)
        return self.gc.delete(rt.store_key, old, policy)
