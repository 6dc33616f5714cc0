"""The CRD conversion webhook: `POST /convert` with a ConversionReview (apiextensions.k8s.io/v1).

KLT converts two kinds with a webhook (the others use strategy None): KeptnApp and
KeptnAppVersion (hub and storage `v1`; served v1alpha1..v1alpha3, v1beta1).

A conversion goes through the hub: the fields KLT renamed are renamed (v1alpha1/v1alpha2 status
items `taskDefinitionName`/`taskName`, `evaluationDefinitionName`/`evaluationName` are
`definitionName`/`name` from v1alpha3 on), then the object is pruned with the target version's schema (the CRDs in
deploy/crds, as the API server would prune it). Unlike KLT, which drops what the target version
lacks (a v1alpha3 KeptnApp's `preDeploymentTasks` are gone once stored at v1), the pruned fields
are kept as JSON in the annotation `klt.dev/conversion-lost` and merged back by the next
conversion: a round trip loses nothing. Only metadata.annotations is changed, as the API server
requires of conversion webhooks.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lifecycle.admission.review import ConversionResponse, ConversionReview, conversion_request
from lifecycle.admission.schemas import Schema, SchemaSet, load_crds
from lifecycle.core.bodies import JSON
from lifecycle.core.meta import annotations_of

__all__ = [
    "CONVERT_PATH",
    "CRD_NAMES",
    "LOST_ANNOTATION",
    "WEBHOOK_KINDS",
    "answer_review",
    "convert",
]

CONVERT_PATH = "/convert"
LOST_ANNOTATION = "klt.dev/conversion-lost"
WEBHOOK_KINDS: dict[tuple[str, str], str] = {
    ("lifecycle.keptn.sh", "KeptnApp"): "v1",
    ("lifecycle.keptn.sh", "KeptnAppVersion"): "v1",
}
"""(group, kind) -> hub version, for the kinds converted by this webhook."""

_OLD_ITEMS = ("v1alpha1", "v1alpha2")
_ITEM_LISTS = {
    "preDeploymentTaskStatus": "task",
    "postDeploymentTaskStatus": "task",
    "preDeploymentEvaluationTaskStatus": "evaluation",
    "postDeploymentEvaluationTaskStatus": "evaluation",
}
_ROOT_KEEP = ("apiVersion", "kind", "metadata")


def _items(obj: JSON, to_hub: bool) -> None:
    """v1alpha1/v1alpha2 TaskStatus/EvaluationStatus <-> ItemStatus (definitionName, name)."""
    status = obj.get("status")
    if not isinstance(status, dict):
        return
    for name, prefix in _ITEM_LISTS.items():
        for item in status.get(name) or ():
            if not isinstance(item, dict):
                continue
            for old, new in (
                (f"{prefix}DefinitionName", "definitionName"),
                (f"{prefix}Name", "name"),
            ):
                src, dst = (old, new) if to_hub else (new, old)
                if src in item:
                    item[dst] = item.pop(src)


def prune(value: Any, schema: Schema, root: bool = False) -> tuple[Any, Any]:
    """(kept, lost): `value` split by what `schema` declares (lost is None when nothing is)."""
    if isinstance(value, dict) and schema.get("type", "object") == "object":
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        if not props and not isinstance(extra, dict):
            return value, None  # free-form object (or preserve-unknown-fields): keep all
        kept: JSON = {}
        lost: JSON = {}
        for key, sub in value.items():
            sub_schema = props.get(key) if key in props else extra
            if root and key in _ROOT_KEEP:
                kept[key] = sub
            elif isinstance(sub_schema, dict):
                kept[key], part = prune(sub, sub_schema)
                if part is not None:
                    lost[key] = part
            elif sub_schema is True or schema.get("x-kubernetes-preserve-unknown-fields"):
                kept[key] = sub
            else:
                lost[key] = sub
        return kept, (lost or None)
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        pairs = [prune(item, schema["items"]) for item in value]
        losts = [p[1] for p in pairs]
        return [p[0] for p in pairs], (losts if any(x is not None for x in losts) else None)
    return value, None


def _merge(obj: Any, lost: Any) -> Any:
    """`obj` with the fields of `lost` put back where `obj` lacks them."""
    if isinstance(obj, dict) and isinstance(lost, dict):
        for key, value in lost.items():
            obj[key] = _merge(obj[key], value) if key in obj else value
        return obj
    if isinstance(obj, list) and isinstance(lost, list):
        return [_merge(o, lost[i]) if i < len(lost) else o for i, o in enumerate(obj)]
    return obj


def convert(obj: Mapping[str, object], desired: str, schemas: SchemaSet) -> JSON:
    """`obj` converted to apiVersion `desired` (same group); ValueError names what is wrong."""
    out: JSON = copy.deepcopy(dict(obj))
    group, _, version = str(out.get("apiVersion", "")).rpartition("/")
    kind = str(out.get("kind", ""))
    want_group, _, want = desired.rpartition("/")
    if want_group != group:
        raise ValueError(f"cannot convert {group} {kind} to {desired}: another group")
    if (group, kind) not in WEBHOOK_KINDS:
        raise ValueError(f"kind {kind} of {group} is not converted by this webhook")
    schema = schemas.schema(desired, kind)
    if schema is None:
        raise ValueError(f"{desired} {kind} is not a served version")
    if version == want:
        return out
    stored = annotations_of(out).pop(LOST_ANNOTATION, None)
    if stored:
        try:
            out = _merge(out, json.loads(stored))
        except ValueError:
            raise ValueError(f"metadata.annotations[{LOST_ANNOTATION}] is not JSON") from None
    if kind == "KeptnAppVersion":  # the only kind with renamed fields
        if version in _OLD_ITEMS:
            _items(out, to_hub=True)
        if want in _OLD_ITEMS:
            _items(out, to_hub=False)
    out["apiVersion"] = desired
    kept, lost = prune(out, schema, root=True)
    meta = kept.setdefault("metadata", {})
    if lost is not None:
        meta.setdefault("annotations", {})[LOST_ANNOTATION] = json.dumps(
            lost, separators=(",", ":"), sort_keys=True
        )
    elif "annotations" in meta and not meta["annotations"]:
        del meta["annotations"]
    result: JSON = kept
    return result


def review_response(review: Mapping[str, object], schemas: SchemaSet) -> ConversionReview:
    """The ConversionReview answer: every object converted, or a Failure naming the reason."""
    request = conversion_request(review)
    desired = str(request.get("desiredAPIVersion", ""))
    response: ConversionResponse = {"uid": request.get("uid", "")}
    try:
        response["convertedObjects"] = [
            convert(o, desired, schemas) for o in request.get("objects") or ()
        ]
        response["result"] = {"status": "Success"}
    except ValueError as exc:
        response["convertedObjects"] = []
        response["result"] = {"status": "Failure", "message": str(exc)}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "ConversionReview",
        "response": response,
    }


@functools.cache
def webhook_schemas() -> SchemaSet:
    """The schemas of the webhook-converted CRDs, read once, on the first review."""
    for directory in (None, IMAGE_CRD_DIR):  # the repository's deploy/crds, else the image's
        crds = [c for c in load_crds(directory) if c["metadata"]["name"] in CRD_NAMES]
        if crds:
            return SchemaSet.from_crds(crds)
    raise FileNotFoundError(f"no CRD files for {', '.join(CRD_NAMES)}")


IMAGE_CRD_DIR = Path("/usr/local/share/klt/crds")
"""Where the Dockerfile copies deploy/crds."""
CRD_NAMES = ("keptnapps.lifecycle.keptn.sh", "keptnappversions.lifecycle.keptn.sh")
"""The CRDs of WEBHOOK_KINDS."""


async def answer_review(review: Mapping[str, object]) -> ConversionReview:
    """``review_response`` with the schemas of deploy/crds (read on the first review): the
    operator's webhook server serves it at ``CONVERT_PATH``."""
    return review_response(review, await asyncio.to_thread(webhook_schemas))
