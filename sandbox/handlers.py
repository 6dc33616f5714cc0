"""HTTP handlers of resource URLs: `/api/v1/...` and `/apis/<group>/<version>/...`.

Parses the path (namespace, resource, name, subresource) and the query, calls `sandbox.verbs`
and writes the answer: objects and lists straight from their stored JSON bytes (no re-encoding),
Tables when asked for; watch requests go to `sandbox.watching`. It holds no state.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from typing import Any

import yaml
from aiohttp import web

from sandbox import errors, jsonio
from sandbox.conversion import converts, field_selector_to_storage, from_storage, to_storage
from sandbox.crdversions import CrdVersions
from sandbox.faults import Faults
from sandbox.patching import apply_patch
from sandbox.podlogs import serve_log
from sandbox.requestinfo import (
    Target,
    delete_options,
    dry_run,
    json_answer,
    json_body,
    json_response,
    parse_target,
    request_verb,
    wants_table,
    write_options,
)
from sandbox.resources import ResourceType
from sandbox.scale import scale_of, write_scale
from sandbox.selectors import FieldSelector, LabelSelector, Selector
from sandbox.store import Entry, dumps
from sandbox.tables import table_for
from sandbox.validation import decode, prune_custom
from sandbox.verbs import Api, WriteOptions
from sandbox.watching import serve_watch

__all__ = ["ResourceHandlers"]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ResourceHandlers:
    """The resource routes of one sandbox."""

    api: Api
    faults: Faults
    crd: CrdVersions
    bookmark_interval: float

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        """`/api/v1/<tail>` and `/apis/<group>/<version>/<tail>`."""
        m = request.match_info
        t = parse_target(self.api.registry, m.get("group", ""), m.get("version", "v1"), m["tail"])
        verb = request_verb(request, bool(t.name))
        if t.subresource == "scale":
            return await self.scale(request, t)
        match verb:
            case "list":
                return await self.list(request, t)
            case "watch":
                return await self.watch(request, t)
            case "get" if t.subresource == "log":
                return await serve_log(request, self.api.store, t.namespace, t.name)
            case "get":
                entry = self.api.existing(t.rt, t.namespace, t.name)
                return await self.answer(request, t.rt, entry)
            case "create" if t.subresource == "binding":
                await self.api.bind(t.rt, t.namespace, t.name, await json_body(request))
                return json_answer(_success(code=201), 201)
            case "create":
                if t.name or (t.rt.namespaced and not t.namespace):
                    raise errors.method_not_allowed("POST", t.rt.plural)
                body = await self.in_storage(request, t.rt, await json_body(request))
                entry = await self.api.create(
                    self.stored(t.rt), t.namespace, body, self.write_opts(request, t.rt)
                )
                return await self.answer(request, t.rt, entry, 201)
            case "update":
                entry = await self.api.update(
                    self.stored(t.rt),
                    t.namespace,
                    t.name,
                    await self.in_storage(request, t.rt, await json_body(request)),
                    t.subresource,
                    self.write_opts(request, t.rt),
                )
                return await self.answer(request, t.rt, entry)
            case "patch":
                if converts(t.rt) or self.crd.converts(t.rt):
                    return await self.patch_view(request, t)
                entry, created = await self.api.patch(
                    t.rt,
                    t.namespace,
                    t.name,
                    request.headers.get("Content-Type", ""),
                    await request.read(),
                    t.subresource,
                    write_options(request),
                )
                return self.object(request, t.rt, entry, 201 if created else 200)
            case "delete":
                options = await delete_options(request)
                entry, gone = await self.api.delete(
                    self.stored(t.rt), t.namespace, t.name, options, dry_run(request)
                )
                if gone and not t.rt.custom and t.rt.kind not in ("Pod", "Namespace", "Service"):
                    details = errors.object_details(t.rt.plural, t.rt.group, t.name)
                    details["uid"] = entry.obj["metadata"].get("uid")
                    return json_answer(_success(details=details))
                return await self.answer(request, t.rt, entry, 200 if gone else 202)
            case "deletecollection":
                return await self.delete_collection(request, t)
        raise errors.method_not_allowed(request.method, t.rt.plural)

    async def scale(self, request: web.Request, t: Target) -> web.Response:
        entry = self.api.existing(t.rt, t.namespace, t.name)
        if request.method == "GET":
            return json_answer(scale_of(entry))
        if request.method not in ("PUT", "PATCH"):
            raise errors.method_not_allowed(request.method, f"{t.rt.plural}/scale")
        scale = await write_scale(
            self.api,
            t.rt,
            entry,
            request.method,
            request.headers.get("Content-Type", ""),
            await request.read(),
            write_options(request),
        )
        return json_answer(scale)

    def stored(self, rt: ResourceType) -> ResourceType:
        """The resource type whose objects `rt` serves (itself unless it is a view)."""
        if self.crd.converts(rt):
            return self.crd.storage_type(rt)
        if not converts(rt):
            return rt
        stored = self.api.registry.by_store_key(rt.store_key)
        assert stored is not None
        return stored

    async def patch_view(self, request: web.Request, t: Target) -> web.Response:
        """Patch a converted view: apply the patch to the view, store the converted result."""
        old = self.api.existing(t.rt, t.namespace, t.name)
        ctype = request.headers.get("Content-Type", "").split(";")[0].strip()
        try:
            patch = yaml.safe_load(await request.read() or b"null")
        except yaml.YAMLError:
            raise errors.bad_request("the patch could not be decoded") from None
        view = from_storage(t.rt, jsonio.loads((await self.crd.view(t.rt, old)).raw))
        if ctype == "application/apply-patch+yaml":
            ctype = "application/merge-patch+json"  # apply to a view: a merge, simplified
        new = apply_patch(ctype, view, patch, strategic=True)
        sent_rv = (
            (patch.get("metadata") or {}).get("resourceVersion")
            if isinstance(patch, dict)
            else None
        )
        new.setdefault("metadata", {})["resourceVersion"] = sent_rv or str(old.rv)
        entry = await self.api.update(
            self.stored(t.rt),
            old.namespace,
            old.name,
            await self.crd.to_storage(t.rt, to_storage(t.rt, new)),
            t.subresource,
            self.write_opts(request, t.rt),
        )
        return await self.answer(request, t.rt, entry)

    async def in_storage(self, request: web.Request, rt: ResourceType, body: Any) -> Any:
        """A request body in the stored form: a converted view's, or a custom resource written
        at a version other than its storage version (pruned at that version first)."""
        if not self.crd.converts(rt):
            return to_storage(rt, body)
        obj = decode(rt, body)
        prune_custom(rt, obj, request.query.get("fieldValidation", ""))
        return await self.crd.to_storage(rt, obj)

    def write_opts(self, request: web.Request, rt: ResourceType) -> WriteOptions:
        """The write's options; field validation was done at the request's version."""
        opts = write_options(request)
        if self.crd.converts(rt):
            return dataclasses.replace(opts, field_validation="")
        return opts

    async def answer(
        self, request: web.Request, rt: ResourceType, entry: Entry, status: int = 200
    ) -> web.Response:
        """`object`, after converting a custom resource to the version asked for."""
        return self.object(request, rt, await self.crd.view(rt, entry), status)

    # ---- reads
    def _raw(self, rt: ResourceType, entry: Entry) -> bytes:
        if converts(rt):
            return dumps(from_storage(rt, entry.obj))
        if entry.obj.get("apiVersion") == rt.api_version:
            return entry.raw
        return dumps(dict(entry.obj, apiVersion=rt.api_version))

    def object(
        self, request: web.Request, rt: ResourceType, entry: Entry, status: int = 200
    ) -> web.Response:
        if wants_table(request) and request.method == "GET":
            table = table_for(
                self.stored(rt) if converts(rt) else rt,
                [entry.obj],
                str(entry.rv),
                request.query.get("includeObject", "Metadata"),
            )
            return json_answer(table, status)
        return json_response(self._raw(rt, entry), status)

    def selector(self, request: web.Request, t: Target) -> Selector:
        q = request.query
        labels = LabelSelector.parse(q["labelSelector"]) if q.get("labelSelector") else None
        fields = None
        if q.get("fieldSelector"):
            fields = FieldSelector.parse(
                field_selector_to_storage(t.rt, q["fieldSelector"]), t.rt.kind
            )
        return Selector(t.namespace or None, labels, fields)

    async def list(self, request: web.Request, t: Target) -> web.Response:
        sel = self.selector(request, t)
        rv = str(self.api.store.rv)
        q = request.query
        token = ""
        after = None
        cont = q.get("continue")
        if cont:
            try:
                state = json.loads(base64.urlsafe_b64decode(cont.encode()))
                after = (str(state["ns"]), str(state["name"]))
                rv = str(state["rv"])
            except (ValueError, KeyError):
                raise errors.bad_request("invalid continue token") from None
        limit = int(q.get("limit") or 0)
        entries, more = self.api.store.page(t.rt.store_key, sel, limit, after)
        shown = await self.crd.views(t.rt, entries)
        remaining = None
        if more:
            last = entries[-1]
            token = base64.urlsafe_b64encode(
                json.dumps({"rv": int(rv), "ns": last.namespace, "name": last.name}).encode()
            ).decode()
            if sel.trivial:
                # like kube-apiserver: a count only when no selector makes it expensive
                remaining = sum(
                    1
                    for _ in self.api.store.bucket(t.rt.store_key).ordered(
                        sel.namespace, (last.namespace, last.name)
                    )
                )
        if wants_table(request):
            table = table_for(
                self.stored(t.rt) if converts(t.rt) else t.rt,
                [e.obj for e in shown],
                rv,
                q.get("includeObject", "Metadata"),
                continue_token=token,
            )
            return json_answer(table)
        meta: dict[str, Any] = {"resourceVersion": rv}
        if token:
            meta["continue"] = token
            if remaining is not None:
                meta["remainingItemCount"] = remaining
        return json_response(_list_of(t.rt, meta, [self._raw(t.rt, e) for e in shown]))

    async def delete_collection(self, request: web.Request, t: Target) -> web.Response:
        sel = self.selector(request, t)
        options = await delete_options(request)
        items = []
        for entry in self.api.store.list(t.rt.store_key, sel):
            try:
                done, _ = await self.api.delete(
                    t.rt, entry.namespace, entry.name, options, dry_run(request)
                )
            except errors.ApiError as exc:
                if exc.code == 404:
                    continue
                raise
            items.append(self._raw(t.rt, await self.crd.view(t.rt, done)))
        return json_response(_list_of(t.rt, {"resourceVersion": str(self.api.store.rv)}, items))

    # ---- watch
    async def watch(self, request: web.Request, t: Target) -> web.StreamResponse:
        return await serve_watch(
            request,
            store=self.api.store,
            rt=t.rt,
            stored_rt=self.stored(t.rt),
            selector=self.selector(request, t),
            faults=self.faults,
            bookmark_interval=self.bookmark_interval,
            convert=(lambda chunk: self.crd.frames(t.rt, chunk))
            if self.crd.converts(t.rt) and not wants_table(request)
            else None,
        )


def _success(**fields: Any) -> dict[str, Any]:
    """A Status of success (a binding created, a built-in object deleted at once)."""
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", **fields}


def _list_of(rt: ResourceType, meta: dict[str, Any], items: list[bytes]) -> bytes:
    """A list document around the items' stored JSON (no re-encoding)."""
    head = dumps({"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": meta})
    return head[:-1] + b',"items":[' + b",".join(items) + b"]}"
