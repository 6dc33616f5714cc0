"""Kubernetes I/O: the only package that talks to an API server.

Everything above it (controllers, webhook, CLI) gets plain dict bodies and the errors of
``lifecycle.kube.errors``; each module's docstring says its part (client: the verbs, over a
transport: aiotransport or stdtransport; kubeconfig and credentials: where the server is and
how to authenticate; informer, queue, controller, events, leader: the controller machinery).

The names below are imported on first use (PEP 562), so `import lifecycle.kube.errors` by a
command does not pull in aiohttp or the controller machinery.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lifecycle.kube.client import Body, KubeClient
    from lifecycle.kube.controller import (
        Controller,
        ObjectKey,
        Result,
        TerminalError,
        key_of,
        owner_keys,
        self_key,
    )
    from lifecycle.kube.errors import (
        AlreadyExists,
        BadRequest,
        Conflict,
        Forbidden,
        Gone,
        Invalid,
        KubeError,
        NotFound,
        Transient,
        Unauthorized,
    )
    from lifecycle.kube.events import EventRecorder, event_name, format_message, keptn_annotations
    from lifecycle.kube.informer import Informer, Informers, Store, owner_uids
    from lifecycle.kube.leader import LeaderElector
    from lifecycle.kube.queue import QueueShutDown, WorkQueue

_MODULES = ("errors", "client", "queue", "informer", "controller", "events", "leader")
"""Where the names below live, cheapest first (a name is looked up in this order)."""


def __getattr__(name: str) -> Any:
    if name in __all__:
        for module in _MODULES:
            value = getattr(importlib.import_module(f"{__name__}.{module}"), name, None)
            if value is not None:
                globals()[name] = value
                return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AlreadyExists",
    "BadRequest",
    "Body",
    "Conflict",
    "Controller",
    "EventRecorder",
    "Forbidden",
    "Gone",
    "Informer",
    "Informers",
    "Invalid",
    "KubeClient",
    "KubeError",
    "LeaderElector",
    "NotFound",
    "ObjectKey",
    "QueueShutDown",
    "Result",
    "Store",
    "TerminalError",
    "Transient",
    "Unauthorized",
    "WorkQueue",
    "event_name",
    "format_message",
    "keptn_annotations",
    "key_of",
    "owner_keys",
    "owner_uids",
    "self_key",
]
