"""PURE RFC 6902 JSON patches of the pod webhook: the annotations it sets and the gate it adds.

Role: the ``add`` operations an AdmissionReview response carries (``json_patch``) and their base64
form (``encode_patch``). Existing scheduling gates of other controllers are kept.
Must not: do I/O or remove anything from the pod (the webhook only adds).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from typing import TypedDict

from lifecycle.core.kubebodies import PodBody
from lifecycle.core.naming import GATE_NAME

__all__ = ["PatchOp", "encode_patch", "json_patch"]


class PatchOp(TypedDict):
    """One RFC 6902 operation (only ``add`` is written)."""

    op: str
    path: str
    value: object


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def json_patch(original: PodBody, annotations: Mapping[str, str], gate: bool) -> list[PatchOp]:
    """RFC 6902 operations that set ``annotations`` and (optionally) append the gate."""
    ops: list[PatchOp] = []
    meta = original.get("metadata")
    before = meta.get("annotations") if isinstance(meta, Mapping) else None
    if "metadata" not in original:
        ops.append({"op": "add", "path": "/metadata", "value": {"annotations": dict(annotations)}})
    elif not isinstance(before, Mapping):
        if annotations:
            ops.append({"op": "add", "path": "/metadata/annotations", "value": dict(annotations)})
    else:
        for key, value in annotations.items():
            if before.get(key) != value:
                ops.append(
                    {"op": "add", "path": f"/metadata/annotations/{_escape(key)}", "value": value}
                )
    if gate:
        gates = (original.get("spec") or {}).get("schedulingGates")
        if not gates:
            ops.append(
                {"op": "add", "path": "/spec/schedulingGates", "value": [{"name": GATE_NAME}]}
            )
        elif not any(g.get("name") == GATE_NAME for g in gates):
            ops.append(
                {"op": "add", "path": "/spec/schedulingGates/-", "value": {"name": GATE_NAME}}
            )
    return ops


def encode_patch(ops: Sequence[PatchOp]) -> str:
    """The base64 form AdmissionReview ``response.patch`` carries."""
    return base64.b64encode(json.dumps(list(ops), separators=(",", ":")).encode()).decode()
