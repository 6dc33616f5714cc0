"""Server-side printing: `Accept: application/json;as=Table;v=v1;g=meta.k8s.io` answers.

Custom resources use their CRD's additionalPrinterColumns (JSONPath subset: `.a.b`, `[n]`,
`[?(@.k=="v")]`); built-in kinds get the columns kubectl shows for them (pods, deployments,
jobs, ...); anything else gets NAME and AGE. Each row carries the object's metadata as a
PartialObjectMetadata, which kubectl needs for `-A` and `-w`. Pure functions, no I/O.
"""

from __future__ import annotations

import re
import time
from calendar import timegm
from collections.abc import Callable
from typing import Any

from sandbox.resources import ResourceType

__all__ = ["human_age", "jsonpath", "table_for"]

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


_STEP = re.compile(
    r"\.([A-Za-z0-9_\-/]+)|\[(\d+|\*)\]|\[\?\(@\.([A-Za-z0-9_.\-]+)\s*==\s*['\"]([^'\"]*)['\"]\)\]"
)


def jsonpath(obj: Any, path: str) -> list[Any]:
    """Values at a printer-column JSONPath (the subset CRDs use)."""
    path = path.strip()
    if path.startswith("{") and path.endswith("}"):
        path = path[1:-1]
    if path.startswith("$"):
        path = path[1:]
    current = [obj]
    pos = 0
    while pos < len(path):
        m = _STEP.match(path, pos)
        if not m:
            return []
        pos = m.end()
        nxt: list[Any] = []
        for cur in current:
            if m.group(1) is not None:
                if isinstance(cur, dict) and m.group(1) in cur:
                    nxt.append(cur[m.group(1)])
            elif m.group(2) is not None:
                if isinstance(cur, list):
                    if m.group(2) == "*":
                        nxt.extend(cur)
                    elif int(m.group(2)) < len(cur):
                        nxt.append(cur[int(m.group(2))])
            else:
                if isinstance(cur, list):
                    key, want = m.group(3), m.group(4)
                    for item in cur:
                        got = jsonpath(item, "." + key)
                        if got and str(got[0]) == want:
                            nxt.append(item)
        current = nxt
    return current


def _cell(value: Any, col_type: str) -> Any:
    if value is None:
        return None
    if col_type == "date":
        return human_age(str(value))
    if isinstance(value, list | dict):
        import json

        return json.dumps(value, separators=(",", ":"))
    return value


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
        human_age(o["metadata"].get("creationTimestamp")),
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
        human_age(o["metadata"].get("creationTimestamp")),
    ]


def _job_status(st: dict[str, Any]) -> str:
    for cond in st.get("conditions") or []:
        if cond.get("status") == "True" and cond.get("type") in ("Complete", "Failed", "Suspended"):
            return str(cond["type"])
        if cond.get("status") == "True" and cond.get("type") == "FailureTarget":
            return "FailureTarget"
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
        human_age(o["metadata"].get("creationTimestamp")),
    ]


def _rs_cells(o: dict[str, Any]) -> list[Any]:
    spec, st = o.get("spec") or {}, o.get("status") or {}
    return [
        spec.get("replicas", 0),
        st.get("replicas", 0),
        st.get("readyReplicas", 0),
        human_age(o["metadata"].get("creationTimestamp")),
    ]


def _sts_cells(o: dict[str, Any]) -> list[Any]:
    spec, st = o.get("spec") or {}, o.get("status") or {}
    return [
        f"{st.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
        human_age(o["metadata"].get("creationTimestamp")),
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
        human_age(o["metadata"].get("creationTimestamp")),
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
        human_age(o["metadata"].get("creationTimestamp")),
    ]


def _cm_cells(o: dict[str, Any]) -> list[Any]:
    return [
        len(o.get("data") or {}) + len(o.get("binaryData") or {}),
        human_age(o["metadata"].get("creationTimestamp")),
    ]


def _secret_cells(o: dict[str, Any]) -> list[Any]:
    return [
        o.get("type", "Opaque"),
        len(o.get("data") or {}),
        human_age(o["metadata"].get("creationTimestamp")),
    ]


def _crd_cells(o: dict[str, Any]) -> list[Any]:
    return [o["metadata"].get("creationTimestamp", "")]


def _lease_cells(o: dict[str, Any]) -> list[Any]:
    return [
        (o.get("spec") or {}).get("holderIdentity", ""),
        human_age(o["metadata"].get("creationTimestamp")),
    ]


