"""What the reconcilers share about objects: completion, owner references, definitions, Events.

Role: small reads over the informer caches (``children_of``, ``previous_version``,
``missing_definitions``: definitions here or in the Keptn namespace), the
ownerReference of a child, and ``emit``: an Event with KLT's annotations, keyed so that a replay
writes nothing twice. Used by the flow executor and by the app, workload and version controllers.

Must not: write status or decide anything; the executor and the machine do.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from lifecycle.core import model
from lifecycle.core.actions import EmitEvent
from lifecycle.core.bodies import KeptnAppVersionBody, KeptnWorkloadVersionBody
from lifecycle.core.machine import ROOT_KEY
from lifecycle.core.meta import metadata_of, name_of, namespace_of, uid_of
from lifecycle.core.model import ResourceKind
from lifecycle.core.naming import label_value, workload_version_name
from lifecycle.core.phases import LONG_NAMES, State
from lifecycle.flow.context import OperatorContext
from lifecycle.kube.cache import BodyT
from lifecycle.kube.events import format_message, keptn_annotations

__all__ = [
    "VersionBody",
    "child_labels",
    "children_of",
    "emit",
    "event_annotations",
    "is_completed",
    "missing_definitions",
    "previous_version",
]

VersionBody = KeptnAppVersionBody | KeptnWorkloadVersionBody
"""A KeptnAppVersion or a KeptnWorkloadVersion: the objects the flow executor decides for."""


def is_completed(obj: VersionBody) -> bool:
    """True once the version's overall status is final (Succeeded, Failed, Deprecated, Warning...)."""
    return State.parse((obj.get("status") or {}).get("status")).is_completed


def missing_definitions(ctx: OperatorContext, obj: VersionBody) -> frozenset[str]:
    """Definition names the version's spec refers to that neither namespace holds."""
    spec, promotion = obj.get("spec") or {}, model.KEPTN_APP_VERSION.view(obj).get("spec") or {}
    lists = (
        (model.KEPTN_TASK_DEFINITION, spec.get("preDeploymentTasks")),
        (model.KEPTN_TASK_DEFINITION, spec.get("postDeploymentTasks")),
        (model.KEPTN_TASK_DEFINITION, promotion.get("promotionTasks")),  # an AppVersion's only
        (model.KEPTN_EVALUATION_DEFINITION, spec.get("preDeploymentEvaluations")),
        (model.KEPTN_EVALUATION_DEFINITION, spec.get("postDeploymentEvaluations")),
    )
    named = {
        (kind, item.strip())
        for kind, items in lists
        for item in items or ()
        if isinstance(item, str) and item.strip()
    }
    namespace = namespace_of(obj)
    return frozenset(
        name for kind, name in named if ctx.find_here_or_keptn(kind, namespace, name) is None
    )


def children_of(
    ctx: OperatorContext, obj: VersionBody, kind: ResourceKind[BodyT]
) -> dict[str, BodyT]:
    """The version's KeptnTasks or KeptnEvaluations (by owner uid), keyed by name."""
    return {name_of(child): child for child in ctx.cache(kind).by_index("owner", uid_of(obj))}


def previous_version(ctx: OperatorContext, obj: VersionBody) -> VersionBody | None:
    """The version named by spec.previousVersion (newest AppVersion of it), from the cache."""
    namespace = namespace_of(obj)
    if obj.get("kind") == model.KEPTN_WORKLOAD_VERSION.kind:
        wv_spec = model.KEPTN_WORKLOAD_VERSION.view(obj).get("spec", {})
        previous = str(wv_spec.get("previousVersion") or "")
        if not previous:
            return None
        name = workload_version_name(str(wv_spec.get("workloadName", "")), previous)
        return ctx.cache(model.KEPTN_WORKLOAD_VERSION).get(namespace, name)
    spec = model.KEPTN_APP_VERSION.view(obj).get("spec", {})
    previous = str(spec.get("previousVersion") or "")
    if not previous:
        return None
    candidates = [
        av
        for av in ctx.cache(model.KEPTN_APP_VERSION).by_index("app", str(spec.get("appName", "")))
        if namespace_of(av) == namespace and av.get("spec", {}).get("version") == previous
    ]
    return max(
        candidates, key=lambda av: str(metadata_of(av).get("creationTimestamp", "")), default=None
    )


def event_annotations(obj: Mapping[str, object], phase: str) -> dict[str, str]:
    """KLT's Event annotations (lifecycle.kube.events.keptn_annotations), with the traceparent of
    the phase's span (else the root's) when the status carries one (versions only)."""
    result = keptn_annotations(dict(obj), phase)
    status = obj.get("status")
    traces = status.get("phaseTraceIDs") if isinstance(status, Mapping) else None
    carrier = (traces or {}).get(phase) or (traces or {}).get(ROOT_KEY)
    if isinstance(carrier, Mapping) and carrier.get("traceparent"):
        result["traceparent"] = str(carrier["traceparent"])
    return result


def emit(
    ctx: OperatorContext, component: str, obj: Mapping[str, object], event: EmitEvent
) -> asyncio.Task[None] | None:
    """Record one decided Event on `obj` with KLT's message format and annotations.

    Returns the recorder's writing task (None when its backlog dropped the Event).
    """
    spec = obj.get("spec")  # any flow kind's spec has its version
    version = spec.get("version", "") if isinstance(spec, Mapping) else ""
    message = format_message(
        LONG_NAMES.get(event.phase, str(event.phase)),
        event.text,
        namespace=namespace_of(obj),
        name=name_of(obj),
        version=str(version),
    )
    return ctx.recorder(component).emit(
        dict(obj),
        str(event.type),
        event.reason,
        message,
        annotations=event_annotations(obj, str(event.phase)),
        key=event.key or None,  # "": repeated on every try, folded like client-go's
    )


def child_labels(obj: VersionBody) -> dict[str, str]:
    """The ``keptn.sh/*`` labels a version gives the KeptnTasks and KeptnEvaluations it creates."""
    app_spec = model.KEPTN_APP_VERSION.view(obj).get("spec") or {}  # appName: an app version's
    wv_spec = model.KEPTN_WORKLOAD_VERSION.view(obj).get("spec") or {}  # app, workloadName: a WV's
    labels = {"keptn.sh/app": str(app_spec.get("appName") or wv_spec.get("app") or "")}
    if wv_spec.get("workloadName"):
        labels["keptn.sh/workload"] = str(wv_spec["workloadName"])
    if app_spec.get("version"):
        labels["keptn.sh/version"] = str(app_spec["version"])
    return {k: label_value(v) for k, v in labels.items() if label_value(v)}
