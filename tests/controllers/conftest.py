"""Fixtures: a sandbox (API server + node running the real runners) and an operator context
built here with only the child controllers, over real HTTP with the real kubernetes_asyncio client.

`Operator` is one "process": its own client, informers, recorders, telemetry registry and span
sink. `operator_factory` can start a second one against the same sandbox (a restart).
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from prometheus_client import CollectorRegistry

from lifecycle.controllers import analysis, evaluation, metric, task, taskdefinition
from lifecycle.core import model
from lifecycle.core.machine import MachineConfig
from lifecycle.core.model import ResourceKind
from lifecycle.flow.context import (
    INDEXES,
    KINDS,
    ConfigHolder,
    OperatorContext,
    OperatorSettings,
)
from lifecycle.kube import Controller, EventRecorder, Informer, KubeClient, NotFound, ObjectKey
from lifecycle.observability.cloudevents import CloudEventSender
from lifecycle.observability.telemetry import Telemetry
from lifecycle.operator.wiring import Recorders
from sandbox.node import NodeSettings
from sandbox.server import Sandbox
from tests.evaluator.promlauncher import Prometheus, running_prometheus
from tests.support.waiting import wait_for_object

Body = dict[str, Any]
NAMESPACE = "demo"
SETUPS: dict[str, Callable[[OperatorContext], Controller[ObjectKey]]] = {
    "taskdefinition": taskdefinition.setup,
    "task": task.setup,
    "evaluation": evaluation.setup,
    "metric": metric.setup,
    "analysis": analysis.setup,
}
COMPONENTS = (
    "keptntask-controller",
    "keptntaskdefinition-controller",
    "keptnevaluation-controller",
)


class MemorySpans:
    """A SpanSink keeping every exported span."""

    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []
        self._resource = Resource.create({"service.name": "test"})

    @property
    def resource(self) -> Resource:
        return self._resource

    def export(self, spans: Sequence[ReadableSpan]) -> None:
        self.spans.extend(spans)


@dataclass
class Operator:
    """One running operator context with some child controllers."""

    ctx: OperatorContext
    controllers: dict[str, Controller[ObjectKey]]
    spans: MemorySpans
    registry: CollectorRegistry
    informers: list[Informer] = field(default_factory=list)

    async def stop(self) -> None:
        for c in self.controllers.values():
            await c.stop(grace=2.0)
        for r in self.ctx.recorders.values():
            await r.flush()
        for i in self.informers:
            await i.stop()
        await self.ctx.client.close()


@dataclass
class Env:
    """The sandbox plus helpers for a test (its own client, waiting on objects)."""

    sandbox: Sandbox
    client: KubeClient
    namespace: str = NAMESPACE

    async def create(self, kind: ResourceKind, body: Body) -> Body:
        body.setdefault("metadata", {}).setdefault("namespace", self.namespace)
        return await self.client.create(kind, body)

    async def get(self, kind: ResourceKind, name: str) -> Body | None:
        try:
            return await self.client.get(kind, name, self.namespace)
        except NotFound:
            return None

    async def wait_for(
        self,
        kind: ResourceKind,
        name: str,
        predicate: Callable[[Body | None], bool],
        within: float = 20.0,
    ) -> Any:
        """Read until the object satisfies ``predicate`` (None = gone); fail with the last seen."""
        return await wait_for_object(
            self.client, kind, name, self.namespace, predicate, within=within
        )

    async def secret(self, name: str, data: dict[str, str]) -> None:
        encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
        await self.create(
            model.SECRET, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
                           "data": encoded}
        )  # fmt: skip


async def start_operator(
    sb: Sandbox,
    names: Sequence[str],
    *,
    definition_wait: float = 30.0,
    max_jobs: int = 50,
) -> Operator:
    """Build an OperatorContext against ``sb`` and start the named controllers."""
    client = KubeClient.for_url(sb.url, token=sb.token)
    informers = {
        kind: Informer(client, kind, indexes=dict(INDEXES.get(kind, {})), timeout_seconds=60)
        for kind in KINDS
    }
    registry = CollectorRegistry()
    telemetry = Telemetry(registry, process_metrics=False)
    spans = MemorySpans()
    holder = ConfigHolder(machine=MachineConfig(definition_wait=timedelta(seconds=definition_wait)))
    ctx = OperatorContext(
        client=client,
        informers=informers,
        recorders=Recorders(lambda component: EventRecorder(client, component)),
        telemetry=telemetry,
        spans=spans,
        cloudevents=CloudEventSender(None, telemetry),
        settings=OperatorSettings(keptn_namespace="keptn-system", max_concurrent_jobs=max_jobs),
        holder=holder,
    )
    controllers = {name: SETUPS[name](ctx) for name in names}
    for inf in informers.values():
        inf.start()
    async with asyncio.timeout(10):
        await asyncio.gather(*(inf.wait_synced() for inf in informers.values()))
    for c in controllers.values():
        c.start()
    return Operator(ctx, controllers, spans, registry, list(informers.values()))


OperatorFactory = Callable[..., Awaitable[Operator]]


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    settings = NodeSettings(pod_start_delay=0.0, work_dir=tmp_path / "node")
    sb = await Sandbox.start(node_settings=settings)
    client = KubeClient.for_url(sb.url, token=sb.token)
    try:
        await client.create(
            model.NAMESPACE,
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
        )
        yield Env(sb, client)
    finally:
        await client.close()
        await sb.stop()


@pytest.fixture
async def operator_factory(env: Env) -> AsyncIterator[OperatorFactory]:
    """``await operator_factory(["task", ...], definition_wait=s)``; all are stopped at the end."""
    started: list[Operator] = []

    async def factory(names: Sequence[str], **kwargs: Any) -> Operator:
        op = await start_operator(env.sandbox, names, **kwargs)
        started.append(op)
        return op

    try:
        yield factory
    finally:
        for op in started:
            await op.stop()


# --- Prometheus --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def prometheus() -> Iterator[Prometheus]:
    """A real Prometheus (no history; tests push their own live samples)."""
    with running_prometheus(()) as prom:
        yield prom


async def flush_events(op: Operator) -> None:
    """Wait until every Event the operator emitted so far is written."""
    for recorder in op.ctx.recorders.values():
        await recorder.flush()
