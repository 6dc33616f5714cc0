"""Aggregated APIs: `apiregistration.k8s.io/v1` APIService objects and the proxy they configure.

An APIService named `<version>.<group>` with a `spec.service` {namespace, name, port (443)}
makes the sandbox forward every request under `/apis/<group>/<version>` (after its own bearer
token check) to that service over HTTPS, as kube-apiserver's aggregator does: method, path,
query and body are passed on with the front-proxy headers `X-Remote-User: sandbox-admin` and
`X-Remote-Group: system:masters`, and the answer comes back as is. The service is reached like
an admission webhook's (the `webhook_services` setting, then the `sandbox.klt.dev/address`
annotation on the Service); TLS is checked against `spec.caBundle` for `<name>.<namespace>.svc`
unless `spec.insecureSkipTLSVerify` is true. An unreachable service answers 503
`the server is currently unable to handle the request`, as kube-apiserver does.
`GET /apis` and `/apis/<group>` list the aggregated groups beside the local ones. Kinds and
versions served by the sandbox itself (CRDs, built-ins) are never proxied. APIServices with
no `spec.service` (Local) register nothing.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
from aiohttp import web

from sandbox import errors
from sandbox.admission import WebhookAdmission
from sandbox.discovery import group_document
from sandbox.requestinfo import json_answer
from sandbox.resources import Registry, ResourceType
from sandbox.store import Store

__all__ = ["APISERVICE", "Aggregator"]

APISERVICE = ResourceType(
    group="apiregistration.k8s.io",
    version="v1",
    plural="apiservices",
    kind="APIService",
    namespaced=False,
    singular="apiservice",
    has_status=True,
)
_KEY = APISERVICE.store_key
_HOP_HEADERS = {"host", "authorization", "content-length", "transfer-encoding", "connection"}


class Aggregator:
    """Proxies the group/versions registered by APIService objects."""

    def __init__(self, store: Store, registry: Registry, resolver: WebhookAdmission) -> None:
        self.store = store
        self.registry = registry
        self.resolver = resolver
        registry.add(APISERVICE)

    def services(self) -> list[dict[str, Any]]:
        """The APIServices that point at a service."""
        entries = self.store.bucket(_KEY).entries("")
        return [e.obj for e in entries if (e.obj.get("spec") or {}).get("service")]

    def _find(self, group: str, version: str) -> dict[str, Any] | None:
        entry = self.store.get(_KEY, "", f"{version}.{group}")
        if entry is None or not (entry.obj.get("spec") or {}).get("service"):
            return None
        if self.registry.in_group_version(group, version):
            return None  # served here: never proxied
        return entry.obj

    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        parts = request.path.rstrip("/").split("/")
        if len(parts) >= 4 and parts[1] == "apis":
            apiservice = self._find(parts[2], parts[3])
            if apiservice is not None:
                return await self._proxy(request, apiservice)
        if request.method == "GET" and self._group_only(parts):
            return self._group(parts[2])
        response: web.StreamResponse = await handler(request)
        if request.method == "GET" and len(parts) == 2 and parts[1] == "apis":
            return self._with_groups(response)
        return response

    def _group_only(self, parts: list[str]) -> bool:
        """`/apis/<group>` of a group only aggregated APIs serve."""
        return (
            len(parts) == 3
            and parts[1] == "apis"
            and parts[2] not in self.registry.groups()
            and any(s["spec"].get("group") == parts[2] for s in self.services())
        )

    def _entries(self) -> dict[str, list[dict[str, str]]]:
        out: dict[str, list[dict[str, str]]] = {}
        ordered = sorted(self.services(), key=lambda s: -int(s["spec"].get("versionPriority") or 0))
        for svc in ordered:
            group, version = svc["spec"].get("group", ""), svc["spec"].get("version", "")
            if group in self.registry.groups():
                continue
            out.setdefault(group, []).append(
                {"groupVersion": f"{group}/{version}", "version": version}
            )
        return out

    def _with_groups(self, response: web.StreamResponse) -> web.StreamResponse:
        if not isinstance(response, web.Response) or response.status != 200 or not response.body:
            return response
        assert isinstance(response.body, bytes)
        doc = json.loads(response.body)
        for group, versions in self._entries().items():
            doc.setdefault("groups", []).append(
                {"name": group, "versions": versions, "preferredVersion": versions[0]}
            )
        return json_answer(doc)

    def _group(self, group: str) -> web.Response:
        return json_answer(group_document(group, self._entries()[group]))

    async def _proxy(self, request: web.Request, apiservice: dict[str, Any]) -> web.Response:
        spec = apiservice["spec"]
        svc = spec["service"]
        config = {"service": dict(svc, port=int(svc.get("port") or 443), path=request.path_qs)}
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
        headers.update({"X-Remote-User": "sandbox-admin", "X-Remote-Group": "system:masters"})
        try:
            url, server_name = self.resolver.address(config)
            insecure = bool(spec.get("insecureSkipTLSVerify"))
            session = self.resolver.session(str(spec.get("caBundle") or ""), insecure=insecure)
            async with session.request(
                request.method,
                url,
                data=await request.read(),
                headers=headers,
                server_hostname=None if insecure else server_name,
                timeout=aiohttp.ClientTimeout(total=30),
            ) as resp:
                body = await resp.read()
                ctype = resp.headers.get("Content-Type", "application/json")
                return web.Response(body=body, status=resp.status, headers={"Content-Type": ctype})
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise errors.ApiError(
                503,
                "ServiceUnavailable",
                f"the server is currently unable to handle the request ({apiservice['metadata']['name']}: {exc})",
            ) from None
