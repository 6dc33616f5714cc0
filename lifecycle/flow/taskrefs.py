"""The ConfigMaps and Secrets a task's Job needs, checked before the Job is created.

A Job whose pod mounts or reads a ConfigMap or Secret that does not exist never starts its
container, and the task would only fail at its deadline as ``DeadlineExceeded`` with no word why.
``missing_references`` lists what is missing (``ConfigMap demo/x``, ``Secret demo/y``) from the
Job's pod template: volumes, ``env[].valueFrom`` and ``envFrom``; references marked
``optional: true`` and the ConfigMap of a definition's inline code (created by the definition
controller, possibly a moment after the task) are not required. The task controller then says so
in ``status.reason``/``message`` and an Event within seconds, and fails the task once the
definition wait has passed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Literal

from lifecycle.core import model
from lifecycle.core.bodies import JSON
from lifecycle.core.kubebodies import LocalRef, PodSpec
from lifecycle.core.model import ResourceKind
from lifecycle.kube import KubeClient, NotFound

__all__ = ["missing_references"]


def _required(ref: LocalRef | None, key: Literal["name", "secretName"] = "name") -> str:
    if not isinstance(ref, Mapping) or ref.get("optional") is True:
        return ""
    return str(ref.get(key) or "")


def _references(job: JSON) -> Iterator[tuple[ResourceKind, str]]:
    pod: PodSpec = job["spec"]["template"]["spec"]  # of lifecycle.core.runtimes.build_job
    for volume in pod.get("volumes") or ():
        yield model.CONFIG_MAP, _required(volume.get("configMap"))
        yield model.SECRET, _required(volume.get("secret"), "secretName")
    for container in [*(pod.get("initContainers") or ()), *(pod.get("containers") or ())]:
        for env in container.get("env") or ():
            source = env.get("valueFrom") or {}
            yield model.CONFIG_MAP, _required(source.get("configMapKeyRef"))
            yield model.SECRET, _required(source.get("secretKeyRef"))
        for env_from in container.get("envFrom") or ():
            yield model.CONFIG_MAP, _required(env_from.get("configMapRef"))
            yield model.SECRET, _required(env_from.get("secretRef"))


async def missing_references(
    client: KubeClient, namespace: str, job: JSON, *, skip_prefix: str = ""
) -> list[str]:
    """``Kind namespace/name`` of every required ConfigMap/Secret of ``job`` that does not exist."""
    missing: list[str] = []
    required = dict.fromkeys(  # in order, each once
        (kind, name)
        for kind, name in _references(job)
        if name and not (kind is model.CONFIG_MAP and skip_prefix and name.startswith(skip_prefix))
    )
    for kind, name in required:
        try:
            await client.get(kind, name, namespace)
        except NotFound:
            missing.append(f"{kind.kind} {namespace}/{name}")
    return missing
