"""Wake-ups shared by the two version controllers (KeptnAppVersion, KeptnWorkloadVersion).

Role: map informer events to the keys of the unfinished versions (and tasks and evaluations) they
may move on: the version itself, its own tasks and evaluations (by owner), and a new task or
evaluation definition (every unfinished version, task or evaluation waiting on it in its
namespace, or in all namespaces for one in the Keptn namespace).
Must not: read the API (caches only) or wake finished versions, which are absorbing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from lifecycle.core import model
from lifecycle.core.meta import name_of, namespace_of
from lifecycle.core.phases import State
from lifecycle.flow.context import OperatorContext
from lifecycle.flow.objects import VersionBody, is_completed
from lifecycle.kube.cache import Cache
from lifecycle.kube.controller import Controller, Mapper, ObjectKey, key_of, owner_keys, self_key

__all__ = [
    "children_waiting_on",
    "open_versions",
    "waiting_versions",
    "watch_version_and_children",
]

VersionT = TypeVar("VersionT", bound=VersionBody)


def open_versions(
    store: Cache[VersionT], index: str, key: str, namespace: object
) -> list[ObjectKey]:
    """The unfinished versions in ``namespace`` that ``index`` maps ``key`` to."""
    return [
        key_of(version)
        for version in store.by_index(index, key)
        if namespace_of(version) == namespace and not is_completed(version)
    ]


def waiting_versions(
    ctx: OperatorContext, kind: model.ResourceKind[VersionBody], definition: Mapping[str, object]
) -> list[ObjectKey]:
    """Unfinished versions a new definition may unblock: its namespace, or all for the Keptn namespace."""
    namespace = namespace_of(definition)
    scope = None if namespace == ctx.settings.keptn_namespace else namespace
    return [key_of(obj) for obj in ctx.cache(kind).list(scope) if not is_completed(obj)]


def children_waiting_on(
    ctx: OperatorContext, kind: model.ResourceKind, index: str, status_field: str
) -> Mapper[ObjectKey]:
    """Mapper: an ADDED definition wakes the unfinished tasks/evaluations that ``index`` maps its
    name to, in its namespace, or in every namespace for one in the Keptn namespace."""

    store = ctx.informer(kind).store

    def mapper(event: str, definition: Mapping[str, object], old: object) -> list[ObjectKey]:
        if event != "ADDED":
            return []
        namespace = namespace_of(definition)
        shared = namespace == ctx.settings.keptn_namespace
        return [
            key_of(child)
            for child in store.by_index(index, name_of(definition))
            if (shared or namespace_of(child) == namespace)
            and not State.parse((child.get("status") or {}).get(status_field)).is_completed
        ]

    return mapper


def watch_version_and_children(
    controller: Controller[ObjectKey], ctx: OperatorContext, kind: model.ResourceKind[VersionBody]
) -> None:
    """Wake a version on its own events, its tasks' and evaluations', and new definitions."""

    def on_definition(event: str, definition: Mapping[str, object], old: object) -> list[ObjectKey]:
        return waiting_versions(ctx, kind, definition) if event == "ADDED" else []

    controller.watch(ctx.informer(kind), self_key)
    controller.watch(ctx.informer(model.KEPTN_TASK), owner_keys(kind.kind))
    controller.watch(ctx.informer(model.KEPTN_EVALUATION), owner_keys(kind.kind))
    controller.watch(ctx.informer(model.KEPTN_TASK_DEFINITION), on_definition)
    controller.watch(ctx.informer(model.KEPTN_EVALUATION_DEFINITION), on_definition)
