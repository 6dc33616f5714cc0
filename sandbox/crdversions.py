"""Custom resources served at several versions, stored at the CRD's storage version.

As in kube-apiserver, every served version of a CRD reads and writes the same objects: a write
at another version is converted to the storage version before it is stored, and what is read
(get, list, watch, the answers to writes) is converted to the version asked for.

- strategy `None` (the default): only `apiVersion` changes, fields are kept as they are;
- strategy `Webhook`: the CRD's `spec.conversion.webhook.clientConfig` (url, or service reached
  as admission webhooks are, see `sandbox.admission`) gets a `ConversionReview` (apiextensions.k8s.io/v1)
  with `desiredAPIVersion` and the objects; the response must have `result.status: Success`
  and one converted object per object sent, with the same uid, name and namespace. A failure
  answers 500 `conversion webhook for <group>/<version>, Kind=<Kind> failed: <why>`, as the
  real server does. Objects are converted in one review per request (a list is one review).

The CRD's `status.storedVersions` lists every version objects were stored at (see
`record_stored_version`). Pure plumbing: no HTTP parsing, no storage.
"""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

import aiohttp

from sandbox import errors
from sandbox.resources import Registry, ResourceType
from sandbox.store import Entry, dumps

if TYPE_CHECKING:  # admission imports the write path, which imports this module
    from sandbox.admission import WebhookAdmission

__all__ = ["CrdVersions", "record_stored_version"]


def record_stored_version(crd: dict[str, Any]) -> None:
    """Add the CRD's storage version to `status.storedVersions` (kept, never dropped)."""
    storage = [v["name"] for v in (crd.get("spec") or {}).get("versions", []) if v.get("storage")]
    status = crd.setdefault("status", {})
    stored = list(status.get("storedVersions") or [])
    for name in storage:
        if name not in stored:
            stored.append(name)
    status["storedVersions"] = stored


class CrdVersions:
    """Converts custom resources between the served versions of their CRD."""

    def __init__(self, registry: Registry, poster: WebhookAdmission) -> None:
        self.registry = registry
        self.poster = poster
        self.reviews = 0
        """How many ConversionReviews were sent (tests read it)."""

    @staticmethod
    def converts(rt: ResourceType) -> bool:
        """Whether `rt` is a custom resource version other than its storage version."""
        return rt.custom and bool(rt.storage_version) and rt.version != rt.storage_version

    def storage_type(self, rt: ResourceType) -> ResourceType:
        """The resource type objects of `rt` (a version that `converts`) are stored as."""
        return self.registry.lookup(rt.group, rt.storage_version, rt.plural) or rt

    async def to_storage(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        """A body written at `rt`'s version, converted to the storage version."""
        if not self.converts(rt):
            return obj
        storage = f"{rt.group}/{rt.storage_version}"
        return (await self.convert(rt, [obj], storage))[0]

    async def view(self, rt: ResourceType, entry: Entry) -> Entry:
        """A stored entry as `rt` serves it."""
        if not rt.custom or entry.obj.get("apiVersion") == rt.api_version:
            return entry
        return (await self.views(rt, [entry]))[0]

    async def views(self, rt: ResourceType, entries: list[Entry]) -> list[Entry]:
        """Stored entries as `rt` serves them (one ConversionReview for all of them). Objects
        stored at an earlier storage version are converted too, as kube-apiserver decodes them."""
        if not rt.custom or all(e.obj.get("apiVersion") == rt.api_version for e in entries):
            return entries
        objs = await self.convert(rt, [e.obj for e in entries], rt.api_version)
        return [
            e if o is e.obj else Entry(o, dumps(o), e.rv)
            for o, e in zip(objs, entries, strict=True)
        ]

    async def frames(self, rt: ResourceType, chunk: bytes) -> bytes:
        """Watch frames (one JSON event a line) with their objects converted to `rt`."""
        if not self.converts(rt) or not chunk:
            return chunk
        events = [json.loads(line) for line in chunk.splitlines() if line.strip()]
        idx = [
            i
            for i, ev in enumerate(events)
            if ev.get("type") in ("ADDED", "MODIFIED", "DELETED")
            and isinstance(ev.get("object"), dict)
        ]
        converted = await self.convert(rt, [events[i]["object"] for i in idx], rt.api_version)
        for i, obj in zip(idx, converted, strict=True):
            events[i]["object"] = obj
        for ev in events:
            if ev.get("type") == "BOOKMARK" and isinstance(ev.get("object"), dict):
                ev["object"]["apiVersion"] = rt.api_version
        return b"".join(dumps(ev) + b"\n" for ev in events)

    async def convert(
        self, rt: ResourceType, objs: list[dict[str, Any]], desired: str
    ) -> list[dict[str, Any]]:
        """`objs` (any served versions of `rt`'s CRD) at apiVersion `desired`."""
        todo = [i for i, o in enumerate(objs) if o.get("apiVersion") != desired]
        if not todo:
            return objs
        conversion = rt.conversion or {}
        out = list(objs)
        if conversion.get("strategy", "None") != "Webhook":
            for i in todo:
                out[i] = dict(objs[i], apiVersion=desired)
            return out
        converted = await self._review(rt, [objs[i] for i in todo], desired)
        for i, obj in zip(todo, converted, strict=True):
            out[i] = obj
        return out

    async def _review(
        self, rt: ResourceType, objs: list[dict[str, Any]], desired: str
    ) -> list[dict[str, Any]]:
        webhook = (rt.conversion or {}).get("webhook") or {}
        uid = str(uuid.uuid4())
        review = {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "ConversionReview",
            "request": {"uid": uid, "desiredAPIVersion": desired, "objects": objs},
        }
        self.reviews += 1
        try:
            body = await self.poster.post_json(webhook.get("clientConfig") or {}, review, 30.0)
            return _converted(body, uid, objs, desired)
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError, KeyError, TypeError) as exc:
            detail = "context deadline exceeded" if isinstance(exc, TimeoutError) else str(exc)
            raise errors.ApiError(
                500,
                "InternalError",
                f"conversion webhook for {rt.group}/{rt.storage_version}, Kind={rt.kind} failed: {detail}",
            ) from None


def _converted(
    body: Any, uid: str, objs: list[dict[str, Any]], desired: str
) -> list[dict[str, Any]]:
    """The converted objects of a ConversionReview response, checked as kube-apiserver does."""
    response = body.get("response") if isinstance(body, dict) else None
    if not isinstance(response, dict):
        raise ValueError("conversion webhook response has no 'response'")
    if response.get("uid") != uid:
        raise ValueError(f"expected response.uid={uid!r}, got {response.get('uid')!r}")
    result = response.get("result") or {}
    if result.get("status") != "Success":
        raise ValueError(str(result.get("message") or "the webhook did not report Success"))
    converted = response.get("convertedObjects")
    if not isinstance(converted, list) or len(converted) != len(objs):
        raise ValueError(
            f"expected {len(objs)} converted objects, got {len(converted) if isinstance(converted, list) else 0}"
        )
    for before, after in zip(objs, converted, strict=True):
        if not isinstance(after, dict) or after.get("apiVersion") != desired:
            raise ValueError(f"invalid converted object: expected apiVersion {desired}")
        old_meta, new_meta = before.get("metadata") or {}, after.get("metadata") or {}
        for key in ("uid", "name", "namespace"):
            if old_meta.get(key) != new_meta.get(key):
                raise ValueError(f"invalid converted object: metadata.{key} changed")
    return converted
