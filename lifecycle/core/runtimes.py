"""PURE task runtimes: KeptnTaskDefinition + KeptnTask -> batch/v1 Job body (keptn.md §9).

Role: ``build_job`` turns a task and its definition into the Job the KeptnTask controller creates;
``function_config_map`` builds the ``keptnfn-<definition>`` ConfigMap that holds inline code. Three
runtimes: deno and python (the runner images read ``SCRIPT``, ``DATA``, ``SECURE_DATA``,
``KEPTN_CONTEXT`` and ``CMD_ARGS``; code comes from inline code, a ConfigMap, an HTTP URL or another
definition through ``functionRef``), and container (the user's container plus ``KEPTN_CONTEXT``).

Invariants: the Job name is ``<task>-<5 hex chars of sha256(task uid)>``: deterministic, so a
controller that crashed between "create Job" and "record jobName" finds the same Job instead of
starting a second run (KLT #3921 uses a random suffix). Parameters merge definition, then parent
definitions (nearest first), then the task, later ones winning; with ``functionRef`` the code,
image and mount path come from the referenced definition (as in KLT), and chains are followed to
the root with cycle detection (KLT follows one level). A ConfigMap beats an HTTP URL when both are
set, as in KLT. Runner images come from ``RuntimeImages`` (built from the operator's environment by
the caller; this module reads no environment itself). ``task_metadata`` gives a KeptnTask the
definition's labels and annotations (KLT: users set ``sidecar.istio.io/inject: "false"``, cost
labels, ...); the Job and its pod template carry the task's, with the operator's own keys winning.

Must not: do I/O, read the environment or a clock, or import asyncio/aiohttp/kubernetes_asyncio.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Final

from evaluator.durations import parse_seconds
from lifecycle.core.bodies import (
    JSON,
    KeptnTaskBody,
    KeptnTaskDefinitionBody,
    KeptnTaskSpec,
    RuntimeSpec,
)
from lifecycle.core.kubebodies import ConfigMapBody
from lifecycle.core.meta import annotations_of, labels_of, metadata_of, name_of, namespace_of
from lifecycle.core.model import CONFIG_MAP, JOB, KEPTN_TASK, KEPTN_TASK_DEFINITION, owner_reference
from lifecycle.core.naming import valid_name

__all__ = [
    "DEFAULT_DENO_IMAGE",
    "DEFAULT_PYTHON_IMAGE",
    "FUNCTION_CONFIG_MAP_PREFIX",
    "RUNNER_CONTAINER",
    "RuntimeImages",
    "TaskDefinitionError",
    "build_job",
    "function_config_map",
    "function_config_map_name",
    "job_name",
    "task_metadata",
]

FUNCTION_CONFIG_MAP_PREFIX: Final = "keptnfn-"
DEFAULT_DENO_IMAGE: Final = "ghcr.io/keptn/deno-runtime:v3.0.1"
DEFAULT_PYTHON_IMAGE: Final = "ghcr.io/keptn/python-runtime:v1.0.8"
RUNNER_CONTAINER: Final = "keptn-function-runner"
_MOUNT_NAME: Final = "function-mount"
_MOUNT_PATH: Final[Mapping[str, str]] = {
    "deno": "/var/data/function.ts",
    "python": "/var/data/function.py",
}
_DEFAULT_RETRIES: Final = 10
_DEFAULT_TIMEOUT: Final = "5m"
_DEFAULT_TTL: Final = 300
_MAX_JOB_NAME: Final = 63  # Job names become the pods' job-name label value
_SECURE_KEY: Final = "SECURE_DATA"


class TaskDefinitionError(ValueError):
    """The definition cannot run: no code source, a missing or cyclic functionRef."""


@dataclass(frozen=True, slots=True)
class RuntimeImages:
    """Runner images (the operator's settings read KLT's FUNCTION_RUNNER_IMAGE / PYTHON_RUNNER_IMAGE)."""

    deno: str = DEFAULT_DENO_IMAGE
    python: str = DEFAULT_PYTHON_IMAGE

    def for_runtime(self, runtime: str) -> str:
        """The image of ``deno`` or ``python``."""
        return self.deno if runtime == "deno" else self.python


@dataclass(frozen=True, slots=True)
class _Source:
    """Where a runtime task's code and settings come from, after following functionRef."""

    runtime: str
    config_map: str = ""
    url: str = ""
    parameters: Mapping[str, str] = field(default_factory=dict)
    secret: str = ""
    cmd: str = ""


def function_config_map_name(definition_name: str) -> str:
    """``keptnfn-<definition>``: the ConfigMap holding a definition's inline code."""
    return valid_name(f"{FUNCTION_CONFIG_MAP_PREFIX}{definition_name}")


