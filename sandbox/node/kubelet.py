"""Scheduler and kubelet of the one sandbox node, driven by pod watch events.

Scheduler: a pod with scheduling gates stays Pending with PodScheduled=False reason
SchedulingGated; an ungated pod without a node is bound to ``sandbox-node``. Kubelet: a pod
bound here gets its containers started ``pod_start_delay`` seconds later through the Runtime,
and every container state change is written through ``pods/status`` (merge patch), one write
at a time per pod. Deleting a pod kills its processes. Output goes to the API server for
``pods/log`` (the sandbox's ``PUT /sandbox/pods/{ns}/{name}/log?container=``).

After a node restart a pod already Running that we did not start is adopted: a service
container (simulated run) keeps running; anything else is failed with a message, because its
process is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sandbox.node.client import PODS, ApiClient, ApiError, Conflict, NotFound, Transient
from sandbox.node.informer import Informer, Key
from sandbox.node.pods import (
    NODE_NAME,
    ContainerState,
    bound_node,
    gated_status,
    is_gated,
    is_terminating,
    pod_status,
)
from sandbox.node.runtime import ConfigError, ContainerPlan, PlanKind, Runtime, plan_container
from sandbox.node.settings import NodeSettings, Outcome

__all__ = ["Kubelet"]

log = logging.getLogger(__name__)

Body = dict[str, Any]
T = TypeVar("T")


@dataclass
class _PodRun:
    uid: str
    key: Key
    task: asyncio.Task[None] | None = None
    states: list[ContainerState] = field(default_factory=list)
    scheduled_at: float = 0.0
    started_at: float | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class Kubelet:
    """Binds and runs the pods of the node."""

    def __init__(
        self, *, client: ApiClient, pods: Informer, runtime: Runtime, settings: NodeSettings
    ) -> None:
        self._client = client
        self._pods = pods
        self._runtime = runtime
        self._settings = settings
        self._runs: dict[str, _PodRun] = {}
        self._uid_by_key: dict[Key, str] = {}

    async def reconcile(self, key: Key) -> float | None:
        """Bring one pod one step closer to running."""
        pod = self._pods.get(key)
        uid = str(pod["metadata"].get("uid", "")) if pod else ""
        known = self._uid_by_key.get(key)
        if known is not None and known != uid:  # deleted, or replaced by a same-named pod
            await self._kill(known)
        if pod is None:
            return None
        if is_terminating(pod):
            await self._kill(uid)
            return None
        node = bound_node(pod)
        if not node:
            await self._schedule(pod)
            return None
        if node != NODE_NAME or uid in self._runs:
            return None
        phase = (pod.get("status") or {}).get("phase", "Pending")
        if phase in ("Succeeded", "Failed"):
            return None
        run = _PodRun(uid=uid, key=key, scheduled_at=time.time())
        self._runs[uid] = run
        self._uid_by_key[key] = uid
        if phase == "Running":
            await self._adopt(pod, run)
            return None
        run.task = asyncio.create_task(self._start(pod, run), name=f"pod-{key}")
        return None

    async def close(self) -> None:
        """Kill every running pod task."""
        for uid in list(self._runs):
            await self._kill(uid)

    async def _kill(self, uid: str) -> None:
        run = self._runs.pop(uid, None)
        if run is None:
            return
        if self._uid_by_key.get(run.key) == run.uid:
            del self._uid_by_key[run.key]
        if run.task is not None and not run.task.done():
            run.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await run.task

    async def _schedule(self, pod: Body) -> None:
        ns, name = pod["metadata"].get("namespace", "default"), pod["metadata"]["name"]
        if is_gated(pod):
            conds = (pod.get("status") or {}).get("conditions") or []
            if any(c.get("reason") == "SchedulingGated" for c in conds):
                return
            patched = await self._client.patch(
                PODS, ns, name, {"status": gated_status(time.time())}, subresource="status"
            )
            self._pods.remember(patched)
            return
        body = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name}}
        body["target"] = {"apiVersion": "v1", "kind": "Node", "name": NODE_NAME}
        await self._client.request("POST", PODS.path(ns, name, "binding"), body=body)

    async def _write(self, pod: Body, run: _PodRun) -> None:
        """Write the pod's status from the container states (serialised per pod); cache the
        answer. A pod that is gone needs no write."""
        meta = pod["metadata"]
        async with run.lock:
            status = pod_status(
                run.states,
                scheduled_at=run.scheduled_at,
                started_at=run.started_at,
                now=time.time(),
            )
            patch = functools.partial(
                self._client.patch, PODS, meta.get("namespace"), meta["name"],
                {"status": status}, subresource="status",
            )  # fmt: skip
            with contextlib.suppress(NotFound):
                self._pods.remember(await _retrying(patch))

    async def _start(self, pod: Body, run: _PodRun) -> None:
        containers = pod.get("spec", {}).get("containers") or []
        plans = [plan_container(pod, c, self._settings) for c in containers]
        run.states = [ContainerState(c["name"], str(c.get("image", ""))) for c in containers]
        if self._settings.pod_start_delay > 0:
            await self._write(pod, run)  # ContainerCreating, as a kubelet shows it
            await asyncio.sleep(self._settings.pod_start_delay)
        run.started_at = time.time()
        try:
            await asyncio.gather(
                *(
                    self._container(pod, run, c, p, s)
                    for c, p, s in zip(containers, plans, run.states, strict=True)
                )
            )
        except Exception as exc:  # a node bug must fail the pod visibly, not hang it
            log.exception("running pod %s failed", run.key)
            now = time.time()
            for state in run.states:
                state.fail(128, f"sandbox node error: {exc!r}", now)
            with contextlib.suppress(ApiError):
                await self._write(pod, run)

    async def _container(
        self, pod: Body, run: _PodRun, container: Body, plan: ContainerPlan, state: ContainerState
    ) -> None:
        if plan.kind is PlanKind.UNRUNNABLE:
            state.reason, state.message = "ErrImagePull", plan.message
            await self._write(pod, run)
            return
        backoff = 0.5
        while True:  # a missing secret/configmap is retried, as the kubelet does
            try:
                prepared = await self._runtime.prepare(pod, container, plan)
                break
            except ConfigError as exc:
                state.reason, state.message = "CreateContainerConfigError", str(exc)
                await self._write(pod, run)
            except Transient as exc:  # the API hiccuped while reading secrets/configmaps
                log.debug("preparing %s: %s", state.name, exc)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 10.0)
        state.state, state.reason, state.message = "running", "", ""
        state.started_at = time.time()
        state.container_id = f"sandbox://{run.uid}/{state.name}"
        await self._write(pod, run)
        result = await self._runtime.execute(prepared)
        state.state, state.exit_code, state.message = "terminated", result.exit_code, result.message
        state.reason = result.reason
        state.finished_at = time.time()
        await self._publish_log(pod, state.name, result.output)
        await self._write(pod, run)

    async def _publish_log(self, pod: Body, container: str, text: str) -> None:
        """Send the output to the server's log store."""
        meta = pod["metadata"]
        ns, name = str(meta.get("namespace", "default")), str(meta["name"])
        try:
            await _retrying(functools.partial(self._client.put_log, ns, name, container, text))
        except ApiError as exc:
            log.warning("storing log of %s failed: %s", name, exc)

    async def _adopt(self, pod: Body, run: _PodRun) -> None:
        containers = pod.get("spec", {}).get("containers") or []
        plans = [plan_container(pod, c, self._settings) for c in containers]
        if all(p.kind is PlanKind.SIMULATED and p.outcome is Outcome.RUN for p in plans):
            return
        now = time.time()
        run.started_at = now
        run.states = [ContainerState(c["name"], str(c.get("image", ""))) for c in containers]
        for state in run.states:
            state.fail(137, "the sandbox node restarted while this container ran", now)
        await self._write(pod, run)


async def _retrying(call: Callable[[], Awaitable[T]]) -> T:
    """Call until it does not fail with Transient or Conflict (backoff from 20 ms to 2 s).

    Pod writes must not be lost to an API hiccup (the pod task has no other retry).
    Cancellation (pod deleted) ends the loop.
    """
    backoff = 0.02
    while True:
        try:
            return await call()
        except (Transient, Conflict) as exc:
            log.debug("retrying after %s", exc)
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, 2.0)
