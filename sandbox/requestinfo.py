"""What a resource request asks for: the target its URL names, its verb, its options.

Pure parsing of aiohttp requests for `sandbox.handlers` and `sandbox.routes` (no state): the
`Target` of `/api/v1/...` and `/apis/<group>/<version>/...` URLs as kube-apiserver's
RequestInfo resolves them, the verb, the write options of the query (`dryRun`,
`fieldManager`, `fieldValidation`, `force`), request bodies (JSON, or YAML when sent as
YAML) and DeleteOptions; and the JSON answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from aiohttp import web

from sandbox import errors, jsonio
from sandbox.resources import Registry, ResourceType
from sandbox.store import dumps
from sandbox.writes import WriteOptions

__all__ = [
    "JSON",
    "TRUE",
    "Target",
    "delete_options",
    "dry_run",
    "json_answer",
    "json_body",
    "json_response",
    "parse_target",
    "request_verb",
    "wants_table",
    "write_options",
]

JSON = "application/json"
TRUE = ("1", "true", "True", "TRUE")


def json_response(raw: bytes, status: int = 200) -> web.Response:
    return web.Response(body=raw, status=status, content_type=JSON)


def json_answer(body: Any, status: int = 200) -> web.Response:
    """A JSON document as the response."""
    return json_response(dumps(body), status)


def wants_table(request: web.Request) -> bool:
    return "as=Table" in request.headers.get("Accept", "")


@dataclass(frozen=True, slots=True)
class Target:
    """What a resource URL names."""

    rt: ResourceType
    namespace: str
    """The namespace the URL names ("" for none)."""
    name: str
    """The object the URL names ("" for a collection)."""
    subresource: str


def parse_target(registry: Registry, group: str, version: str, tail: str) -> Target:
    """The resource, namespace, name and subresource a URL names (404 for anything else)."""
    segs = [s for s in tail.split("/") if s]
    if segs and segs[0] == "watch":
        segs = segs[1:]
    namespace = ""
    if (
        len(segs) >= 3
        and segs[0] == "namespaces"
        and (len(segs) >= 4 or segs[2] not in ("status", "finalize"))
    ):
        namespace, segs = segs[1], segs[2:]
    if not segs or len(segs) > 3:
        raise errors.no_such_path()
    rt = registry.lookup(group, version, segs[0])
    if rt is None or (namespace and not rt.namespaced):
        raise errors.no_such_path()
    name = segs[1] if len(segs) > 1 else ""
    sub = segs[2] if len(segs) > 2 else ""
    if sub and not (sub == "status" and rt.has_status) and sub not in rt.subresources:
        raise errors.no_such_path()
    if rt.namespaced and name and not namespace:
        raise errors.no_such_path()
    return Target(rt, namespace, name, sub)


def request_verb(request: web.Request, has_name: bool) -> str:
    """The API verb of a request (watch and list are both GETs of a collection)."""
    method = request.method
    if method == "GET":
        if not has_name:
            return "watch" if request.query.get("watch") in TRUE else "list"
        return "get"
    return {
        "POST": "create",
        "PUT": "update",
        "PATCH": "patch",
        "DELETE": "delete" if has_name else "deletecollection",
    }.get(method, method.lower())


def dry_run(request: web.Request) -> bool:
    return "All" in request.query.getall("dryRun", [])


def write_options(request: web.Request) -> WriteOptions:
    q = request.query
    return WriteOptions(
        dry_run=dry_run(request),
        field_manager=q.get("fieldManager", ""),
        field_validation=q.get("fieldValidation", ""),
        force=q.get("force") in TRUE,
    )


async def json_body(request: web.Request) -> Any:
    raw = await request.read()
    try:
        return jsonio.loads(raw)
    except ValueError:
        ctype = request.headers.get("Content-Type", "")
        if "yaml" in ctype:
            return yaml.safe_load(raw)
        raise errors.bad_request("the body of the request could not be decoded as JSON") from None


async def delete_options(request: web.Request) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if request.can_read_body:
        raw = await request.read()
        if raw.strip():
            try:
                body = jsonio.loads(raw)
            except ValueError:
                raise errors.bad_request("invalid DeleteOptions body") from None
            if isinstance(body, dict):
                options.update(body)
    q = request.query
    if q.get("propagationPolicy"):
        options["propagationPolicy"] = q["propagationPolicy"]
    if q.get("orphanDependents"):
        options["orphanDependents"] = q["orphanDependents"] in TRUE
    if q.get("gracePeriodSeconds"):
        options["gracePeriodSeconds"] = int(q["gracePeriodSeconds"])
    return options