def _runtime(definition: KeptnTaskDefinitionBody) -> tuple[str, RuntimeSpec] | None:
    spec = definition.get("spec") or {}
    for runtime, value in (("deno", spec.get("deno")), ("python", spec.get("python"))):
        if isinstance(value, Mapping):
            return runtime, value
    return None


def function_config_map(definition: KeptnTaskDefinitionBody) -> ConfigMapBody | None:
    """The ConfigMap body for a definition with inline code (owned by it), else None."""
    found = _runtime(definition)
    code = ((found[1].get("inline") or {}).get("code")) if found else None
    if code is None:
        return None
    owner = owner_reference(definition, KEPTN_TASK_DEFINITION)
    return {
        "apiVersion": CONFIG_MAP.api_version,
        "kind": CONFIG_MAP.kind,
        "metadata": {
            "name": function_config_map_name(name_of(definition)),
            "namespace": namespace_of(definition),
            "ownerReferences": [owner],
        },
        "data": {"code": str(code)},
    }


def _own_source(definition: KeptnTaskDefinitionBody, runtime: str, spec: RuntimeSpec) -> _Source:
    config_map = ""
    if (spec.get("inline") or {}).get("code") is not None:
        config_map = function_config_map_name(name_of(definition))
    elif (spec.get("configMapRef") or {}).get("name"):
        config_map = str(spec["configMapRef"]["name"])
    return _Source(
        runtime=runtime,
        config_map=config_map,
        url="" if config_map else str((spec.get("httpRef") or {}).get("url") or ""),
        parameters=dict((spec.get("parameters") or {}).get("map") or {}),
        secret=str((spec.get("secureParameters") or {}).get("secret") or ""),
        cmd=str(spec.get("cmdParameters") or ""),
    )


def _resolve_source(
    definition: KeptnTaskDefinitionBody, resolve: Callable[[str], KeptnTaskDefinitionBody | None]
) -> _Source:
    """Follow functionRef to the definition that holds the code; child settings win."""
    chain: list[_Source] = []
    seen: set[str] = set()
    current: KeptnTaskDefinitionBody | None = definition
    while current is not None:
        name = name_of(current)
        if name in seen:
            raise TaskDefinitionError(f"functionRef cycle through KeptnTaskDefinition: {name}")
        seen.add(name)
        found = _runtime(current)
        if found is None:
            raise TaskDefinitionError(
                f"KeptnTaskDefinition {name} referenced by functionRef has no deno or python runtime"
            )
        runtime, spec = found
        own = _own_source(current, runtime, spec)
        chain.append(own)
        parent = str((spec.get("functionRef") or {}).get("name") or "")
        if not parent:  # the end of the chain must hold the code
            if not (own.config_map or own.url):
                raise TaskDefinitionError(
                    "no ConfigMap specified or HTTP source specified in TaskDefinition"
                    f" / Namespace: {namespace_of(current)}, Name: {name}"
                )
            break
        current = resolve(parent)
        if current is None:
            raise TaskDefinitionError(f"could not find KeptnTaskDefinition: {parent}")
    parameters: dict[str, str] = {}
    for item in reversed(chain):
        parameters.update(item.parameters)
    return replace(  # runtime, code and so image and mount path: the root's, as in KLT
        chain[-1],
        parameters=parameters,
        secret=next((s.secret for s in chain if s.secret), ""),
        cmd=next((s.cmd for s in chain if s.cmd), ""),
    )


_NOT_INHERITED: Final = frozenset({"kubectl.kubernetes.io/last-applied-configuration"})


def task_metadata(
    definition: KeptnTaskDefinitionBody | None,
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
) -> tuple[dict[str, str], dict[str, str]]:
    """A KeptnTask's labels and annotations: the definition's, overridden by the operator's own."""
    meta = metadata_of(definition or {})

    def inherited(values: dict[str, str] | None) -> dict[str, str]:
        return {k: v for k, v in (values or {}).items() if k not in _NOT_INHERITED}

    return (
        {**inherited(meta.get("labels")), **labels},
        {**inherited(meta.get("annotations")), **annotations},
    )


def job_name(task: KeptnTaskBody) -> str:
    """``<task name>-<5 hex chars of sha256(task uid)>``, at most 63 characters."""
    meta = metadata_of(task)
    suffix = hashlib.sha256(str(meta.get("uid", "")).encode()).hexdigest()[:5]
    prefix = str(meta.get("name", ""))[: _MAX_JOB_NAME - 6].rstrip("-.")
    return f"{prefix}-{suffix}"


def _context_json(task_spec: KeptnTaskSpec) -> str:
    return json.dumps(task_spec.get("context") or {}, separators=(",", ":"))


