"""Server-side printing: `Accept: application/json;as=Table;v=v1;g=meta.k8s.io` answers.

Custom resources use their CRD's additionalPrinterColumns (JSONPath subset: `.a.b`, `[n]`,
`[?(@.k=="v")]`); built-in kinds get the columns kubectl shows for them (pods, deployments,
jobs, ...); anything else gets NAME and AGE. Each row carries the object's metadata as a
PartialObjectMetadata, which kubectl needs for `-A` and `-w`. Pure functions, no I/O.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from sandbox.printers import BUILTIN, Column, age, human_age
from sandbox.resources import ResourceType

__all__ = ["human_age", "jsonpath", "table_for"]

_PARTIAL = "PartialObjectMetadata"
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
        return json.dumps(value, separators=(",", ":"))
    return value


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
    if rt.kind in BUILTIN and not (rt.kind == "Event" and rt.group):
        return BUILTIN[rt.kind]
    return [("Age", "string", "", 0)], lambda o: [age(o)]


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
            meta = obj["metadata"]
            row["object"] = {"kind": _PARTIAL, "apiVersion": "meta.k8s.io/v1", "metadata": meta}
        rows.append(row)
    list_meta: dict[str, Any] = {"resourceVersion": resource_version}
    if continue_token:
        list_meta["continue"] = continue_token
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "rows": rows,
        "columnDefinitions": definitions if headers else None,
    }
