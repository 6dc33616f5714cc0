"""Short, deterministic waiting windows that make KLT users' manifests behave as they expect.

A creationTimestamp has one-second resolution (as on a real API server), so a window ``w``
measured from it (``window_end``) ends ``w`` after the end of the timestamp's second: the real
wait after the object appeared is between ``w`` and ``w + 1 s``; it needs no in-memory state
and survives a restart.

- **Context settle window** (``CONTEXT_SETTLE``): a KeptnApp and its same-name
  KeptnAppContext applied together (one ``kubectl apply -f``, a Helm release that creates
  custom resources last) reach the API server milliseconds apart, in either order. The
  KeptnApp controller creates the AppVersion of an app that has no context yet only once this
  window has passed since it first saw the app (precise; bounded by ``window_end`` of the
  app's creation, which is all that counts after a restart); a context arriving wakes it at
  once. It then says once, with an Event, that the app has none.
- **Discovery quiet period** (``DISCOVERY_QUIET``): workloads of one multi-service app created
  together (one apply, a Helm release) give their KeptnWorkloads within a second or so; the
  KeptnAppCreationRequest controller creates (or updates) the KeptnApp once no new
  KeptnWorkload of the app has appeared for this period after the request's or the newest
  workload's creation, bounded by keptnAppCreationRequestTimeoutSeconds (KLT always waits
  that full bound, 30 s).

Must not: read a clock (callers pass ``now``) or call the API.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from lifecycle.core.kubebodies import AnyBody
from lifecycle.core.machine_draft import read_time
from lifecycle.core.meta import metadata_of

__all__ = ["CONTEXT_SETTLE", "DISCOVERY_QUIET", "created", "window_end"]

CONTEXT_SETTLE = timedelta(seconds=0.3)
"""How long an app without a KeptnAppContext waits for one after it was first seen."""

DISCOVERY_QUIET = timedelta(seconds=1)
"""How long no new workload of a multi-service app may appear before its KeptnApp is made."""

_RESOLUTION = timedelta(seconds=1)


def created(obj: AnyBody, default: datetime) -> datetime:
    """The object's creationTimestamp; ``default`` when it has none (not yet stored) or unreadable."""
    return read_time(metadata_of(obj).get("creationTimestamp")) or default


def window_end(objects: Iterable[AnyBody], window: timedelta, now: datetime) -> datetime:
    """When ``window`` has passed after the newest of ``objects`` was created (see above)."""
    newest = max((created(o, now) for o in objects), default=now)
    return newest.replace(microsecond=0) + _RESOLUTION + window
