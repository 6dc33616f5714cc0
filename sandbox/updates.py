"""What an update may not change, as kube-apiserver's update validation refuses it (422).

- Pods: the spec is immutable except `containers[*].image`, `initContainers[*].image`,
  `activeDeadlineSeconds`, `tolerations` (additions only) and `terminationGracePeriodSeconds`;
  scheduling gates may only be removed (`spec.schedulingGates: Forbidden: only deletion is
  allowed, but found new scheduling gate 'x'`). `nodeName` is set through `pods/binding`.
- Jobs: `spec.selector`, `spec.template` (unless the Job is suspended) and `spec.completions`.
- Deployments, ReplicaSets, StatefulSets, DaemonSets: `spec.selector`.
- ConfigMaps and Secrets marked `immutable: true`: their data and the mark itself.
The status subresource and pods/binding are not checked here (they change only status and
nodeName). Unlike the real message, the pod-spec refusal carries no Go diff of the change.
Pure functions.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from sandbox import errors
from sandbox.resources import ResourceType

__all__ = ["validate_update"]

Cause = tuple[str, str, str]
_POD_SPEC_FORBIDDEN = (
    "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only "
    "additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be "
    "set to 1 if it was previously negative)"
)
_WORKLOADS = ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job")


def _immutable(path: str, value: Any) -> Cause:
    shown = json.dumps(value, sort_keys=True)
    return (path, "FieldValueInvalid", f"Invalid value: {shown}: field is immutable")


def _gate_names(spec: dict[str, Any]) -> list[str]:
    return [str(g.get("name")) for g in spec.get("schedulingGates") or [] if isinstance(g, dict)]


def _pod(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    spec, was = new.get("spec") or {}, old.get("spec") or {}
    old_gates = set(_gate_names(was))
    for gate in _gate_names(spec):
        if gate not in old_gates:
            why = f"Forbidden: only deletion is allowed, but found new scheduling gate '{gate}'"
            return [("spec.schedulingGates", "FieldValueForbidden", why)]
    allowed = copy.deepcopy(was)
    for key in ("activeDeadlineSeconds", "terminationGracePeriodSeconds", "schedulingGates"):
        allowed.pop(key, None)
        if key in spec:
            allowed[key] = spec[key]
    for group in ("containers", "initContainers"):
        mine, theirs = allowed.get(group) or [], spec.get(group) or []
        if len(mine) == len(theirs):
            for container, changed in zip(mine, theirs, strict=True):
                if isinstance(container, dict) and isinstance(changed, dict):
                    container["image"] = changed.get("image")
    tolerations = spec.get("tolerations") or []
    if all(t in tolerations for t in was.get("tolerations") or []):
        allowed["tolerations"] = spec.get("tolerations")
        if "tolerations" not in spec:
            allowed.pop("tolerations", None)
    for key in ("enableServiceLinks", "priority"):  # defaulted at create; absent = unchanged
        if key not in spec:
            allowed.pop(key, None)
    if allowed != spec:
        return [("spec", "FieldValueForbidden", _POD_SPEC_FORBIDDEN)]
    return []


def _workload(kind: str, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    spec, was = new.get("spec") or {}, old.get("spec") or {}
    causes = []
    if spec.get("selector") != was.get("selector"):
        causes.append(_immutable("spec.selector", spec.get("selector")))
    if kind == "Job":
        if spec.get("template") != was.get("template") and not was.get("suspend"):
            causes.append(_immutable("spec.template", spec.get("template")))
        if spec.get("completions") != was.get("completions"):
            causes.append(_immutable("spec.completions", spec.get("completions")))
    return causes


def _immutable_data(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    if not old.get("immutable"):
        return []
    message = "Forbidden: field is immutable when `immutable` is set"
    causes = []
    if not new.get("immutable"):
        causes.append(("immutable", "FieldValueForbidden", message))
    for section in ("data", "binaryData"):
        if (new.get(section) or {}) != (old.get(section) or {}):
            causes.append((section, "FieldValueForbidden", message))
    return causes


def validate_update(
    rt: ResourceType, new: dict[str, Any], old: dict[str, Any], subresource: str
) -> None:
    """Raise the real server's 422 when `new` changes what an update may not."""
    if rt.custom or rt.group not in ("", "apps", "batch") or subresource:
        return
    if rt.kind == "Pod":
        causes = _pod(new, old)
    elif rt.kind in _WORKLOADS:
        causes = _workload(rt.kind, new, old)
    elif rt.kind in ("ConfigMap", "Secret"):
        causes = _immutable_data(new, old)
    else:
        return
    if causes:
        raise errors.invalid(rt.kind, rt.group, str(new["metadata"].get("name", "")), causes)
