"""Fixtures for the sandbox API server tests: a running sandbox and clients for it.

Each test gets a fresh in-memory sandbox (no node agent) serving the fixture CRD
`widgets.sandbox.klt.dev`, plus a kubernetes_asyncio ApiClient built from its kubeconfig
(HTTPS with the sandbox's CA and bearer token), exactly as an operator would connect.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from kubernetes_asyncio import client, config

from sandbox.server import Sandbox

FIXTURES = Path(__file__).parent / "fixtures"
GROUP, VERSION, PLURAL = "sandbox.klt.dev", "v1", "widgets"
MERGE = "application/merge-patch+json"


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(crds_dir=FIXTURES, node=False, bookmark_interval=0.3) as sb:
        yield sb


@pytest.fixture
async def kube(sandbox: Sandbox) -> AsyncIterator[client.ApiClient]:
    api = await config.new_client_from_config(config_file=str(sandbox.kubeconfig_path))
    async with api:
        yield api


def widget(name: str, mode: str = "fast", **spec: object) -> dict[str, object]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Widget",
        "metadata": {"name": name},
        "spec": {"mode": mode, **spec},
    }
