"""Kubernetes I/O: the only package that imports kubernetes_asyncio.

Everything above it (controllers, webhook, CLI) gets plain dict bodies and the errors of
``lifecycle.kube.errors``. Modules: client (raw-JSON verbs, watch, request counts), errors,
informer (list+watch into an indexed Store), queue (WorkQueue), controller (workers around a
reconcile), events (EventRecorder), leader (LeaderElector on a Lease).
"""

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
