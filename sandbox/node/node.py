"""Composition of the simulated node: informers, work queues, controllers, kubelet.

``start_node`` returns at once (the informers connect in the background and retry, so the API
server may call it before it serves); ``NodeHandle.wait_synced()`` waits for the first lists.
Event routing: a pod wakes the kubelet and its controller owner; a ReplicaSet wakes itself
and its Deployment or Argo Rollout (the sandbox always serves the Rollout CRD). Nothing here
polls.
"""

from __future__ import annotations

import asyncio
import functools
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox.node.client import PODS, ApiClient, Resource, Transport
from sandbox.node.controllers import OWNERS, Controllers
from sandbox.node.informer import Informer, Key, key_of
from sandbox.node.kubelet import Kubelet
from sandbox.node.runtime import Runtime
from sandbox.node.settings import NodeSettings
from sandbox.node.workqueue import WorkQueue

__all__ = ["NodeHandle", "start_node"]

Body = dict[str, Any]


@dataclass
class NodeHandle:
    """A running node; ``await stop()`` ends it and removes its scratch dir if it made one."""

    client: ApiClient
    informers: dict[Resource, Informer]
    queues: dict[Resource, WorkQueue[Key]]
    kubelet: Kubelet
    runtime: Runtime
    work_dir: Path
    _own_work_dir: bool = False
    _stopped: bool = field(default=False, repr=False)

    async def wait_synced(self) -> None:
        """Wait until every informer has listed once (wrap in asyncio.timeout to bound it)."""
        await asyncio.gather(*(i.synced.wait() for i in self.informers.values()))

    async def stop(self) -> None:
        """Stop watching, kill running containers, close connections (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        for informer in self.informers.values():
            await informer.stop()
        for queue in self.queues.values():
            await queue.close()
        await self.kubelet.close()
        await self.runtime.close()
        await self.client.close()
        if self._own_work_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)


async def start_node(
    api_url: str,
    token: str,
    settings: NodeSettings | None = None,
    transport: Transport | None = None,
) -> NodeHandle:
    """Start the simulated node against an API server (returns before the first sync).

    `transport`: how requests reach it (default HTTP to `api_url`; the sandbox passes its
    in-process one, which runs the same handlers, authentication and admission)."""
    settings = settings or NodeSettings()
    own = settings.work_dir is None
    work_dir = Path(tempfile.mkdtemp(prefix="klt-node-")) if own else Path(settings.work_dir or ".")
    work_dir.mkdir(parents=True, exist_ok=True)
    client = ApiClient(api_url, token, transport)
    queues: dict[Resource, WorkQueue[Key]] = {}
    runtime = Runtime(settings=settings, source=client, work_dir=work_dir)

    def route(res: Resource, _kind: str, obj: Body) -> None:
        key = key_of(obj)
        queues[res].add(key)
        for ref in obj.get("metadata", {}).get("ownerReferences") or []:
            owner = OWNERS.get(str(ref.get("kind")))
            if ref.get("controller") and owner is not None:
                queues[owner].add((key[0], str(ref.get("name"))))

    resources = (PODS, *OWNERS.values())
    informers = {res: Informer(client, res, functools.partial(route, res)) for res in resources}
    kubelet = Kubelet(client=client, pods=informers[PODS], runtime=runtime, settings=settings)
    controllers = Controllers(client=client, informers=informers)
    for res, reconcile in controllers.reconcilers().items():
        queues[res] = WorkQueue(res.plural, reconcile)
    queues[PODS] = WorkQueue("kubelet", kubelet.reconcile)
    for informer in informers.values():
        informer.start()
    return NodeHandle(
        client=client,
        informers=informers,
        queues=queues,
        kubelet=kubelet,
        runtime=runtime,
        work_dir=work_dir,
        _own_work_dir=own,
    )
