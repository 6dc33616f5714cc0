"""An informer's cache seen as the typed bodies of its kind: ``Cache[KeptnTaskBody]``.

The Store holds the JSON bodies as the API serves them; ``cache_of(store, kind)`` is the same
Store typed by ``kind`` (lifecycle.core.model), so a reader's ``task.get("spec", {})`` is checked
by mypy key by key. Readers must not mutate what they get (the cached objects themselves).
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import Any, Protocol, cast

from typing_extensions import TypeVar

from lifecycle.core.model import ResourceKind
from lifecycle.kube.informer import Store

__all__ = ["BodyT", "Cache", "cache_of"]

BodyT = TypeVar("BodyT", bound=Mapping[str, Any], default=Mapping[str, Any])
_Body = TypeVar("_Body")


class Cache(Protocol[_Body]):
    """The read side of a Store (lifecycle.kube.informer), typed."""

    def get(self, namespace: str | None, name: str) -> _Body | None: ...
    def list(self, namespace: str | None = None) -> builtins.list[_Body]: ...
    def by_index(self, name: str, key: str) -> builtins.list[_Body]: ...


def cache_of(store: Store, kind: ResourceKind[BodyT]) -> Cache[BodyT]:
    """``store``, the informer cache of ``kind``, typed as the bodies of ``kind``."""
    return cast("Cache[BodyT]", store)
