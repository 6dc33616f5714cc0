"""What the API checks on every write, before and after admission.

Decoding (kind, apiVersion, metadata), metadata checks (`sandbox.objectmeta`), custom resource
pruning/defaulting/validation from the CRD schema, CRD naming, and the comparisons `verbs`
uses to skip no-op writes and to decide generation bumps. Pure functions; errors are
`ApiError`s shaped like the real server's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sandbox import errors
from sandbox.objectmeta import (
    metadata_causes,
    pod_spec_causes,
    selector_causes,
    template_label_causes,
)
from sandbox.resources import ResourceType
from sandbox.schema import Cause, prune_and_default, validate
from sandbox.selectors import LabelSelector

__all__ = [
    "decode",
    "prune_custom",
    "spec_part",
    "strip_volatile",
    "validate_crd",
    "validate_object",
]


def decode(rt: ResourceType, body: Any) -> dict[str, Any]:
    """Check the kind of a request body and set kind/apiVersion/metadata."""
    if not isinstance(body, dict):
        raise errors.bad_request("the body of the request must be a JSON object")
    kind = body.get("kind")
    if kind and kind != rt.kind:
        raise errors.bad_request(
            f"the kind of the object ({kind}) does not match the kind of the resource ({rt.kind})"
        )
    body["kind"] = rt.kind
    body["apiVersion"] = rt.api_version
    if not isinstance(body.get("metadata"), dict):
        body["metadata"] = {}
    return body


def prune_custom(rt: ResourceType, obj: dict[str, Any], field_validation: str = "") -> None:
    """Prune and default a custom resource; `Strict` field validation refuses unknown fields."""
    if not rt.custom:
        return
    pruned = prune_and_default(rt.schema, obj)
    if pruned and field_validation == "Strict":
        raise errors.bad_request(
            "strict decoding error: " + ", ".join(f'unknown field "{p}"' for p in pruned)
        )


def _metadata_types(meta: dict[str, Any]) -> list[Cause]:
    """Metadata fields of the wrong JSON type (a number as name, a list as labels ...)."""
    causes: list[Cause] = []
    for key in ("name", "generateName", "namespace", "resourceVersion", "uid"):
        if key in meta and not isinstance(meta[key], str):
            causes.append(
                (f"metadata.{key}", "FieldValueInvalid", "Invalid value: must be a string")
            )
    for key in ("labels", "annotations"):
        value = meta.get(key)
        if value is not None and not (
            isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
        ):
            causes.append(
                (f"metadata.{key}", "FieldValueInvalid", "Invalid value: must be a map of strings")
            )
    for key in ("ownerReferences", "finalizers"):
        value = meta.get(key)
        kind = dict if key == "ownerReferences" else str
        if value is not None and not (
            isinstance(value, list) and all(isinstance(v, kind) for v in value)
        ):
            causes.append((f"metadata.{key}", "FieldValueInvalid", "Invalid value: wrong type"))
    return causes


def validate_object(rt: ResourceType, obj: dict[str, Any], status_write: bool = False) -> None:
    """Name, labels, annotations and data size (`sandbox.objectmeta`); the CRD schema of custom resources; for pods and workloads the checks
    clients trip over (containers, selector matching the template, Job restartPolicy).
    A `status_write` is the stored object with a new status: the status alone is checked, as
    kube's status strategies do (the rest was checked when it was written)."""
    causes = _metadata_types(obj["metadata"])
    if causes:  # the real API server fails to decode these (400); named here, never a 500
        raise errors.invalid(rt.kind, rt.group, str(obj["metadata"].get("name", "")), causes)
    name = obj["metadata"].get("name", "")
    if status_write:
        causes = validate(rt.schema, obj, only="status") if rt.custom else []
    elif rt.custom:
        causes = [*metadata_causes(rt.kind, True, obj), *validate(rt.schema, obj)]
    else:
        check = _BUILTIN_CHECKS.get(rt.kind)
        causes = [*metadata_causes(rt.kind, False, obj), *(check(obj) if check else [])]
    if causes:
        raise errors.invalid(rt.kind, rt.group, name, causes)


def _containers(spec: dict[str, Any], path: str) -> list[Cause]:
    containers = spec.get("containers")
    if not containers:
        return [(f"{path}.containers", "FieldValueRequired", "Required value")]
    causes: list[Cause] = []
    for i, c in enumerate(containers):
        if not isinstance(c, dict) or not c.get("name"):
            causes.append((f"{path}.containers[{i}].name", "FieldValueRequired", "Required value"))
        elif not c.get("image"):
            causes.append((f"{path}.containers[{i}].image", "FieldValueRequired", "Required value"))
    return causes


def _pod(obj: dict[str, Any]) -> list[Cause]:
    spec = obj.get("spec") or {}
    return [*_containers(spec, "spec"), *pod_spec_causes(spec, "spec")]


def _workload(obj: dict[str, Any]) -> list[Cause]:
    spec = obj.get("spec") or {}
    template = spec.get("template") or {}
    causes = [
        *template_label_causes(obj),
        *_containers(template.get("spec") or {}, "spec.template.spec"),
        *pod_spec_causes(template.get("spec") or {}, "spec.template.spec"),
        *selector_causes(obj),
    ]
    selector = spec.get("selector")
    if obj.get("kind") != "Job" or spec.get("manualSelector"):
        if not selector:
            return [*causes, ("spec.selector", "FieldValueRequired", "Required value")]
        labels = (template.get("metadata") or {}).get("labels") or {}
        if not LabelSelector.from_object(selector).matches(labels):
            shown = ", ".join(f'"{k}":"{v}"' for k, v in sorted(labels.items()))
            why = f"Invalid value: map[string]string{{{shown}}}: `selector` does not match template `labels`"
            causes.append(("spec.template.metadata.labels", "FieldValueInvalid", why))
    if obj.get("kind") == "Job":
        policy = (template.get("spec") or {}).get("restartPolicy")
        if policy not in ("OnFailure", "Never"):
            why = f'Unsupported value: "{policy}": supported values: "OnFailure", "Never"'
            causes.append(("spec.template.spec.restartPolicy", "FieldValueNotSupported", why))
    return causes


_BUILTIN_CHECKS: dict[str, Callable[[dict[str, Any]], list[Cause]]] = {
    "Pod": _pod,
    "Service": selector_causes,
    "Deployment": _workload,
    "ReplicaSet": _workload,
    "StatefulSet": _workload,
    "DaemonSet": _workload,
    "Job": _workload,
}


def validate_crd(obj: dict[str, Any]) -> None:
    spec = obj.get("spec") or {}
    names = spec.get("names") or {}
    name = obj["metadata"]["name"]
    expected = f"{names.get('plural')}.{spec.get('group')}"
    if name != expected:
        why = f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group'
        cause = ("metadata.name", "FieldValueInvalid", why)
        raise errors.invalid("CustomResourceDefinition", "apiextensions.k8s.io", name, [cause])


def strip_volatile(obj: dict[str, Any]) -> dict[str, Any]:
    out = dict(obj)
    meta = dict(out.get("metadata") or {})
    meta.pop("resourceVersion", None)
    meta.pop("managedFields", None)
    out["metadata"] = meta
    return out


def spec_part(obj: dict[str, Any], has_status: bool) -> dict[str, Any]:
    return {
        k: v
        for k, v in obj.items()
        if k not in ("metadata", "status") or (k == "status" and not has_status)
    }
