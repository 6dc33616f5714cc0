"""Kubernetes I/O: the only package that talks to an API server.

Everything above it (controllers, webhook, CLI) gets plain dict bodies and the errors of
``lifecycle.kube.errors``; each module's docstring says its part (client: the verbs, over a
transport: aiotransport or stdtransport; kubeconfig and credentials: where the server is and
how to authenticate; informer, queue, controller, events, leader: the controller machinery).

The names below (those imported from the package itself; the rest from their modules) are
imported on first use (PEP 562), so `import lifecycle.kube.errors` by a command does not pull
in aiohttp or the controller machinery.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lifecycle.kube.client import KubeClient
    from lifecycle.kube.controller import (
        Controller,
        ObjectKey,
        Result,
        TerminalError,
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
    from lifecycle.kube.events import EventRecorder, format_message
    from lifecycle.kube.informer import Informer, Informers

_MODULES = ("errors", "client", "informer", "controller", "events")
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
    "NotFound",
    "ObjectKey",
    "Result",
    "TerminalError",
    "Transient",
    "Unauthorized",
    "format_message",
    "owner_keys",
    "self_key",
]
