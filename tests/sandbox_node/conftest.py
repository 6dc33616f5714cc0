"""Fixtures: the real sandbox API server (without its own node) plus our node, over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sandbox.node import NodeHandle, NodeSettings, start_node
from sandbox.node.client import ApiClient, Gone, Resource, Transient
from sandbox.server import Sandbox

Body = dict[str, Any]
NS_RES = Resource("", "v1", "namespaces", namespaced=False)


@dataclass
class Cluster:
    """A running sandbox with our node and a client for the test."""

    api: ApiClient
    node: NodeHandle
    namespace: str

    async def wait_for(
        self,
        res: Resource,
        name: str,
        predicate: Callable[[Body | None], bool],
        within: float = 15.0,
    ) -> Body | None:
        """Wait (watch-driven) until the object satisfies ``predicate`` (None = deleted)."""
        last: Body | None = None

        async def run() -> Body | None:
            nonlocal last
            while True:
                try:
                    items, rv = await self.api.list(res, self.namespace)
                    last = next((i for i in items if i["metadata"]["name"] == name), None)
                    if predicate(last):
                        return last
                    async for event in self.api.watch(res, rv, timeout_seconds=30):
                        meta = event.object.get("metadata", {})
                        if meta.get("name") != name or meta.get("namespace") != self.namespace:
                            continue
                        last = None if event.type == "DELETED" else event.object
                        if predicate(last):
                            return last
                except (Gone, Transient):  # injected faults: list again
                    await asyncio.sleep(0.02)

        try:
            async with asyncio.timeout(within):
                return await run()
        except TimeoutError:
            pytest.fail(f"{res.plural}/{name} never matched; last seen: {last}")

    async def wait_list(
        self,
        res: Resource,
        selector: str,
        predicate: Callable[[list[Body]], bool],
        within: float = 15.0,
    ) -> list[Body]:
        """Wait (watch-driven) until the live objects matching ``selector`` satisfy ``predicate``."""
        last: list[Body] = []

        async def run() -> list[Body]:
            nonlocal last
            while True:
                try:
                    items, rv = await self.api.list(res, self.namespace, label_selector=selector)
                    last = [i for i in items if not i["metadata"].get("deletionTimestamp")]
                    if predicate(last):
                        return last
                    async for _event in self.api.watch(res, rv, timeout_seconds=30):
                        break  # something changed: list again
                except (Gone, Transient):
                    await asyncio.sleep(0.02)

        try:
            async with asyncio.timeout(within):
                return await run()
        except TimeoutError:
            pytest.fail(f"{res.plural} {selector} never matched; last seen: {last}")


async def running_cluster(tmp_path: Path, settings: NodeSettings) -> AsyncIterator[Cluster]:
    sb = await Sandbox.start(node=False)
    node = await start_node(sb.url, sb.token, settings)
    api = ApiClient(sb.url, sb.token)
    try:
        async with asyncio.timeout(10):
            await node.wait_synced()
        await api.create(
            NS_RES, None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}}
        )
        yield Cluster(api=api, node=node, namespace="demo")
    finally:
        await api.close()
        await node.stop()
        await sb.stop()


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    """Sandbox + node with no pod start delay."""
    settings = NodeSettings(pod_start_delay=0.0, work_dir=tmp_path / "node")
    async for c in running_cluster(tmp_path, settings):
        yield c


@pytest.fixture
async def slow_cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    """Sandbox + node whose pods take 0.4 s to start."""
    settings = NodeSettings(pod_start_delay=0.4, work_dir=tmp_path / "node")
    async for c in running_cluster(tmp_path, settings):
        yield c
