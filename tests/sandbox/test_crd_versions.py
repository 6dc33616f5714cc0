"""CRDs with several served versions: storage version, storedVersions, discovery, conversion
strategy None (apiVersion rewritten) and Webhook (a ConversionReview to the CRD's clientConfig,
as kube-apiserver sends it) for create, get, list, patch and watch at a non-storage version."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from sandbox.server import Sandbox
from tests.sandbox.conftest import FIXTURES, MERGE
from tests.support.http import serve

GROUP = "gadgets.klt.dev"


def _schema(field: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": {"type": "object", "properties": {field: {"type": "integer"}}},
        },
    }


def gadget_crd(strategy: str, url: str = "", storage: str = "v1") -> dict[str, Any]:
    """v1 has spec.speed, v1beta1 calls it spec.rate."""
    conversion: dict[str, Any] = {"strategy": strategy}
    if strategy == "Webhook":
        conversion["webhook"] = {"conversionReviewVersions": ["v1"], "clientConfig": {"url": url}}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"gadgets.{GROUP}"},
        "spec": {
            "group": GROUP,
            "names": {
                "kind": "Gadget",
                "listKind": "GadgetList",
                "plural": "gadgets",
                "singular": "gadget",
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": v,
                    "served": True,
                    "storage": v == storage,
                    "schema": {"openAPIV3Schema": _schema(f)},
                }
                for v, f in (("v1", "speed"), ("v1beta1", "rate"))
            ],
            "conversion": conversion,
        },
    }


class Converter:
    """A conversion webhook over plain HTTP: renames spec.speed (v1) <-> spec.rate (v1beta1)."""

    def __init__(self) -> None:
        self.reviews: list[dict[str, Any]] = []
        self.fail = False
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        review = await request.json()
        self.reviews.append(review)
        req = review["request"]
        if self.fail:
            result = {"status": "Failure", "message": "cannot convert today"}
            return web.json_response({"response": {"uid": req["uid"], "result": result}})
        desired = req["desiredAPIVersion"]
        out = []
        for obj in req["objects"]:
            spec = dict(obj.get("spec") or {})
            if desired.endswith("/v1beta1") and "speed" in spec:
                spec["rate"] = spec.pop("speed")
            if desired.endswith("/v1") and "rate" in spec:
                spec["speed"] = spec.pop("rate")
            out.append(dict(obj, apiVersion=desired, spec=spec))
        response = {"uid": req["uid"], "result": {"status": "Success"}, "convertedObjects": out}
        return web.json_response(
            {
                "apiVersion": "apiextensions.k8s.io/v1",
                "kind": "ConversionReview",
                "response": response,
            }
        )


@pytest.fixture
async def converter() -> AsyncIterator[Converter]:
    conv = Converter()
    app = web.Application()
    app.router.add_post("/convert", conv.handle)
    async with serve(app) as base:
        conv.url = f"{base}/convert"
        yield conv


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def _call(
    sb: Sandbox,
    http: aiohttp.ClientSession,
    method: str,
    path: str,
    body: Any = None,
    ctype: str = "application/json",
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {sb.token}", "Content-Type": ctype}
    data = json.dumps(body) if body is not None else None
    async with http.request(method, sb.url + path, data=data, headers=headers) as resp:
        return resp.status, await resp.json()


def _path(version: str, name: str = "") -> str:
    base = f"/apis/{GROUP}/{version}/namespaces/default/gadgets"
    return f"{base}/{name}" if name else base


def _gadget(version: str, name: str, **spec: int) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{version}",
        "kind": "Gadget",
        "metadata": {"name": name},
        "spec": spec,
    }


async def test_webhook_converts_every_verb_at_a_non_storage_version(
    converter: Converter, http: aiohttp.ClientSession
) -> None:
    async with Sandbox(crds_dir=FIXTURES, node=False) as sb:
        crd_path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
        code, crd = await _call(sb, http, "POST", crd_path, gadget_crd("Webhook", converter.url))
        assert code == 201 and crd["status"]["storedVersions"] == ["v1"]
        code, body = await _call(
            sb, http, "POST", _path("v1beta1"), _gadget("v1beta1", "g1", rate=5)
        )
        assert code == 201, body
        assert body["apiVersion"] == f"{GROUP}/v1beta1" and body["spec"] == {"rate": 5}
        stored = sb.store.get(f"gadgets.{GROUP}", "default", "g1")
        assert stored is not None and stored.obj["apiVersion"] == f"{GROUP}/v1"
        assert stored.obj["spec"] == {"speed": 5}  # stored at the storage version
        _, at_v1 = await _call(sb, http, "GET", _path("v1", "g1"))
        assert at_v1["spec"] == {"speed": 5}
        code, patched = await _call(
            sb, http, "PATCH", _path("v1beta1", "g1"), {"spec": {"rate": 7}}, MERGE
        )
        assert code == 200 and patched["spec"] == {"rate": 7}
        _, listed = await _call(sb, http, "GET", _path("v1beta1"))
        assert listed["apiVersion"] == f"{GROUP}/v1beta1"
        assert [i["spec"] for i in listed["items"]] == [{"rate": 7}]
        watched = await _watch(sb, http, _path("v1beta1") + "?watch=1&timeoutSeconds=1")
        assert [(e["type"], e["object"]["spec"]) for e in watched] == [("ADDED", {"rate": 7})]
        assert all(r["request"]["desiredAPIVersion"].startswith(GROUP) for r in converter.reviews)
        # discovery: both versions, the highest (v1) preferred
        _, group = await _call(sb, http, "GET", f"/apis/{GROUP}")
        assert [v["version"] for v in group["versions"]] == ["v1", "v1beta1"]
        assert group["preferredVersion"]["version"] == "v1"
        # a new storage version joins storedVersions; objects keep being served
        crd["spec"] = gadget_crd("Webhook", converter.url, storage="v1beta1")["spec"]
        code, crd = await _call(sb, http, "PUT", f"{crd_path}/gadgets.{GROUP}", crd)
        assert code == 200 and crd["status"]["storedVersions"] == ["v1", "v1beta1"]
        _, again = await _call(sb, http, "GET", _path("v1beta1", "g1"))
        assert again["spec"] == {"rate": 7}


async def test_a_failing_conversion_webhook_answers_500(
    converter: Converter, http: aiohttp.ClientSession
) -> None:
    async with Sandbox(crds_dir=FIXTURES, node=False) as sb:
        crd_path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
        await _call(sb, http, "POST", crd_path, gadget_crd("Webhook", converter.url))
        converter.fail = True
        code, body = await _call(
            sb, http, "POST", _path("v1beta1"), _gadget("v1beta1", "g1", rate=5)
        )
        assert code == 500
        assert body["message"] == (
            f"conversion webhook for {GROUP}/v1, Kind=Gadget failed: cannot convert today"
        )
        assert sb.store.get(f"gadgets.{GROUP}", "default", "g1") is None


async def test_strategy_none_rewrites_only_the_api_version(http: aiohttp.ClientSession) -> None:
    async with Sandbox(crds_dir=FIXTURES, node=False) as sb:
        crd = gadget_crd("None")
        for v in crd["spec"]["versions"]:  # same fields at both versions, as None requires
            v["schema"]["openAPIV3Schema"] = _schema("speed")
        await _call(
            sb, http, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd
        )
        code, _ = await _call(sb, http, "POST", _path("v1beta1"), _gadget("v1beta1", "g1", speed=3))
        assert code == 201
        _, at_v1 = await _call(sb, http, "GET", _path("v1", "g1"))
        assert at_v1["apiVersion"] == f"{GROUP}/v1" and at_v1["spec"] == {"speed": 3}
        watched = await _watch(sb, http, _path("v1beta1") + "?watch=1&timeoutSeconds=1")
        assert watched[0]["object"]["apiVersion"] == f"{GROUP}/v1beta1"


async def _watch(sb: Sandbox, http: aiohttp.ClientSession, path: str) -> list[dict[str, Any]]:
    headers = {"Authorization": f"Bearer {sb.token}"}
    async with http.get(sb.url + path, headers=headers) as resp:
        assert resp.status == 200
        return [json.loads(line) async for line in resp.content if line.strip()]
