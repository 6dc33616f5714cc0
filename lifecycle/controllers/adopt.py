"""Adoption controller: give a lifecycle to managed pods whose KeptnWorkload the webhook never wrote.

Role: the pod webhook runs with ``failurePolicy: Ignore`` on purpose (an absent operator must
not freeze a cluster), so pods created while no operator served it are admitted unchanged, and a
webhook call whose KeptnWorkload write kept failing leaves a gated pod with no KeptnWorkload.
For a pod in an opted-in namespace (label or annotation ``keptn.sh/lifecycle-toolkit=enabled``)
with a supported owner chain and the keptn keys (on the pod or, as the webhook reads them, on its
Deployment/Rollout/StatefulSet/DaemonSet), this controller plans the pod with the webhook's pure
``plan_pod`` (operation "UPDATE": no gate is added) and, when the KeptnWorkload of that plan does
not exist, writes exactly what the webhook would have: the KeptnAppCreationRequest (when the
webhook would) and then the KeptnWorkload. The flow then runs as usual: the deployment check
passes at once for pods already running; post-deployment checks, Events, spans and metrics all
happen. Limit (by construction): pre-deployment checks cannot hold pods that were never gated;
they still run and a failure is still reported, but it cannot stop that rollout.

Wake-ups (no polling): a pod's first event (ADDED, which includes every pod of the informer's
initial list after an operator start) and every event of a gated pod. Idempotent: an existing
object (AlreadyExists) is success; Transient errors raise into the controller's backoff. It
never updates an existing KeptnWorkload (the webhook's upsert owns version changes), so an old
pod's event can never roll a workload back.
Must not: gate, patch or otherwise touch pods; read any kind outside the admission store.
"""

from __future__ import annotations

import logging

from lifecycle.admission.pod import namespace_enabled, plan_pod, request_needed, supported_owner
from lifecycle.admission.registration import KubeAdmissionStore
from lifecycle.admission.webhook import pod_parent
from lifecycle.core import model
from lifecycle.core.kubebodies import PodBody
from lifecycle.core.meta import metadata_of
from lifecycle.core.naming import gated
from lifecycle.flow.context import OperatorContext
from lifecycle.kube.controller import Controller, ObjectKey, Result, key_of

__all__ = ["setup"]

log = logging.getLogger(__name__)


def setup(ctx: OperatorContext) -> Controller[ObjectKey]:
    """The adoption controller, wired to the pod informer (not started)."""
    pods = ctx.cache(model.POD)
    workloads = ctx.informer(model.KEPTN_WORKLOAD).store
    store = KubeAdmissionStore(ctx.client, ctx.informers, ctx.recorder("keptn/webhook"))

    async def reconcile(key: ObjectKey) -> Result | None:
        pod = pods.get(key.namespace, key.name)
        if pod is None:
            return None
        meta = metadata_of(pod)
        if meta.get("deletionTimestamp") or supported_owner(meta) is None:
            return None
        namespace = await store.get(model.NAMESPACE, None, key.namespace)
        if namespace is None or not namespace_enabled(namespace):
            return None
        parent = await pod_parent(store, pod, key.namespace)
        plan = plan_pod(pod, namespace=key.namespace, operation="UPDATE", parent=parent, carrier={})
        if plan is None:
            return None
        name = plan.workload["metadata"]["name"]
        if workloads.get(key.namespace, name) is not None:
            return None
        # A cache miss is confirmed with a GET: the webhook's write may not have reached the
        # KeptnWorkload cache yet, and a needless app request would restart app creation.
        if await store.get(model.KEPTN_WORKLOAD, key.namespace, name, fresh=True) is not None:
            return None
        # The app request first: if the workload create then fails, the retry finds no
        # workload and writes both again (the request's AlreadyExists is a no-op).
        app = await store.get(model.KEPTN_APP, key.namespace, plan.app_request["spec"]["appName"])
        if request_needed(app, plan.workload):  # as the webhook decides
            await store.create(model.KEPTN_APP_CREATION_REQUEST, plan.app_request)
        if await store.create(model.KEPTN_WORKLOAD, plan.workload):
            log.info(
                "adopted pod %s/%s: created KeptnWorkload %s (version %s)",
                key.namespace,
                key.name,
                name,
                plan.workload["spec"]["version"],
            )
        return None

    def on_pod(event: str, pod: PodBody, old: PodBody | None) -> list[ObjectKey]:
        if event == "DELETED" or (old is not None and not gated(pod)):
            return []
        return [key_of(pod)]

    controller: Controller[ObjectKey] = Controller("adoption", reconcile, ctx.settings.workers)
    ctx.watch(controller, model.POD, on_pod)
    return controller
