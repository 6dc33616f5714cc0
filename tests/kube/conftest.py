"""Fixtures for lifecycle.kube tests: a sandbox API server (no node) and a KubeClient on it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from lifecycle.core.model import NAMESPACE
from lifecycle.kube.client import KubeClient
from sandbox import Sandbox

NAMESPACES = (
    "ev",
    "inf",
    "gap",
    "w",
    "quiet",
    "pages",
    "lease",
    "faults",
    *(f"share-{i}" for i in range(5)),
)


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(node=False, bookmark_interval=0.5) as sb:
        yield sb


@pytest.fixture
async def client(sandbox: Sandbox) -> AsyncIterator[KubeClient]:
    kc = KubeClient.for_url(sandbox.url, token=sandbox.token)
    for ns in NAMESPACES:
        await kc.create(NAMESPACE, {"metadata": {"name": ns}})
    kc.reset_counts()
    try:
        yield kc
    finally:
        await kc.close()
