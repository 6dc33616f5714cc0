"""The columns kubectl shows for built-in kinds (pods, deployments, jobs, events, ...), as
kube-apiserver's table printers build them: column definitions and a cell builder per kind.
Pure functions, no I/O; `sandbox.tables` uses them for Table answers.
"""

from __future__ import annotations

import time
from calendar import timegm
from collections.abc import Callable
from typing import Any

__all__ = ["BUILTIN", "Column", "Printer", "age", "human_age"]

Column = tuple[str, str, str, int]
"""(name, type, format, priority)"""


def _ts(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return float(timegm(time.strptime(value, "%Y-%m-%dT%H:%M:%SZ")))
    except ValueError:
        return None


def human_age(value: str | None, now: float | None = None) -> str:
    """`5s`, `3m12s`, `2d` like kubectl's duration.HumanDuration; `<unknown>` without a time."""
    start = _ts(value)
    if start is None:
        return "<unknown>"
    secs = int((now if now is not None else time.time()) - start)
    if secs < 0:
        return "0s"
    if secs < 120:
        return f"{secs}s"
    mins = secs // 60
    if mins < 10:
        return f"{mins}m{secs % 60}s" if secs % 60 else f"{mins}m"
    if mins < 180:
        return f"{mins}m"
    hours = mins // 60
    if hours < 8:
        return f"{hours}h{mins % 60}m" if mins % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if days < 365 * 2:
        return f"{days}d"
    return f"{days // 365}y"


def age(o: dict[str, Any]) -> str:
    """The AGE cell of an object."""
    return human_age(o["metadata"].get("creationTimestamp"))


def _pod_cells(o: dict[str, Any]) -> list[Any]:
    spec, status = o.get("spec") or {}, o.get("status") or {}
    containers = spec.get("containers") or []
    statuses = status.get("containerStatuses") or []
    ready = sum(1 for s in statuses if s.get("ready"))
    restarts = sum(int(s.get("restartCount", 0)) for s in statuses)
    reason = status.get("reason") or status.get("phase") or "Pending"
    for cond in status.get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"
    for s in statuses:
        state = s.get("state") or {}
        if "waiting" in state and state["waiting"].get("reason"):
            reason = state["waiting"]["reason"]
        elif "terminated" in state and state["terminated"].get("reason"):
            reason = state["terminated"]["reason"]
    if o["metadata"].get("deletionTimestamp"):
        reason = "Terminating"
    return [
        f"{ready}/{len(containers)}",
        reason,
        restarts,
        age(o),
        status.get("podIP") or "<none>",
        spec.get("nodeName") or "<none>",
        "<none>",
        "<none>",
    ]


def _deploy_cells(o: dict[str, Any]) -> list[Any]:
    spec, st = o.get("spec") or {}, o.get("status") or {}
    return [
        f"{st.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
        st.get("updatedReplicas", 0),
        st.get("availableReplicas", 0),
        age(o),
    ]


_JOB_VERDICTS = ("Complete", "Failed", "Suspended", "FailureTarget")


def _job_status(st: dict[str, Any]) -> str:
    for cond in st.get("conditions") or []:
        if cond.get("status") == "True" and cond.get("type") in _JOB_VERDICTS:
            return str(cond["type"])
    return "Running"


def _job_cells(o: dict[str, Any]) -> list[Any]:
    spec, st = o.get("spec") or {}, o.get("status") or {}
    start, end = _ts(st.get("startTime")), _ts(st.get("completionTime"))
    duration = ""
    if start is not None:
        secs = int((end if end is not None else time.time()) - start)
        duration = f"{secs}s" if secs < 120 else f"{secs // 60}m"
    return [
        _job_status(st),
        f"{st.get('succeeded', 0)}/{spec.get('completions', 1)}",
        duration,
        age(o),
    ]


def _rs_cells(o: dict[str, Any]) -> list[Any]:
    spec, st = o.get("spec") or {}, o.get("status") or {}
    return [
        spec.get("replicas", 0),
        st.get("replicas", 0),
        st.get("readyReplicas", 0),
        age(o),
    ]


def _sts_cells(o: dict[str, Any]) -> list[Any]:
    spec, st = o.get("spec") or {}, o.get("status") or {}
    return [
        f"{st.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
        age(o),
    ]


def _event_cells(o: dict[str, Any]) -> list[Any]:
    inv = o.get("involvedObject") or o.get("regarding") or {}
    last = o.get("lastTimestamp") or o.get("eventTime") or o["metadata"].get("creationTimestamp")
    if isinstance(last, str) and "." in last:
        last = last.split(".")[0] + "Z"
    return [
        human_age(last),
        o.get("type", ""),
        o.get("reason", ""),
        f"{str(inv.get('kind', '')).lower()}/{inv.get('name', '')}",
        o.get("message") or o.get("note") or "",
    ]


def _ns_cells(o: dict[str, Any]) -> list[Any]:
    return [
        (o.get("status") or {}).get("phase", "Active"),
        age(o),
    ]


def _svc_cells(o: dict[str, Any]) -> list[Any]:
    spec = o.get("spec") or {}
    ports = (
        ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in spec.get("ports") or [])
        or "<none>"
    )
    return [
        spec.get("type", "ClusterIP"),
        spec.get("clusterIP", "<none>"),
        "<none>",
        ports,
        age(o),
    ]


