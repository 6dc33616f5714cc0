"""PURE bounds on the work one object can cause, whatever its spec says (README "Bounds").

* ``retryInterval`` of evaluations: at least ``MIN_RETRY_INTERVAL`` (1 s). The CRD pattern refuses
  shorter intervals at admission (``spec.retryInterval`` must be whole h/m/s units, one of them at
  least 1); objects admitted before, or while no schema applied, are clamped here.
* ``retries`` (evaluations, task definitions): at most ``MAX_RETRIES`` (CRD ``maximum``), clamped
  here too; a value that is not a non-negative integer counts as the default.
* status writes per object: see ``lifecycle.kube.ratelimit`` (a per-object token bucket in the
  client, so no controller can exceed it).
* concurrent Jobs and concurrent queries per provider: ``OperatorSettings.max_concurrent_jobs`` and
  ``max_provider_queries`` (flags ``--max-jobs``, ``--max-provider-queries``).

Must not: do I/O.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

__all__ = [
    "MAX_RETRIES",
    "MIN_RETRY_INTERVAL",
    "RETRY_INTERVAL_PATTERN",
    "bounded_interval",
    "bounded_retries",
]

MIN_RETRY_INTERVAL: Final = timedelta(seconds=1)
MAX_RETRIES: Final = 1000
_COMPONENT: Final = r"[0-9]+(\.[0-9]+)?[hms]"
RETRY_INTERVAL_PATTERN: Final = rf"^({_COMPONENT})*0*[1-9][0-9]*(\.[0-9]+)?[hms]({_COMPONENT})*$"
"""Go durations in h/m/s with at least one component >= 1 (so >= 1 s); RE2-compatible."""


def bounded_interval(interval: timedelta) -> timedelta:
    """``interval``, at least MIN_RETRY_INTERVAL."""
    return max(interval, MIN_RETRY_INTERVAL)


def bounded_retries(value: object, default: int = 10) -> int:
    """``retries`` as an int in 0..MAX_RETRIES (``default`` when it is not a usable integer)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        return default
    try:
        number = int(value)
    except ValueError:
        return default
    return default if number < 0 else min(number, MAX_RETRIES)
