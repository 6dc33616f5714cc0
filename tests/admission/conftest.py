"""Fixtures for the webhook tests: an in-memory AdmissionStore, a tracer with an in-memory exporter,
and a tiny RFC 6902 applier for the ``add`` operations the pod mutator emits."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from lifecycle.core.model import ResourceKind


class MemoryStore:
    """An AdmissionStore over a dict, recording every write; ``fail`` makes writes of a kind raise."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str | None, str], dict[str, Any]] = {}
        self.created: list[dict[str, Any]] = []
        self.updated: list[dict[str, Any]] = []
        self.warnings: list[tuple[str, str, str]] = []
        self.fail: set[str] = set()
        self.fail_reads = False
        self.reads: list[tuple[str, str | None, str]] = []
        self.stale: set[tuple[str, str | None, str]] = set()
        self.fresh_reads = 0

    def put(self, kind: str, body: dict[str, Any]) -> None:
        meta = body["metadata"]
        self.objects[(kind, meta.get("namespace"), meta["name"])] = body

    async def get(
        self, kind: ResourceKind, namespace: str | None, name: str, *, fresh: bool = False
    ) -> Mapping[str, Any] | None:
        self.reads.append((kind.kind, namespace, name))
        if not fresh and (kind.kind, namespace, name) in self.stale:
            return None  # a lagging informer cache
        if fresh:
            self.fresh_reads += 1
        if self.fail_reads:
            raise ConnectionError("API server unreachable")
        found = self.objects.get((kind.kind, namespace, name))
        return copy.deepcopy(found) if found is not None else None

    async def create(self, kind: ResourceKind, body: Mapping[str, Any]) -> bool:
        if kind.kind in self.fail:
            raise ConnectionError("API server unreachable")
        key = (kind.kind, body["metadata"]["namespace"], body["metadata"]["name"])
        if key in self.objects:
            return False
        stored = copy.deepcopy(dict(body))
        stored["metadata"]["resourceVersion"] = "1"
        self.objects[key] = stored
        self.created.append(stored)
        return True

    async def update(self, kind: ResourceKind, body: Mapping[str, Any]) -> bool:
        if kind.kind in self.fail:
            raise ConnectionError("API server unreachable")
        key = (kind.kind, body["metadata"]["namespace"], body["metadata"]["name"])
        stored = self.objects[key]
        if stored["metadata"].get("resourceVersion") != body["metadata"].get("resourceVersion"):
            return False
        self.objects[key] = copy.deepcopy(dict(body))
        self.objects[key]["metadata"]["resourceVersion"] = str(
            int(stored["metadata"]["resourceVersion"]) + 1
        )
        self.updated.append(self.objects[key])
        return True

    async def warn(self, obj: Mapping[str, Any], reason: str, message: str) -> None:
        self.warnings.append((obj["metadata"]["name"], reason, message))


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def spans() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def apply_patch(doc: Mapping[str, Any], ops: list[dict[str, Any]]) -> dict[str, Any]:
    """Apply RFC 6902 ``add`` operations (the only kind the mutator emits)."""
    result = copy.deepcopy(dict(doc))
    for op in ops:
        assert op["op"] == "add", op
        tokens = [_unescape(t) for t in op["path"].split("/")[1:]]
        target: Any = result
        for token in tokens[:-1]:
            target = target[int(token)] if isinstance(target, list) else target[token]
        last = tokens[-1]
        if isinstance(target, list):
            if last == "-":
                target.append(op["value"])
            else:
                target.insert(int(last), op["value"])
        else:
            target[last] = op["value"]
    return result


def decode_patch(response: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The JSONPatch of an AdmissionReview response ([] when none)."""
    raw = response["response"].get("patch")
    if raw is None:
        return []
    assert response["response"]["patchType"] == "JSONPatch"
    ops: list[dict[str, Any]] = json.loads(base64.b64decode(raw))
    return ops
