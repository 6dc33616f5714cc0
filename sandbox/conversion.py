"""Conversion between a stored form and a served view: events.k8s.io/v1 Events are core/v1 Events.

kube-apiserver keeps one collection of Events and serves it under both APIs; so does the
sandbox, so `kubectl get events` and `kubectl describe` show Events written through either.
Field mapping (events.k8s.io/v1 <-> core/v1): regarding<->involvedObject, note<->message,
reportingController<->reportingComponent, deprecatedSource<->source,
deprecatedFirstTimestamp<->firstTimestamp, deprecatedLastTimestamp<->lastTimestamp,
deprecatedCount<->count; eventTime, series, action, reason, type, related,
reportingInstance and metadata are shared. Pure functions returning new dicts.
"""

from __future__ import annotations

from typing import Any

from sandbox.resources import ResourceType

__all__ = ["converts", "field_selector_to_storage", "from_storage", "to_storage"]

_EVENTS_V1_TO_CORE = {
    "regarding": "involvedObject",
    "note": "message",
    "reportingController": "reportingComponent",
    "deprecatedSource": "source",
    "deprecatedFirstTimestamp": "firstTimestamp",
    "deprecatedLastTimestamp": "lastTimestamp",
    "deprecatedCount": "count",
}
_CORE_TO_EVENTS_V1 = {v: k for k, v in _EVENTS_V1_TO_CORE.items()}


def converts(rt: ResourceType) -> bool:
    """Whether `rt` is served as a view of another resource's objects."""
    return bool(rt.stored_as)


def to_storage(rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
    """A body sent to `rt`, in the stored (core/v1) form."""
    if not converts(rt):
        return obj
    out = {_EVENTS_V1_TO_CORE.get(k, k): v for k, v in obj.items()}
    out["apiVersion"] = "v1"
    return out


def from_storage(rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
    """A stored (core/v1) object as `rt` serves it."""
    if not converts(rt):
        return obj
    out = {_CORE_TO_EVENTS_V1.get(k, k): v for k, v in obj.items()}
    out["apiVersion"] = rt.api_version
    return out


def field_selector_to_storage(rt: ResourceType, selector: str) -> str:
    """Rename view fields in a fieldSelector to the stored ones (regarding.* -> involvedObject.*)."""
    if not converts(rt):
        return selector
    for view, stored in (
        ("regarding.", "involvedObject."),
        ("reportingController", "reportingComponent"),
    ):
        selector = selector.replace(view, stored)
    return selector
