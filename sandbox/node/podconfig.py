"""A container's configuration as the kubelet resolves it: env and mounted files.

Env: ``value``, ``valueFrom`` (secretKeyRef, configMapKeyRef, fieldRef) and ``envFrom``
(configMapRef, secretRef, prefix), with ``optional`` honoured. Files: every configMap/secret/
other volumeMount is materialised under a local root (``items`` and ``subPath`` honoured, other
volume types are empty dirs), and ``rewrite`` points a value inside a mount path at its local
copy, so SCRIPT=/var/data/function.ts works without a container. Missing objects or keys raise
ConfigError, which the kubelet shows as CreateContainerConfigError and retries.
Reads ConfigMaps and Secrets through an ObjectSource (the API client); writes only under root.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any, Protocol

from sandbox.node.client import CONFIGMAPS, SECRETS, NotFound, Resource
from sandbox.node.settings import NODE_NAME

__all__ = ["ConfigError", "ObjectSource", "PodConfig", "rewrite"]

Body = dict[str, Any]


class ObjectSource(Protocol):
    """Where ConfigMaps and Secrets come from (the API client)."""

    async def get(self, res: Resource, namespace: str | None, name: str) -> Body: ...


class ConfigError(Exception):
    """The container cannot be configured yet (missing secret, key, configmap): retried."""


class PodConfig:
    """Resolves env and volumes of a pod's containers."""

    def __init__(self, source: ObjectSource) -> None:
        self._source = source

    async def _data(
        self, res: Resource, namespace: str, name: str, optional: bool
    ) -> dict[str, str]:
        try:
            obj = await self._source.get(res, namespace, name)
        except NotFound:
            if optional:
                return {}
            raise ConfigError(f'{res.plural[:-1]} "{name}" not found') from None
        data = {str(k): str(v) for k, v in (obj.get("data") or {}).items()}
        if res is SECRETS:
            data = {k: base64.b64decode(v).decode("utf-8", "replace") for k, v in data.items()}
            data.update({str(k): str(v) for k, v in (obj.get("stringData") or {}).items()})
        else:
            binary = obj.get("binaryData") or {}
            data.update(
                {str(k): base64.b64decode(v).decode("utf-8", "replace") for k, v in binary.items()}
            )
        return data

    async def env(self, pod: Body, container: Body) -> dict[str, str]:
        """The container's environment with envFrom and valueFrom resolved."""
        ns = str(pod["metadata"].get("namespace", "default"))
        env: dict[str, str] = {}
        for source in container.get("envFrom") or []:
            prefix = str(source.get("prefix", ""))
            for ref_field, res in (("configMapRef", CONFIGMAPS), ("secretRef", SECRETS)):
                ref = source.get(ref_field)
                if ref:
                    data = await self._data(res, ns, ref["name"], bool(ref.get("optional")))
                    env.update({prefix + k: v for k, v in data.items()})
        for item in container.get("env") or []:
            name = str(item["name"])
            if "valueFrom" not in item:
                env[name] = str(item.get("value", ""))
                continue
            value_from = item["valueFrom"]
            for ref_field, res in (("secretKeyRef", SECRETS), ("configMapKeyRef", CONFIGMAPS)):
                ref = value_from.get(ref_field)
                if ref:
                    optional = bool(ref.get("optional"))
                    data = await self._data(res, ns, ref["name"], optional)
                    if ref["key"] in data:
                        env[name] = data[ref["key"]]
                    elif not optional:
                        raise ConfigError(
                            f"couldn't find key {ref['key']} in {res.plural[:-1]} {ns}/{ref['name']}"
                        )
            if "fieldRef" in value_from:
                env[name] = _field(pod, str(value_from["fieldRef"].get("fieldPath", "")))
        return env

    async def mount(self, pod: Body, container: Body, root: Path) -> dict[str, Path]:
        """Materialise the container's volumeMounts under root: mountPath -> local path."""
        ns = str(pod["metadata"].get("namespace", "default"))
        volumes = {v["name"]: v for v in pod.get("spec", {}).get("volumes") or []}
        mounts: dict[str, Path] = {}
        for mount in container.get("volumeMounts") or []:
            volume = volumes.get(mount.get("name"), {})
            files: dict[str, str] = {}
            for ref_field, res, ref_key in (
                ("configMap", CONFIGMAPS, "name"),
                ("secret", SECRETS, "secretName"),
            ):
                spec = volume.get(ref_field)
                if spec:
                    data = await self._data(res, ns, spec[ref_key], bool(spec.get("optional")))
                    items = spec.get("items")
                    files = (
                        {i["path"]: data[i["key"]] for i in items if i["key"] in data}
                        if items
                        else data
                    )
            mount_path = str(mount["mountPath"])
            local = root / mount_path.lstrip("/")
            sub = str(mount.get("subPath") or "")
            if sub:
                if sub not in files:
                    raise ConfigError(f"subPath {sub!r} not found in volume {mount.get('name')}")
                local.parent.mkdir(parents=True, exist_ok=True)
                local.write_text(files[sub])
            else:
                local.mkdir(parents=True, exist_ok=True)
                for rel, text in files.items():
                    target = local / rel
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_text(text)
            mounts[mount_path] = local
        return mounts


def rewrite(value: str, mounts: dict[str, Path]) -> str:
    """Point a path inside a mount at its local copy; other values unchanged."""
    for mount_path in sorted(mounts, key=len, reverse=True):
        if value == mount_path or value.startswith(mount_path.rstrip("/") + "/"):
            return str(mounts[mount_path]) + value[len(mount_path) :]
    return value


def _field(pod: Body, path: str) -> str:
    meta, spec = pod.get("metadata", {}), pod.get("spec", {})
    simple = {
        "metadata.name": meta.get("name"),
        "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"),
        "spec.nodeName": spec.get("nodeName") or NODE_NAME,
        "spec.serviceAccountName": spec.get("serviceAccountName", "default"),
        "status.podIP": "127.0.0.1",
        "status.hostIP": "127.0.0.1",
    }
    if path in simple:
        return str(simple[path] or "")
    match = re.fullmatch(r"metadata\.(labels|annotations)\['(.+)'\]", path)
    if match:
        return str((meta.get(match.group(1)) or {}).get(match.group(2), ""))
    return ""
