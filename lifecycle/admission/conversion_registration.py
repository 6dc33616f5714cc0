"""Point the CRDs converted by webhook at this operator's `/convert` (caBundle, URL in dev mode).

At start the operator (like KLT's cert injection for its conversion webhooks) writes, into the
CRDs it converts (KeptnApp, KeptnAppVersion) when their `spec.conversion.strategy` is
`Webhook`, the `clientConfig`: their Service (`lifecycle-webhook-service`) in the Keptn
namespace (in-cluster) or `url_base + /convert` (development, `--webhook-url-host`), with the
caBundle of its serving certificate. It reads the installed CRDs, not files; a CRD that is not
installed, or not converted by webhook, is skipped (logged); transient API errors are retried
with backoff.
"""

from __future__ import annotations

import functools
import logging

from lifecycle.admission.conversion import CONVERT_PATH, CRD_NAMES
from lifecycle.admission.registration import retry_transient
from lifecycle.admission.schemas import CRDBody
from lifecycle.core import model
from lifecycle.core.bodies import JSON
from lifecycle.kube.client import KubeClient
from lifecycle.kube.errors import NotFound
from lifecycle.kube.subset import covers

__all__ = ["CRD", "conversion_patch", "register_conversion"]

log = logging.getLogger(__name__)

CRD: model.ResourceKind[CRDBody] = model.ResourceKind(
    "apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False
)


def conversion_patch(
    crd: CRDBody, *, ca_bundle: str, url_base: str | None, keptn_namespace: str
) -> JSON:
    """The merge patch pointing `crd`'s conversion webhook at this operator."""
    webhook = crd["spec"]["conversion"].get("webhook") or {}
    service = dict((webhook.get("clientConfig") or {}).get("service") or {})
    client: JSON = {"caBundle": ca_bundle}
    if url_base is not None:
        client.update(url=url_base.rstrip("/") + CONVERT_PATH, service=None)
    else:
        service["namespace"] = keptn_namespace
        client.update(service=service, url=None)
    return {
        "spec": {
            "conversion": {
                "strategy": "Webhook",
                "webhook": {
                    "conversionReviewVersions": webhook.get("conversionReviewVersions", ["v1"]),
                    "clientConfig": client,
                },
            }
        }
    }


async def register_conversion(
    client: KubeClient,
    *,
    ca_bundle: str,
    url_base: str | None,
    keptn_namespace: str,
) -> None:
    """Patch every webhook-converted CRD (see the module docstring); Transient errors are retried
    as the webhook registration's are."""
    for name in CRD_NAMES:
        await retry_transient(
            functools.partial(_register_one, client, name, ca_bundle, url_base, keptn_namespace),
            f"patching CRD {name}",
        )


async def _register_one(
    client: KubeClient, name: str, ca_bundle: str, url_base: str | None, keptn_namespace: str
) -> None:
    try:
        crd = CRD.view(await client.get(CRD, name))
    except NotFound:
        log.warning("CRD %s is not installed: its older versions cannot convert", name)
        return
    if (crd["spec"].get("conversion") or {}).get("strategy") != "Webhook":
        log.warning("CRD %s does not convert by webhook: left as it is", name)
        return
    patch = conversion_patch(
        crd, ca_bundle=ca_bundle, url_base=url_base, keptn_namespace=keptn_namespace
    )
    if covers(crd, patch):  # already points at us with this CA: a restart writes nothing
        return
    await client.patch(CRD, name, patch)
    log.info("conversion webhook of CRD %s points at this operator", name)
