"""The workload and Job controllers of the sandbox: glue between informers, the pure plans
(rollout.py, jobs.py) and the API.

Each reconcile reads the owner and its children from the informer caches, asks the pure plan
what to do, does it through the API (pods are POSTed, so admission webhooks see them), and
writes the status subresource only when it changed (merge patch of the diff). Our own writes
go into the caches at once, so the next reconcile never acts on an older view. Timers (a Job's
activeDeadlineSeconds and ttlSecondsAfterFinished) are queue delays, never polls.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from sandbox.node.argo import rollout_plan
from sandbox.node.client import (
    DAEMONSETS,
    DEPLOYMENTS,
    JOBS,
    PODS,
    REPLICASETS,
    ROLLOUTS,
    STATEFULSETS,
    ApiClient,
    Conflict,
    NotFound,
    Resource,
)
from sandbox.node.informer import Informer, Key, key_of
from sandbox.node.jobs import decide_job, job_pod_labels
from sandbox.node.pods import is_terminating, pod_from_template, random_suffix
from sandbox.node.rollout import (
    REVISION_LABEL,
    daemonset_plan,
    deployment_plan,
    replicaset_plan,
    statefulset_plan,
    status_patch,
    template_hash,
)

__all__ = ["OWNERS", "Controllers"]

log = logging.getLogger(__name__)

Body = dict[str, Any]


OWNERS: dict[str, Resource] = {
    "ReplicaSet": REPLICASETS,
    "Deployment": DEPLOYMENTS,
    "Rollout": ROLLOUTS,
    "StatefulSet": STATEFULSETS,
    "DaemonSet": DAEMONSETS,
    "Job": JOBS,
}
"""The controller kinds whose objects own others, by kind (each has a reconciler here)."""


class Controllers:
    """Deployment, Argo Rollout, ReplicaSet, StatefulSet, DaemonSet and Job reconcilers."""

    def __init__(self, *, client: ApiClient, informers: dict[Resource, Informer]) -> None:
        self._client = client
        self._inf = informers
        self._job_started: dict[str, float] = {}

    def reconcilers(self) -> dict[Resource, Callable[[Key], Awaitable[float | None]]]:
        """The reconcile of each resource of `OWNERS`."""
        return {
            REPLICASETS: self.replicaset,
            DEPLOYMENTS: functools.partial(self._roll, DEPLOYMENTS),
            ROLLOUTS: functools.partial(self._roll, ROLLOUTS),  # Argo's status: node/argo.py
            STATEFULSETS: self.statefulset,
            DAEMONSETS: self.daemonset,
            JOBS: self.job,
        }

    def _live(self, res: Resource, key: Key) -> Body | None:
        """The cached object, unless it is gone or being deleted."""
        obj = self._inf[res].get(key)
        return None if obj is None or is_terminating(obj) else obj

    def _owned(self, res: Resource, owner: Body) -> list[Body]:
        return self._inf[res].owned_by(str(owner["metadata"].get("uid", "")))

    async def _status(self, res: Resource, obj: Body, new: Body) -> None:
        patch = status_patch(obj.get("status") or {}, new)
        if patch is None:
            return
        ns, name = key_of(obj)
        try:
            patched = await self._client.patch(
                res, ns, name, {"status": patch}, subresource="status"
            )
        except NotFound:
            return
        self._inf[res].remember(patched)

    async def _create_pod(self, pod: Body) -> None:
        # A Conflict (name still taken by a terminating pod) raises: the queue retries later.
        created = await self._client.create(PODS, pod["metadata"]["namespace"], pod)
        self._inf[PODS].remember(created)

    async def _create_pods(
        self, owner: Body, kind: str, count: int, labels: dict[str, str] | None = None
    ) -> None:
        """`count` pods from the owner's template, named after it with a random suffix."""
        for _ in range(count):
            name = f"{owner['metadata']['name']}-{random_suffix()}"
            await self._create_pod(pod_from_template(owner, kind, name, labels))

    async def _delete(
        self, res: Resource, namespace: str, name: str, propagation: str | None = None
    ) -> None:
        with contextlib.suppress(NotFound):
            await self._client.delete(res, namespace, name, propagation=propagation)
        self._inf[res].forget((namespace, name))

    async def _delete_pods(self, namespace: str, names: Iterable[str]) -> None:
        for name in names:
            await self._delete(PODS, namespace, name)

    # -- Deployment and Argo Rollout --------------------------------------------------------

    async def _roll(self, res: Resource, key: Key) -> float | None:
        dep = self._live(res, key)
        if dep is None:
            return None
        plan_of = rollout_plan if res is ROLLOUTS else deployment_plan
        plan = plan_of(dep, self._owned(REPLICASETS, dep), time.time())
        if plan.create is not None:
            try:
                created = await self._client.create(REPLICASETS, key[0], plan.create)
            except Conflict:
                created = await self._client.get(
                    REPLICASETS, key[0], plan.create["metadata"]["name"]
                )
            self._inf[REPLICASETS].remember(created)
        for name, replicas in plan.scale.items():
            try:
                patched = await self._client.patch(
                    REPLICASETS, key[0], name, {"spec": {"replicas": replicas}}
                )
            except NotFound:
                continue
            self._inf[REPLICASETS].remember(patched)
        await self._status(res, dep, plan.status)
        return None

    # -- ReplicaSet, StatefulSet, DaemonSet -------------------------------------------------

    async def replicaset(self, key: Key) -> float | None:
        rs = self._live(REPLICASETS, key)
        if rs is None:
            return None
        plan = replicaset_plan(rs, self._owned(PODS, rs))
        await self._create_pods(rs, "ReplicaSet", len(plan.create))
        await self._delete_pods(key[0], plan.delete)
        await self._status(REPLICASETS, rs, plan.status)
        return None

    async def statefulset(self, key: Key) -> float | None:
        sts = self._live(STATEFULSETS, key)
        if sts is None:
            return None
        plan = statefulset_plan(sts, self._owned(PODS, sts))
        revision = plan.status["updateRevision"]
        for name in plan.create:
            labels = {
                REVISION_LABEL: revision,
                "statefulset.kubernetes.io/pod-name": name,
                "apps.kubernetes.io/pod-index": name.rsplit("-", 1)[1],
            }
            pod = pod_from_template(sts, "StatefulSet", name, labels)
            pod["spec"].setdefault("hostname", name)
            if sts.get("spec", {}).get("serviceName"):
                pod["spec"].setdefault("subdomain", sts["spec"]["serviceName"])
            await self._create_pod(pod)
        await self._delete_pods(key[0], plan.delete)
        await self._status(STATEFULSETS, sts, plan.status)
        return None

    async def daemonset(self, key: Key) -> float | None:
        ds = self._live(DAEMONSETS, key)
        if ds is None:
            return None
        plan = daemonset_plan(ds, self._owned(PODS, ds))
        labels = {
            REVISION_LABEL: template_hash(ds.get("spec", {}).get("template") or {}),
            "pod-template-generation": str(ds["metadata"].get("generation", 1)),
        }
        await self._delete_pods(key[0], plan.delete)
        await self._create_pods(ds, "DaemonSet", len(plan.create), labels)
        await self._status(DAEMONSETS, ds, plan.status)
        return None

    # -- Job --------------------------------------------------------------------------------

    async def job(self, key: Key) -> float | None:
        job = self._live(JOBS, key)
        if job is None:
            return None
        uid = str(job["metadata"].get("uid", ""))
        now = time.time()
        if (job.get("status") or {}).get("startTime"):
            started = self._job_started.get(uid)
        else:
            started = self._job_started.setdefault(uid, now)
        decision = decide_job(job, self._owned(PODS, job), now, started)
        await self._create_pods(job, "Job", decision.create, job_pod_labels(job))
        await self._delete_pods(key[0], decision.delete)
        await self._status(JOBS, job, decision.status)
        if decision.delete_job_at is not None:
            if decision.delete_job_at <= now:
                await self._delete(JOBS, key[0], key[1], propagation="Background")
                self._job_started.pop(uid, None)
                return None
            return decision.delete_job_at - now
        if decision.wake_at is not None:
            return max(decision.wake_at - now, 0.0)
        return None
