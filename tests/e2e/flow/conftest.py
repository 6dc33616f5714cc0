"""Fixtures: the sandbox (API server + simulated node) and the operator in-process, over real HTTP.

`cluster` gives a `Cluster`: the sandbox, a running `Operator` (webhooks registered by URL,
leader election on, spans into an InMemorySpanExporter) and a KubeClient for the test, plus
watch-free waiting helpers. A namespace `demo` opted in with KLT's annotation exists, and a
KeptnConfig with short definition/observability waits may be applied by a test.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from lifecycle.core import model
from lifecycle.core.model import ResourceKind
from lifecycle.flow.context import OperatorSettings
from lifecycle.kube import KubeClient, NotFound
from lifecycle.operator.root import Operator
from lifecycle.operator.server import ServerConfig
from lifecycle.operator.settings import RunSettings
from sandbox.server import Sandbox
from tests.support import sandbox as support_sandbox
from tests.support.waiting import wait_for_object

Body = dict[str, Any]
NAMESPACE = "demo"
KEPTN_NAMESPACE = "keptn-system"


@dataclass
class Cluster:
    sandbox: Sandbox
    operator: Operator
    client: KubeClient
    spans: InMemorySpanExporter
    namespace: str = NAMESPACE

    async def get(self, kind: ResourceKind, name: str, namespace: str | None = None) -> Body | None:
        try:
            return await self.client.get(kind, name, namespace or self.namespace)
        except NotFound:
            return None

    async def wait_for(
        self,
        kind: ResourceKind,
        name: str,
        predicate: Callable[[Body], bool] = lambda _: True,
        *,
        within: float = 20.0,
        namespace: str | None = None,
    ) -> Body:
        """Poll the API (not the operator's cache) until the object satisfies `predicate`."""
        found: Body = await wait_for_object(
            self.client,
            kind,
            name,
            namespace or self.namespace,
            lambda body: body is not None and predicate(body),
            within=within,
        )
        return found

    async def wait_list(
        self,
        kind: ResourceKind,
        predicate: Callable[[list[Body]], bool],
        *,
        within: float = 20.0,
        label_selector: str | None = None,
    ) -> list[Body]:
        last: list[Body] = []
        try:
            async with asyncio.timeout(within):
                while True:
                    last, _ = await self.client.list(
                        kind, self.namespace, label_selector=label_selector
                    )
                    if predicate(last):
                        return last
                    await asyncio.sleep(0.02)
        except TimeoutError:
            pytest.fail(
                f"{kind.plural} never matched; last seen: {[i['metadata']['name'] for i in last]}"
            )

    async def events(self, name: str | None = None) -> list[Body]:
        """Events of the namespace (optionally of one involved object), in creation order."""
        items, _ = await self.client.list(model.EVENT, self.namespace)
        if name is not None:
            items = [e for e in items if e["involvedObject"]["name"] == name]
        return sorted(
            items,
            key=lambda e: (e.get("eventTime") or "", int(e["metadata"].get("resourceVersion", 0))),
        )

    async def wait_events(self, name: str, last: str, *, within: float = 10.0) -> list[str]:
        """Reasons of the object's Events in order, once `last` is among them."""
        reasons: list[str] = []
        try:
            async with asyncio.timeout(within):
                while last not in reasons:
                    reasons = [e["reason"] for e in await self.events(name)]
                    await asyncio.sleep(0.02)
        except TimeoutError:
            pytest.fail(f"no {last} event on {name}; events: {reasons}")
        return reasons

    async def kubectl(self, *args: str, stdin: str | None = None, ok: bool = True) -> str:
        """Run the real kubectl against the sandbox (what a KLT user types); its stdout."""
        kubectl = shutil.which("kubectl")
        assert kubectl, "kubectl is installed in this environment"
        proc = await asyncio.create_subprocess_exec(
            kubectl,
            "--kubeconfig",
            str(self.sandbox.kubeconfig_path),
            *args,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(
            proc.communicate(stdin.encode() if stdin is not None else None), 60
        )
        if ok:
            assert proc.returncode == 0, f"kubectl {' '.join(args)}: {err.decode()}"
        return out.decode() + ("" if ok else err.decode())

    async def keptn_config(self, **spec: Any) -> None:
        body = {
            "apiVersion": model.KEPTN_CONFIG.api_version,
            "kind": model.KEPTN_CONFIG.kind,
            "metadata": {"name": "keptn-config", "namespace": KEPTN_NAMESPACE},
            "spec": spec,
        }
        changed = asyncio.Event()
        holder = self.operator.holder
        holder.listeners.append(lambda _: changed.set())
        await self.client.create(model.KEPTN_CONFIG, body, KEPTN_NAMESPACE)
        async with asyncio.timeout(10):  # applied once the KeptnConfig controller reconciled it
            await changed.wait()


def operator_settings(sandbox: Sandbox, tmp_path: Path, **overrides: Any) -> RunSettings:
    """Settings of an in-process operator against `sandbox` (free ports, webhooks by URL)."""
    values: dict[str, Any] = {
        "kubeconfig": str(sandbox.kubeconfig_path),
        "webhook_url_host": "127.0.0.1",
        "server": ServerConfig(host="127.0.0.1", webhook_port=0, metrics_port=0, probe_port=0),
        "cert_dir": tmp_path / "certs",
        "operator": OperatorSettings(keptn_namespace=KEPTN_NAMESPACE, workers=4),
    }
    values.update(overrides)
    return RunSettings(**values)


async def start_sandbox(tmp_path: Path, **node: Any) -> Sandbox:
    """The sandbox of this lane: its node's settings overridable, the test namespace opted in."""
    return await support_sandbox.start_sandbox(tmp_path, namespace=NAMESPACE, **node)


@contextlib.asynccontextmanager
async def running_cluster(tmp_path: Path, **node: Any) -> AsyncIterator[Cluster]:
    """The sandbox (node settings overridable, e.g. default_outcome) with a running operator."""
    sb = await start_sandbox(tmp_path, **node)
    spans = InMemorySpanExporter()
    operator = Operator(operator_settings(sb, tmp_path), span_exporter=spans)
    client = KubeClient.for_url(sb.url, token=sb.token)
    try:
        await operator.start()
        async with asyncio.timeout(15):
            await operator.wait_ready()
            await operator.wait_leading()
        yield Cluster(sandbox=sb, operator=operator, client=client, spans=spans)
    finally:
        await operator.stop()
        await client.close()
        await sb.stop()


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    async with running_cluster(tmp_path) as running:
        yield running
