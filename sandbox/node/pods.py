"""PURE helpers about pods: predicates, names, pods built from templates, pod status bodies.

No I/O, no clock: callers pass ``now`` (epoch seconds). The status bodies follow what a real
kubelet writes (conditions PodScheduled/Initialized/ContainersReady/Ready, containerStatuses
with waiting/running/terminated states), so clients that read real clusters read these.
"""

from __future__ import annotations

import calendar
import copy
import random
import time
from dataclasses import dataclass
from typing import Any

from sandbox.node.settings import NODE_NAME

__all__ = [
    "NODE_NAME",
    "ContainerState",
    "bound_node",
    "gated_status",
    "is_active",
    "is_gated",
    "is_ready",
    "is_terminating",
    "owner_ref",
    "parse_time",
    "pod_from_template",
    "pod_phase",
    "pod_status",
    "random_suffix",
    "timestamp",
]

Body = dict[str, Any]

# The alphabet of Kubernetes' utilrand: lowercase alnum without vowels and look-alikes.
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def timestamp(now: float) -> str:
    """RFC 3339 with second precision, UTC, as Kubernetes writes metav1.Time."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))


def random_suffix() -> str:
    """A random name suffix like the ones generateName adds."""
    return "".join(random.choices(_ALPHABET, k=5))


def is_terminating(obj: Body) -> bool:
    """Has a deletionTimestamp."""
    return bool(obj.get("metadata", {}).get("deletionTimestamp"))


def is_gated(pod: Body) -> bool:
    """spec.schedulingGates is non-empty."""
    return bool(pod.get("spec", {}).get("schedulingGates"))


def is_active(pod: Body) -> bool:
    """Not being deleted and not in a terminal phase."""
    phase = pod.get("status", {}).get("phase", "Pending")
    return not is_terminating(pod) and phase not in ("Succeeded", "Failed")


def is_ready(pod: Body) -> bool:
    """The Ready condition is True."""
    for cond in pod.get("status", {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return bool(cond.get("status") == "True")
    return False


def owner_ref(owner: Body, kind: str, api_version: str) -> Body:
    """The controller ownerReference pointing at ``owner``."""
    meta = owner.get("metadata", {})
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": meta.get("name", ""),
        "uid": meta.get("uid", ""),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def pod_from_template(
    owner: Body, kind: str, name: str, extra_labels: dict[str, str] | None = None
) -> Body:
    """A Pod body from the pod template of ``owner``, a ``kind`` of apps/v1 or a batch/v1 Job,
    owned (controller) by it."""
    template = owner.get("spec", {}).get("template") or {}
    tmeta = template.get("metadata") or {}
    labels = dict(tmeta.get("labels") or {})
    labels.update(extra_labels or {})
    meta: Body = {
        "name": name,
        "namespace": owner["metadata"].get("namespace", ""),
        "labels": labels,
        "ownerReferences": [owner_ref(owner, kind, "batch/v1" if kind == "Job" else "apps/v1")],
    }
    if tmeta.get("annotations"):
        meta["annotations"] = dict(tmeta["annotations"])
    if tmeta.get("finalizers"):
        meta["finalizers"] = list(tmeta["finalizers"])
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": copy.deepcopy(template.get("spec") or {}),
    }


def _condition(kind: str, ok: bool, now: float, reason: str = "", message: str = "") -> Body:
    cond: Body = {
        "type": kind,
        "status": "True" if ok else "False",
        "lastProbeTime": None,
        "lastTransitionTime": timestamp(now),
    }
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    return cond


def gated_status(now: float) -> Body:
    """Status of a pod held back by scheduling gates."""
    gated = "Scheduling is blocked due to non-empty scheduling gates"
    scheduled = _condition("PodScheduled", False, now, "SchedulingGated", gated)
    return {"phase": "Pending", "conditions": [scheduled], "qosClass": "BestEffort"}


@dataclass(slots=True)
class ContainerState:
    """What the runtime knows about one container."""

    name: str
    image: str
    state: str = "waiting"
    """waiting | running | terminated."""
    reason: str = "ContainerCreating"
    message: str = ""
    exit_code: int = 0
    started_at: float | None = None
    finished_at: float | None = None
    container_id: str = ""

    def fail(self, exit_code: int, message: str, now: float) -> None:
        """End the container with an Error, unless it has ended already."""
        if self.state != "terminated":
            self.state, self.reason, self.exit_code = "terminated", "Error", exit_code
            self.started_at = self.started_at or now
            self.finished_at, self.message = now, message

    def body(self) -> Body:
        """The containerStatuses entry."""
        detail: Body
        if self.state == "running":
            detail = {"startedAt": timestamp(self.started_at or 0)}
        elif self.state == "terminated":
            detail = {
                "exitCode": self.exit_code,
                "reason": self.reason,
                "startedAt": timestamp(self.started_at or 0),
                "finishedAt": timestamp(self.finished_at or 0),
                "containerID": self.container_id,
            }
        else:
            detail = {"reason": self.reason}
        if self.message and self.state != "running":
            detail["message"] = self.message
        out: Body = {
            "name": self.name,
            "image": self.image,
            "imageID": f"sandbox://{self.image}",
            "ready": self.state == "running",
            "started": self.state == "running",
            "restartCount": 0,
            "state": {self.state: detail},
        }
        if self.container_id:
            out["containerID"] = self.container_id
        return out


def pod_phase(states: list[ContainerState]) -> str:
    """Pod phase from its containers: terminal once all ended, Running once all started."""
    if states and all(s.state == "terminated" for s in states):
        return "Succeeded" if all(s.exit_code == 0 for s in states) else "Failed"
    if states and all(s.state != "waiting" for s in states):
        return "Running"
    return "Pending"


def pod_status(
    states: list[ContainerState], *, scheduled_at: float, started_at: float | None, now: float
) -> Body:
    """Full status of a bound pod whose containers are in ``states``."""
    phase = pod_phase(states)
    ready = bool(states) and all(s.state == "running" for s in states)
    not_ready = "" if ready else "ContainersNotReady"
    names = ", ".join(s.name for s in states if s.state != "running")
    msg = "" if ready else f"containers with unready status: [{names}]"
    if phase == "Succeeded":
        not_ready, msg = "PodCompleted", ""
    status: Body = {
        "phase": phase,
        "conditions": [
            _condition("Initialized", True, scheduled_at),
            _condition("Ready", ready, now, not_ready, msg),
            _condition("ContainersReady", ready, now, not_ready, msg),
            _condition("PodScheduled", True, scheduled_at),
        ],
        "hostIP": "127.0.0.1",
        "podIP": "127.0.0.1",
        "podIPs": [{"ip": "127.0.0.1"}],
        "qosClass": "BestEffort",
        "containerStatuses": [s.body() for s in states],
    }
    if started_at is not None:
        status["startTime"] = timestamp(started_at)
    return status


def bound_node(pod: Body) -> str:
    """spec.nodeName, or "" when unscheduled."""
    return str(pod.get("spec", {}).get("nodeName") or "")


def parse_time(value: object) -> float | None:
    """Epoch seconds of an RFC 3339 timestamp, or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return calendar.timegm(time.strptime(value[:19], "%Y-%m-%dT%H:%M:%S"))
    except ValueError:
        return None
