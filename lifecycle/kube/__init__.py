"""Kubernetes I/O: the only package that talks to an API server.

Everything above it (controllers, webhook, CLI) gets plain dict bodies and the errors of
``lifecycle.kube.errors``. Modules: client (raw-JSON verbs, watch, request counts) over
session (headers, statuses, counts) and a transport (aiotransport: aiohttp, pooled;
stdtransport: the standard library, for fast-starting commands), kubeconfig and credentials
(kubeconfig files, in-cluster, exec plugins), wire (paths, queries, watch lines), errors,
informer (list+watch into an indexed Store), queue (WorkQueue), controller (workers around a
reconcile), events (EventRecorder), leader (LeaderElector on a Lease).

The names below are imported on first use (PEP 562), so `import lifecycle.kube.errors` by a
command does not pull in aiohttp or the controller machinery.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lifecycle.kube.client import Body, KubeClient, PatchType, Propagation
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
        Cause,
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

_WHERE = {
    "AlreadyExists": "lifecycle.kube.errors",
    "BadRequest": "lifecycle.kube.errors",
    "Body": "lifecycle.kube.client",
    "Cause": "lifecycle.kube.errors",
    "Conflict": "lifecycle.kube.errors",
    "Controller": "lifecycle.kube.controller",
    "EventRecorder": "lifecycle.kube.events",
    "Forbidden": "lifecycle.kube.errors",
    "Gone": "lifecycle.kube.errors",
    "Informer": "lifecycle.kube.informer",
    "Informers": "lifecycle.kube.informer",
    "Invalid": "lifecycle.kube.errors",
    "KubeClient": "lifecycle.kube.client",
    "KubeError": "lifecycle.kube.errors",
    "LeaderElector": "lifecycle.kube.leader",
    "NotFound": "lifecycle.kube.errors",
    "ObjectKey": "lifecycle.kube.controller",
    "PatchType": "lifecycle.kube.client",
    "Propagation": "lifecycle.kube.client",
    "QueueShutDown": "lifecycle.kube.queue",
    "Result": "lifecycle.kube.controller",
    "Store": "lifecycle.kube.informer",
    "TerminalError": "lifecycle.kube.controller",
    "Transient": "lifecycle.kube.errors",
    "Unauthorized": "lifecycle.kube.errors",
    "WorkQueue": "lifecycle.kube.queue",
    "event_name": "lifecycle.kube.events",
    "format_message": "lifecycle.kube.events",
    "keptn_annotations": "lifecycle.kube.events",
    "key_of": "lifecycle.kube.controller",
    "owner_keys": "lifecycle.kube.controller",
    "owner_uids": "lifecycle.kube.informer",
    "self_key": "lifecycle.kube.controller",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "AlreadyExists",
    "BadRequest",
    "Body",
    "Cause",
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
    "PatchType",
    "Propagation",
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
