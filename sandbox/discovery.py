"""Discovery and OpenAPI documents, built from the registry on each request.

Serves `/version`, `/api`, `/api/v1`, `/apis`, `/apis/<group>`, `/apis/<group>/<version>` in the
legacy (non-aggregated) format every client accepts, and `/openapi/v3` (+ per group-version
documents) whose PATCH/POST operations declare the `fieldValidation` parameter: kubectl then
validates server-side (`fieldValidation=Strict`) instead of needing every built-in schema.
Custom resource schemas are included as components. `/openapi/v2` is served as JSON only; a
protobuf-only request gets 406, which client-go treats as "no v2 here". Pure: returns dicts.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sandbox.resources import Registry, ResourceType

__all__ = [
    "KUBE_VERSION",
    "api_group",
    "api_group_list",
    "api_versions",
    "group_document",
    "openapi_v2",
    "openapi_v3_gv",
    "openapi_v3_root",
    "resource_list",
    "version_info",
]

KUBE_VERSION = ("1", "30", "v1.30.0")
"""The version reported: kubectl's dispatcher picks its matching 1.30 client for it."""


def version_info() -> dict[str, Any]:
    major, minor, git = KUBE_VERSION
    return {
        "major": major,
        "minor": minor,
        "gitVersion": git,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.22.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


def api_versions(address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}],
    }


def group_document(name: str, versions: list[dict[str, str]]) -> dict[str, Any]:
    """An APIGroup: its versions (`groupVersion`, `version`), the preferred one first."""
    return {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": name,
        "versions": versions,
        "preferredVersion": versions[0],
    }


def api_group(registry: Registry, group: str) -> dict[str, Any] | None:
    versions = registry.groups().get(group)
    if not versions:
        return None
    return group_document(group, [{"groupVersion": f"{group}/{v}", "version": v} for v in versions])


def api_group_list(registry: Registry) -> dict[str, Any]:
    docs = [api_group(registry, group) or {} for group in registry.groups()]
    groups = [{k: v for k, v in doc.items() if k not in ("kind", "apiVersion")} for doc in docs]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def resource_list(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    types = registry.in_group_version(group, version)
    if not types:
        return None
    resources: list[dict[str, Any]] = []
    for rt in sorted(types, key=lambda r: r.plural):
        resources.extend(rt.api_resources())
    gv = f"{group}/{version}" if group else version
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": gv,
        "resources": resources,
    }


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _schema_name(rt: ResourceType) -> str:
    group = ".".join(reversed(rt.group.split("."))) if rt.group else "io.k8s.api.core"
    return f"{group}.{rt.version}.{rt.kind}"


def _operation(
    rt: ResourceType, action: str, body_types: list[str] | None = None
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": f"{action}{rt.kind}",
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {
            "group": rt.group,
            "version": rt.version,
            "kind": rt.kind,
        },
        "parameters": [
            {"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
            for name in ("dryRun", "fieldManager", "fieldValidation")
        ],
        "responses": {
            "200": {
                "description": "OK",
                "content": {
                    "application/json": {
                        "schema": {"$ref": f"#/components/schemas/{_schema_name(rt)}"}
                    }
                },
            }
        },
    }
    if body_types:
        op["requestBody"] = {
            "content": {t: {"schema": {"type": "object"}} for t in body_types},
            "required": True,
        }
    return op


def openapi_v3_gv(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    types = registry.in_group_version(group, version)
    if not types:
        return None
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    prefix = "/" + _gv_path(group, version)
    for rt in types:
        base = (
            f"{prefix}/namespaces/{{namespace}}/{rt.plural}"
            if rt.namespaced
            else f"{prefix}/{rt.plural}"
        )
        patch_types = [
            "application/json-patch+json",
            "application/merge-patch+json",
            "application/apply-patch+yaml",
        ]
        paths[base] = {"post": _operation(rt, "post", ["application/json"])}
        paths[f"{base}/{{name}}"] = {
            "get": _operation(rt, "get"),
            "put": _operation(rt, "put", ["application/json"]),
            "patch": _operation(rt, "patch", patch_types),
        }
        if rt.has_status:
            paths[f"{base}/{{name}}/status"] = {"patch": _operation(rt, "patch", patch_types)}
        schema = schemas[_schema_name(rt)] = _component(rt)
        if rt.schema is not None:
            schema.setdefault("properties", {}).setdefault("metadata", {"type": "object"})
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": KUBE_VERSION[2]},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def _component(rt: ResourceType) -> dict[str, Any]:
    """A copy of the kind's schema (or any object) naming its group, version and kind."""
    schema = json.loads(json.dumps(rt.schema)) if rt.schema is not None else {"type": "object"}
    schema["x-kubernetes-group-version-kind"] = [
        {"group": rt.group, "version": rt.version, "kind": rt.kind}
    ]
    return schema


def openapi_v3_root(registry: Registry) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    gvs = {(g, v) for g, v, _ in registry.types}
    for group, version in sorted(gvs):
        doc = openapi_v3_gv(registry, group, version)
        digest = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:32].upper()
        path = _gv_path(group, version)
        paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}
    return {"paths": paths}


def _pb_string(field_no: int, value: bytes) -> bytes:
    return bytes([field_no << 3 | 2]) + _varint(len(value)) + value


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def openapi_v2_protobuf() -> bytes:
    """An empty OpenAPI v2 document in gnostic's protobuf encoding (what client-go asks for).

    It has no definitions: kubectl then skips client-side validation of kinds it cannot find
    and falls back to its compiled-in types for strategic merge, as with a real server that
    lacks a schema. Fields: swagger=1, info=2 (title=1, version=2), paths=8.
    """
    info = _pb_string(1, b"Kubernetes") + _pb_string(2, KUBE_VERSION[2].encode())
    return _pb_string(1, b"2.0") + _pb_string(2, info) + _pb_string(8, b"")


def openapi_v2(registry: Registry) -> dict[str, Any]:
    definitions: dict[str, Any] = {}
    for rt in registry.types.values():
        definitions[_schema_name(rt)] = _component(rt)
    return {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": KUBE_VERSION[2]},
        "paths": {},
        "definitions": definitions,
    }