def _cm_cells(o: dict[str, Any]) -> list[Any]:
    return [
        len(o.get("data") or {}) + len(o.get("binaryData") or {}),
        age(o),
    ]


def _secret_cells(o: dict[str, Any]) -> list[Any]:
    return [
        o.get("type", "Opaque"),
        len(o.get("data") or {}),
        age(o),
    ]


def _crd_cells(o: dict[str, Any]) -> list[Any]:
    return [o["metadata"].get("creationTimestamp", "")]


def _lease_cells(o: dict[str, Any]) -> list[Any]:
    return [
        (o.get("spec") or {}).get("holderIdentity", ""),
        age(o),
    ]


def _cols(spec: str) -> list[Column]:
    """Columns from `Name:type` words separated by `|` (type string unless given; a `*`
    suffix marks a column kubectl shows only with -o wide)."""
    out: list[Column] = []
    for word in spec.split("|"):
        name, _, col_type = word.partition(":")
        wide = name.endswith("*")
        out.append((name.rstrip("*"), col_type or "string", "", 1 if wide else 0))
    return out


Printer = tuple[list[Column], Callable[[dict[str, Any]], list[Any]]]

BUILTIN: dict[str, Printer] = {
    "Pod": (
        _cols("Ready|Status|Restarts|Age|IP*|Node*|Nominated Node*|Readiness Gates*"),
        _pod_cells,
    ),
    "Deployment": (_cols("Ready|Up-to-date|Available|Age"), _deploy_cells),
    "Job": (_cols("Status|Completions|Duration|Age"), _job_cells),
    "ReplicaSet": (_cols("Desired:integer|Current:integer|Ready:integer|Age"), _rs_cells),
    "StatefulSet": (_cols("Ready|Age"), _sts_cells),
    "Event": (_cols("Last Seen|Type|Reason|Object|Message"), _event_cells),
    "Namespace": (_cols("Status|Age"), _ns_cells),
    "Service": (_cols("Type|Cluster-IP|External-IP|Port(s)|Age"), _svc_cells),
    "ConfigMap": (_cols("Data:integer|Age"), _cm_cells),
    "Secret": (_cols("Type|Data:integer|Age"), _secret_cells),
    "CustomResourceDefinition": (_cols("Created At:date"), _crd_cells),
    "Lease": (_cols("Holder|Age"), _lease_cells),
}
"""kubectl's columns and cell builders of the built-in kinds, by kind."""
