"""The ConfigMaps holding a KeptnTaskDefinition's inline code (``keptnfn-<definition>``).

Role: ``ensure_code`` makes a wanted ConfigMap exist with its code: created when missing, its
``data`` patched when the code differs, and an extra owner added to its ownerReferences when
given. The KeptnTaskDefinition controller keeps the definition's own ConfigMap; the KeptnTask
controller keeps the copies of a Keptn-namespace definition's code beside the tasks that use
it (a pod mounts ConfigMaps of its own namespace only), owned by every such task.

Must not: delete a ConfigMap (garbage collection removes it with its last owner).
"""

from __future__ import annotations

from collections.abc import Callable

from lifecycle.core import model
from lifecycle.core.bodies import OwnerReference
from lifecycle.core.kubebodies import ConfigMapBody
from lifecycle.core.meta import name_of, namespace_of
from lifecycle.kube import AlreadyExists, KubeClient, KubeError, NotFound

__all__ = ["ensure_code"]


def _nothing(text: str) -> None:
    pass


async def ensure_code(
    client: KubeClient,
    wanted: ConfigMapBody,
    owner: OwnerReference | None = None,
    *,
    failed: Callable[[str], None] = _nothing,
) -> None:
    """``wanted`` exists with its code (and ``owner`` among its owners); ``failed`` says why not."""
    name, ns = name_of(wanted), namespace_of(wanted)
    try:
        current = model.CONFIG_MAP.view(await client.get(model.CONFIG_MAP, name, ns))
    except NotFound:
        try:
            await client.create(model.CONFIG_MAP, dict(wanted))
            return
        except AlreadyExists:  # created meanwhile: compare its code
            current = model.CONFIG_MAP.view(await client.get(model.CONFIG_MAP, name, ns))
        except KubeError:
            failed("could not create configmap")
            raise
    patch: dict[str, object] = {}
    if (current.get("data") or {}).get("code") != wanted["data"]["code"]:
        patch["data"] = wanted["data"]
    owners = list(current["metadata"].get("ownerReferences") or [])
    if owner is not None and all(o.get("uid") != owner["uid"] for o in owners):
        patch["metadata"] = {"ownerReferences": [*owners, owner]}
    if patch:
        try:
            await client.patch(model.CONFIG_MAP, name, patch, ns)
        except KubeError:
            failed("could not update configmap")
            raise
