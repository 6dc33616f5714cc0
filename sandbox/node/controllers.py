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
from sandbox.node.pods import is_terminating, owner_ref, pod_from_template, random_suffix
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
            DEPLOYMENTS: self.deployment,
            ROLLOUTS: self.rollout,
            STATEFULSETS: self.statefulset,
            DAEMONSETS: self.daemonset,
            JOBS: self.job,
        }

    def _live(self, key: Key, res: Resource, kind: str) -> tuple[Body, Body, Body] | None:
        """A workload that is not being deleted: (it, its pod template, the ownerReference
        its pods get); None when it is gone or terminating."""
        obj = self._inf[res].get(key)
        if obj is None or is_terminating(obj):
            return None
        template = obj.get("spec", {}).get("template") or {}
        return obj, template, owner_ref(obj, kind, "apps/v1")

    async def _delete_pods(self, namespace: str, names: Iterable[str]) -> None:
        for name in names:
            await self._delete(PODS, namespace, name)

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

    async def _create_pod(self, owner: Body, pod: Body) -> None:
        ns = key_of(owner)[0]
        # A Conflict (name still taken by a terminating pod) raises: the queue retries later.
        created = await self._client.create(PODS, ns, pod)
        self._inf[PODS].remember(created)

    async def _create_pods(
        self, owner: Body, template: Body, ref: Body, count: int, labels: dict[str, str] | None
    ) -> None:
        """`count` pods from `template`, named after `owner` with a random suffix."""
        namespace, owner_name = key_of(owner)
        for _ in range(count):
            name = f"{owner_name}-{random_suffix()}"
            pod = pod_from_template(
                template, name=name, namespace=namespace, owner=ref, extra_labels=labels
            )
            await self._create_pod(owner, pod)

    async def _delete(
        self, res: Resource, namespace: str, name: str, propagation: str | None = None
    ) -> None:
        with contextlib.suppress(NotFound):
            await self._client.delete(res, namespace, name, propagation=propagation)
        self._inf[res].forget((namespace, name))

    # -- Deployment -------------------------------------------------------------------------

    async def deployment(self, key: Key) -> float | None:
        return await self._roll(DEPLOYMENTS, key)

    async def rollout(self, key: Key) -> float | None:
        """An Argo Rollout: ReplicaSets as a Deployment's, Argo's status (sandbox/node/argo.py)."""
        return await self._roll(ROLLOUTS, key)

    async def _roll(self, res: Resource, key: Key) -> float | None:
        dep = self._inf[res].get(key)
        if dep is None or is_terminating(dep):
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

    # -- ReplicaSet -------------------------------------------------------------------------

    async def replicaset(self, key: Key) -> float | None:
        found = self._live(key, REPLICASETS, "ReplicaSet")
        if found is None:
            return None
        rs, template, ref = found
        plan = replicaset_plan(rs, self._owned(PODS, rs))
        await self._create_pods(rs, template, ref, len(plan.create), None)
        await self._delete_pods(key[0], plan.delete)
        await self._status(REPLICASETS, rs, plan.status)
        return None

    # -- StatefulSet ------------------------------------------------------------------------

    async def statefulset(self, key: Key) -> float | None:
        found = self._live(key, STATEFULSETS, "StatefulSet")
        if found is None:
            return None
        sts, template, ref = found
        plan = statefulset_plan(sts, self._owned(PODS, sts))
        revision = plan.status["updateRevision"]
        for name in plan.create:
            labels = {
                REVISION_LABEL: revision,
                "statefulset.kubernetes.io/pod-name": name,
                "apps.kubernetes.io/pod-index": name.rsplit("-", 1)[1],
            }
            pod = pod_from_template(
                template, name=name, namespace=key[0], owner=ref, extra_labels=labels
            )
            pod["spec"].setdefault("hostname", name)
            if sts.get("spec", {}).get("serviceName"):
                pod["spec"].setdefault("subdomain", sts["spec"]["serviceName"])
            await self._create_pod(sts, pod)
        await self._delete_pods(key[0], plan.delete)
        await self._status(STATEFULSETS, sts, plan.status)
        return None

    # -- DaemonSet --------------------------------------------------------------------------

    async def daemonset(self, key: Key) -> float | None:
        found = self._live(key, DAEMONSETS, "DaemonSet")
        if found is None:
            return None
        ds, template, ref = found
        plan = daemonset_plan(ds, self._owned(PODS, ds))
        labels = {
            REVISION_LABEL: template_hash(template),
            "pod-template-generation": str(ds["metadata"].get("generation", 1)),
        }
        await self._delete_pods(key[0], plan.delete)
        await self._create_pods(ds, template, ref, len(plan.create), labels)
        await self._status(DAEMONSETS, ds, plan.status)
        return None

    # -- Job --------------------------------------------------------------------------------

    async def job(self, key: Key) -> float | None:
        job = self._inf[JOBS].get(key)
        if job is None or is_terminating(job):
            return None
        uid = str(job["metadata"].get("uid", ""))
        now = time.time()
        if (job.get("status") or {}).get("startTime"):
            started = self._job_started.get(uid)
        else:
            started = self._job_started.setdefault(uid, now)
        decision = decide_job(job, self._owned(PODS, job), now, started)
        template = job.get("spec", {}).get("template") or {}
        ref = owner_ref(job, "Job", "batch/v1")
        await self._create_pods(job, template, ref, decision.create, job_pod_labels(job))
        for name in decision.delete:
            await self._delete(PODS, key[0], name)
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
