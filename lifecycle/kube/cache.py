"""A typed, read-only view of one informer's cache: ``Cache[KeptnTaskBody]``.

Role: the cache boundary where raw JSON bodies become the typed bodies of lifecycle.core.bodies.
``OperatorContext.cache(model.KEPTN_TASK)`` returns a ``Cache[KeptnTaskBody]``, so a reader's
``task.get("spec", {}).get("taskDefinition")`` is checked by mypy key by key.

Invariants: the view holds no state of its own (it reads the Store live) and copies nothing: the
bodies are the cached objects, which readers must not mutate.

Must not: write to the Store (only the informer does).
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import Any, Generic, cast

from typing_extensions import TypeVar

from lifecycle.kube.informer import Store

__all__ = ["BodyT", "Cache"]

BodyT = TypeVar("BodyT", bound=Mapping[str, Any], default=Mapping[str, Any])


class Cache(Generic[BodyT]):
    """The objects of one kind, typed as that kind's body."""

    __slots__ = ("_store",)

    def __init__(self, store: Store) -> None:
        self._store = store

    def get(self, namespace: str | None, name: str) -> BodyT | None:
        """The cached object, or None."""
        return cast("BodyT | None", self._store.get(namespace, name))

    def list(self, namespace: str | None = None) -> builtins.list[BodyT]:
        """All cached objects, or those of one namespace."""
        return cast("builtins.list[BodyT]", self._store.list(namespace))

    def by_index(self, name: str, key: str) -> builtins.list[BodyT]:
        """Objects whose index function ``name`` yielded ``key``."""
        return cast("builtins.list[BodyT]", self._store.by_index(name, key))