_BUILTIN: dict[str, tuple[list[Column], Callable[[dict[str, Any]], list[Any]]]] = {
    "Pod": (
        [
            ("Ready", "string", "", 0),
            ("Status", "string", "", 0),
            ("Restarts", "string", "", 0),
            ("Age", "string", "", 0),
            ("IP", "string", "", 1),
            ("Node", "string", "", 1),
            ("Nominated Node", "string", "", 1),
            ("Readiness Gates", "string", "", 1),
        ],
        _pod_cells,
    ),
    "Deployment": (
        [
            ("Ready", "string", "", 0),
            ("Up-to-date", "string", "", 0),
            ("Available", "string", "", 0),
            ("Age", "string", "", 0),
        ],
        _deploy_cells,
    ),
    "Job": (
        [
            ("Status", "string", "", 0),
            ("Completions", "string", "", 0),
            ("Duration", "string", "", 0),
            ("Age", "string", "", 0),
        ],
        _job_cells,
    ),
    "ReplicaSet": (
        [
            ("Desired", "integer", "", 0),
            ("Current", "integer", "", 0),
            ("Ready", "integer", "", 0),
            ("Age", "string", "", 0),
        ],
        _rs_cells,
    ),
    "StatefulSet": ([("Ready", "string", "", 0), ("Age", "string", "", 0)], _sts_cells),
    "Event": (
        [
            ("Last Seen", "string", "", 0),
            ("Type", "string", "", 0),
            ("Reason", "string", "", 0),
            ("Object", "string", "", 0),
            ("Message", "string", "", 0),
        ],
        _event_cells,
    ),
    "Namespace": ([("Status", "string", "", 0), ("Age", "string", "", 0)], _ns_cells),
    "Service": (
        [
            ("Type", "string", "", 0),
            ("Cluster-IP", "string", "", 0),
            ("External-IP", "string", "", 0),
            ("Port(s)", "string", "", 0),
            ("Age", "string", "", 0),
        ],
        _svc_cells,
    ),
    "ConfigMap": ([("Data", "integer", "", 0), ("Age", "string", "", 0)], _cm_cells),
    "Secret": (
        [("Type", "string", "", 0), ("Data", "integer", "", 0), ("Age", "string", "", 0)],
        _secret_cells,
    ),
    "CustomResourceDefinition": ([("Created At", "date", "", 0)], _crd_cells),
    "Lease": ([("Holder", "string", "", 0), ("Age", "string", "", 0)], _lease_cells),
}


def _columns(rt: ResourceType) -> tuple[list[Column], Callable[[dict[str, Any]], list[Any]]]:
    if rt.custom:
        cols: list[Column] = []
        paths: list[tuple[str, str]] = []
        for c in rt.printer_columns:
            cols.append(
                (c["name"], c.get("type", "string"), c.get("format", ""), int(c.get("priority", 0)))
            )
            paths.append((c["jsonPath"], c.get("type", "string")))
        if not cols:
            cols, paths = [("Age", "date", "", 0)], [(".metadata.creationTimestamp", "date")]

        def cells(o: dict[str, Any]) -> list[Any]:
            out = []
            for path, col_type in paths:
                found = jsonpath(o, path)
                out.append(_cell(found[0] if found else None, col_type))
            return out

        return cols, cells
    if rt.kind in _BUILTIN and not (rt.kind == "Event" and rt.group):
        return _BUILTIN[rt.kind]
    return [("Age", "string", "", 0)], lambda o: [human_age(o["metadata"].get("creationTimestamp"))]


def _partial(rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj["metadata"],
    }


def table_for(
    rt: ResourceType,
    objects: list[dict[str, Any]],
    resource_version: str,
    include_object: str = "Metadata",
    headers: bool = True,
    continue_token: str = "",
) -> dict[str, Any]:
    """A meta.k8s.io/v1 Table of `objects` with the kind's columns."""
    cols, cells = _columns(rt)
    name_col = {
        "name": "Name",
        "type": "string",
        "format": "name",
        "description": "Name must be unique within a namespace.",
        "priority": 0,
    }
    definitions = [
        {"name": n, "type": t, "format": f, "description": n, "priority": p} for n, t, f, p in cols
    ]
    # Events list their name last and only with -o wide, as kube-apiserver's event printer does.
    name_last = rt.kind == "Event"
    if name_last:
        definitions.append({**name_col, "priority": 1})
    else:
        definitions.insert(0, name_col)
    rows = []
    for obj in objects:
        name = obj["metadata"].get("name", "")
        values = cells(obj)
        row: dict[str, Any] = {"cells": [*values, name] if name_last else [name, *values]}
        if include_object == "Object":
            row["object"] = obj
        elif include_object != "None":
            row["object"] = _partial(rt, obj)
        rows.append(row)
    meta: dict[str, Any] = {"resourceVersion": resource_version}
    if continue_token:
        meta["continue"] = continue_token
    table: dict[str, Any] = {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": meta,
        "rows": rows,
    }
    table["columnDefinitions"] = definitions if headers else None
    return table
