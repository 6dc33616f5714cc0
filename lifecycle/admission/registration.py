"""Webhook glue: the pod mutator's AdmissionStore on lifecycle/kube, and webhook registration.

Role: `KubeAdmissionStore` answers the mutator's reads from the informer caches once they are
synced (a miss on a namespace or owner is confirmed with a GET, so a pod admitted while the
caches lag is never mistaken for an unmanaged one; a miss on a KeptnWorkload or app creation
request is trusted, as a stale one only costs an AlreadyExists) and writes through the client. `register_webhooks` writes the
Mutating/ValidatingWebhookConfigurations of deploy/operator/webhooks.yaml with our CA bundle:
with `url_base` (sandbox/dev) every clientConfig becomes a URL pointing at this process; without
it (in-cluster) the Service references stay and only the caBundle and the Keptn namespace change.
The pod webhook's namespaceSelector loses its `keptn.sh/lifecycle-toolkit In (enabled)` term:
the mutator itself honours the opt-in as a label or as KLT's annotation (a selector only sees
labels); the exclusions (system namespaces, the Keptn namespace) stay.
Must not: block or raise out of the mutator's calls other than as the protocol says.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict, TypeVar, cast

import yaml

from lifecycle.admission.schemas import ClientConfig
from lifecycle.core import model
from lifecycle.core.bodies import ObjectMeta
from lifecycle.core.kubebodies import AnyBody
from lifecycle.core.model import ResourceKind
from lifecycle.core.naming import NAMESPACE_ENABLED_ANNOTATION
from lifecycle.kube.client import KubeClient
from lifecycle.kube.errors import AlreadyExists, Conflict, NotFound, Transient
from lifecycle.kube.events import EventRecorder
from lifecycle.kube.informer import Informer
from lifecycle.kube.subset import covers

__all__ = [
    "MUTATING",
    "VALIDATING",
    "WEBHOOKS_MANIFEST",
    "KubeAdmissionStore",
    "register_webhooks",
    "retry_transient",
    "webhook_configurations",
]

log = logging.getLogger(__name__)
T = TypeVar("T")
_B = TypeVar("_B", bound=Mapping[str, object])


class _Requirement(TypedDict, total=False):
    key: str
    operator: str
    values: list[str]


class LabelSelector(TypedDict, total=False):
    matchLabels: dict[str, str]
    matchExpressions: list[_Requirement]


class Webhook(TypedDict, total=False):  # as far as it is read; the rest is written as applied
    name: str
    clientConfig: ClientConfig
    namespaceSelector: LabelSelector


class WebhookConfiguration(TypedDict, total=False):  # Mutating- or ValidatingWebhookConfiguration
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    webhooks: list[Webhook]


WEBHOOKS_MANIFEST = Path(__file__).resolve().parents[2] / "deploy" / "operator" / "webhooks.yaml"
# mutatingwebhookconfigurations, validatingwebhookconfigurations
_CONFIG_KINDS: tuple[ResourceKind[WebhookConfiguration], ...] = tuple(
    model.ResourceKind("admissionregistration.k8s.io", "v1", f"{kind.lower()}s", kind, False)
    for kind in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")
)
MUTATING, VALIDATING = _CONFIG_KINDS


# Kinds the mutator only creates or upserts: a stale miss leads to a create that meets
# AlreadyExists, after which the mutator re-reads with fresh=True. So a cache miss can be
# trusted for them; for the others (namespaces, owners) a miss is confirmed with a GET. A
# stale miss of a KeptnApp only costs an app request the request controller answers anyway.
_MISS_IS_ABSENT = frozenset(
    {model.KEPTN_WORKLOAD, model.KEPTN_APP_CREATION_REQUEST, model.KEPTN_APP}
)


@dataclass(frozen=True, slots=True)
class KubeAdmissionStore:
    """The mutator's reads (cache first) and writes (client), and its Warning events."""

    client: KubeClient
    informers: Mapping[ResourceKind, Informer]
    recorder: EventRecorder

    async def get(
        self, kind: ResourceKind[_B], namespace: str | None, name: str, *, fresh: bool = False
    ) -> _B | None:
        informer = self.informers.get(kind)
        if not fresh and informer is not None and informer.synced.is_set():
            found = informer.store.get(namespace if kind.namespaced else None, name)
            if found is not None or kind in _MISS_IS_ABSENT:
                return None if found is None else kind.view(found)
        try:
            return kind.view(
                await self.client.get(kind, name, namespace if kind.namespaced else None)
            )
        except NotFound:
            return None

    async def create(self, kind: ResourceKind, body: Mapping[str, object]) -> bool:
        try:
            await self.client.create(kind, copy.deepcopy(dict(body)))
        except AlreadyExists:
            return False
        return True

    async def update(self, kind: ResourceKind, body: Mapping[str, object]) -> bool:
        try:
            await self.client.replace(kind, copy.deepcopy(dict(body)))
        except Conflict:
            return False
        return True

    async def warn(self, obj: AnyBody, reason: str, message: str) -> None:
        self.recorder.emit(dict(obj), "Warning", reason, message)