def _runtime_container(
    task_spec: KeptnTaskSpec, source: _Source, images: RuntimeImages
) -> tuple[dict[str, object], list[dict[str, object]]]:
    parameters = {**source.parameters, **((task_spec.get("parameters") or {}).get("map") or {})}
    secret = str((task_spec.get("secureParameters") or {}).get("secret") or "") or source.secret
    env: list[dict[str, object]] = []
    if parameters:
        env.append({"name": "DATA", "value": json.dumps(parameters, separators=(",", ":"))})
    env.append({"name": "KEPTN_CONTEXT", "value": _context_json(task_spec)})
    env.append({"name": "CMD_ARGS", "value": source.cmd})
    if secret:
        ref = {"secretKeyRef": {"name": secret, "key": _SECURE_KEY}}
        env.append({"name": _SECURE_KEY, "valueFrom": ref})
    mount_path = _MOUNT_PATH[source.runtime]
    container: dict[str, object] = {
        "name": RUNNER_CONTAINER,
        "image": images.for_runtime(source.runtime),
        "imagePullPolicy": "IfNotPresent",
        "env": env,
    }
    volumes: list[dict[str, object]] = []
    if source.config_map:
        env.append({"name": "SCRIPT", "value": mount_path})
        container["volumeMounts"] = [
            {"name": _MOUNT_NAME, "readOnly": True, "mountPath": mount_path, "subPath": "code"}
        ]
        volumes.append({"name": _MOUNT_NAME, "configMap": {"name": source.config_map}})
    else:
        env.append({"name": "SCRIPT", "value": source.url})
    return container, volumes


def _user_container(
    task_spec: KeptnTaskSpec, spec: Mapping[str, object]
) -> tuple[dict[str, object], list[dict[str, object]]]:
    container = json.loads(json.dumps(spec))  # a deep copy that stays plain JSON
    env = [e for e in container.get("env") or [] if e.get("name") != "KEPTN_CONTEXT"]
    env.append({"name": "KEPTN_CONTEXT", "value": _context_json(task_spec)})
    container["env"] = env
    volumes: list[dict[str, object]] = []
    mounts = container.get("volumeMounts") or []
    if mounts:
        limit = ((container.get("resources") or {}).get("limits") or {}).get("memory") or "1Gi"
        volumes.append(
            {"name": mounts[0]["name"], "emptyDir": {"medium": "Memory", "sizeLimit": str(limit)}}
        )
    return container, volumes


def build_job(
    task: KeptnTaskBody,
    definition: KeptnTaskDefinitionBody,
    *,
    images: RuntimeImages,
    resolve: Callable[[str], KeptnTaskDefinitionBody | None],
) -> JSON:
    """The Job body for ``task`` run by ``definition``; ``resolve(name)`` finds functionRef targets.

    Raises TaskDefinitionError when the definition has no runnable code source.
    """
    task_spec = task.get("spec") or {}
    def_spec = definition.get("spec") or {}
    if isinstance(def_spec.get("container"), Mapping):
        container, volumes = _user_container(task_spec, def_spec["container"])
    else:
        container, volumes = _runtime_container(
            task_spec, _resolve_source(definition, resolve), images
        )
    context = task_spec.get("context") or {}
    is_app = context.get("objectType") == "App"
    labels = dict(labels_of(task))
    annotations = {
        **annotations_of(task),
        "keptn.sh/app": str(context.get("appName", "")),
        "keptn.sh/workload": str(context.get("workloadName", "")),
        "keptn.sh/version": str(
            context.get("appVersion" if is_app else "workloadVersion", "") or ""
        ),
        "keptn.sh/task-name": name_of(task),
    }
    pod_spec: dict[str, object] = {"restartPolicy": "OnFailure", "containers": [container]}
    if volumes:
        pod_spec["volumes"] = volumes
    if (def_spec.get("serviceAccount") or {}).get("name"):
        pod_spec["serviceAccountName"] = def_spec["serviceAccount"]["name"]
    automount = (def_spec.get("automountServiceAccountToken") or {}).get("type")
    if automount is not None:
        pod_spec["automountServiceAccountToken"] = bool(automount)
    if def_spec.get("imagePullSecrets"):
        pod_spec["imagePullSecrets"] = [dict(s) for s in def_spec["imagePullSecrets"]]
    retries = task_spec.get("retries", def_spec.get("retries", _DEFAULT_RETRIES))
    timeout = task_spec.get("timeout") or def_spec.get("timeout") or _DEFAULT_TIMEOUT
    owner = owner_reference(task, KEPTN_TASK)
    return {
        "apiVersion": JOB.api_version,
        "kind": JOB.kind,
        "metadata": {
            "name": job_name(task),
            "namespace": namespace_of(task),
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": [owner],
        },
        "spec": {
            "backoffLimit": int(retries),
            "activeDeadlineSeconds": max(1, int(parse_seconds(str(timeout)))),
            "ttlSecondsAfterFinished": int(def_spec.get("ttlSecondsAfterFinished", _DEFAULT_TTL)),
            "template": {
                "metadata": {"labels": dict(labels), "annotations": dict(annotations)},
                "spec": pod_spec,
            },
        },
    }