def _selector(selector: LabelSelector, keptn_namespace: str) -> LabelSelector:
    result = copy.deepcopy(selector)
    expressions = []
    for expr in result.get("matchExpressions") or ():
        if expr.get("key") == NAMESPACE_ENABLED_ANNOTATION and expr.get("operator") == "In":
            continue  # opt-in checked by the mutator: label or annotation
        if expr.get("key") == "kubernetes.io/metadata.name":
            expr["values"] = [
                keptn_namespace if v == "keptn-system" else v for v in expr.get("values") or ()
            ]
        expressions.append(expr)
    result["matchExpressions"] = expressions
    return result


def webhook_configurations(
    *,
    ca_bundle: str,
    url_base: str | None,
    keptn_namespace: str,
    manifest: Path = WEBHOOKS_MANIFEST,
) -> list[WebhookConfiguration]:
    """The configurations of `manifest` pointed at this operator (see the module docstring)."""
    result = []
    for doc in yaml.safe_load_all(manifest.read_text()):
        if not isinstance(doc, dict) or doc.get("kind") not in (MUTATING.kind, VALIDATING.kind):
            continue
        body = cast(WebhookConfiguration, doc)  # our manifest, applied as is by kubectl -k
        for hook in body.get("webhooks") or ():
            service = (hook.get("clientConfig") or {}).get("service") or {}
            if url_base is not None:
                hook["clientConfig"] = {
                    "url": url_base.rstrip("/") + str(service.get("path", "/")),
                    "caBundle": ca_bundle,
                }
            else:
                service["namespace"] = keptn_namespace
                hook["clientConfig"] = {"service": service, "caBundle": ca_bundle}
            if hook.get("namespaceSelector"):
                hook["namespaceSelector"] = _selector(hook["namespaceSelector"], keptn_namespace)
        result.append(body)
    return result


async def register_webhooks(
    client: KubeClient,
    *,
    ca_bundle: str,
    url_base: str | None,
    keptn_namespace: str,
) -> None:
    """Create or update our webhook configurations (see `webhook_configurations`).

    In-cluster (no `url_base`) an existing configuration keeps everything (selectors, failure
    policy a Helm chart may have set) except the caBundle of each webhook. Transient API errors
    are retried as `retry_transient` says.
    """
    if not WEBHOOKS_MANIFEST.exists():
        log.warning("no %s: webhook configurations not registered", WEBHOOKS_MANIFEST)
        return
    for body in webhook_configurations(
        ca_bundle=ca_bundle, url_base=url_base, keptn_namespace=keptn_namespace
    ):
        await retry_transient(
            functools.partial(
                _register_one, client, body, in_cluster=url_base is None, ca_bundle=ca_bundle
            ),
            f"registering {body['metadata']['name']}",
        )


async def retry_transient(
    call: Callable[[], Awaitable[T]], what: str, *, give_up_after: float = 60.0
) -> T:
    """``call()``, again after Transient errors (the API server hiccups at start) with jittered
    backoff, for up to ``give_up_after`` seconds (then TimeoutError); other errors raise."""
    delay = 0.05
    async with asyncio.timeout(give_up_after):
        while True:
            try:
                return await call()
            except Transient as exc:
                log.info("%s: %s; retry in %.2fs", what, exc, delay)
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))
                delay = min(delay * 2, 2.0)


async def _register_one(
    client: KubeClient, body: WebhookConfiguration, *, in_cluster: bool, ca_bundle: str
) -> None:
    """Merge-patch one configuration (conditional on the resourceVersion read; 409 -> re-read).

    Only ``get`` and ``patch`` are used in-cluster, the verbs deploy/operator/rbac.yaml grants on
    the two configurations; a configuration that is not installed is reported, never created
    (``create`` cannot be limited by name). Dev/sandbox mode (``url_base``) may create it.
    """
    kind = MUTATING if body["kind"] == MUTATING.kind else VALIDATING
    name = body["metadata"]["name"]
    for _ in range(5):
        try:
            current = kind.view(await client.get(kind, name))
        except NotFound:
            if in_cluster:
                log.error(
                    "%s %s is not installed: apply deploy/ (kubectl apply -k)", kind.kind, name
                )
                return
            try:
                await client.create(kind, copy.deepcopy(dict(body)))
                break
            except AlreadyExists:
                continue
        # in-cluster the installed configuration stays as applied (rules, selectors); dev/URL
        # mode writes ours; either way with our caBundle
        hooks = copy.deepcopy(current.get("webhooks") if in_cluster else body.get("webhooks"))
        for hook in hooks or ():
            hook.setdefault("clientConfig", {})["caBundle"] = ca_bundle
        if covers(current, {"webhooks": hooks}):  # server defaults aside: unchanged, no write
            break
        patch = {
            "metadata": {"resourceVersion": current["metadata"].get("resourceVersion")},
            "webhooks": hooks,
        }
        try:
            await client.patch(kind, name, patch)
            break
        except Conflict:
            continue
    log.info("registered %s %s", kind.kind, name)
