"""Fault injection, switchable per run: error rates per verb, latency, dropped and expired watches.

Settings come from the `Sandbox` constructor, the `klt sandbox` flags and, at run time, the
admin endpoint `/sandbox/faults` (GET shows them, PUT/POST replaces them with a JSON body of the
same shape). Reliability tests use it to prove clients retry, re-watch and re-list.
Decisions use a seeded `random.Random`, so a run is repeatable. No I/O here.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from sandbox.errors import ApiError

__all__ = ["VERBS", "FaultSettings", "Faults", "injected_error"]

VERBS = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection")
ERROR_KINDS = ("500", "503", "409", "429", "timeout")


@dataclass(slots=True)
class FaultSettings:
    """What to inject. Zero values (the default) inject nothing."""

    error_rate: dict[str, float] = field(default_factory=dict)
    """verb -> probability (0..1) that a request with that verb fails; "*" applies to all verbs."""
    error_kind: str = "500"
    """How an injected failure looks: "500", "503", "429", "409" (Conflict) or "timeout"
    (the request hangs `timeout_seconds`, then 504)."""
    timeout_seconds: float = 5.0
    latency_seconds: float = 0.0
    """Added to every API request before it is handled."""
    watch_drop_seconds: float = 0.0
    """Close every watch stream this long after it opened (0 = never)."""
    watch_gone: bool = False
    """Answer every watch that names a resourceVersion with an ERROR 410 Expired event."""
    seed: int = 0

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FaultSettings:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        unknown = set(data) - set(known)
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        settings = cls(**known)
        settings.check()
        return settings

    def check(self) -> None:
        for verb, rate in self.error_rate.items():
            if verb != "*" and verb not in VERBS:
                raise ValueError(f"unknown verb {verb!r} (one of {', '.join(VERBS)} or *)")
            if not 0.0 <= float(rate) <= 1.0:
                raise ValueError(f"error rate for {verb} must be within 0..1")
        if self.error_kind not in ERROR_KINDS:
            raise ValueError(f"error_kind must be one of {', '.join(ERROR_KINDS)}")


_INJECTED: dict[str, tuple[int, str, str]] = {
    "409": (
        409,
        "Conflict",
        "Operation cannot be fulfilled: the object has been modified; please apply your changes"
        " to the latest version and try again (injected fault)",
    ),
    "429": (429, "TooManyRequests", "too many requests (injected fault)"),
    "503": (
        503,
        "ServiceUnavailable",
        "the server is currently unable to handle the request (injected fault)",
    ),
    "timeout": (
        504,
        "Timeout",
        "the server was unable to return a response in the time allotted (injected fault)",
    ),
}
"""The answer of each `error_kind` (anything else: 500), worded as the real server's."""


def injected_error(kind: str) -> ApiError:
    """The error an injected fault of `kind` answers (429 tells when to retry)."""
    code, reason, message = _INJECTED.get(
        kind, (500, "InternalError", "Internal error occurred: injected fault")
    )
    return ApiError(code, reason, message, {"retryAfterSeconds": 1} if code == 429 else None)


class Faults:
    """The live fault settings and the random source that applies them."""

    def __init__(self, settings: FaultSettings | None = None) -> None:
        self.injected = 0
        self.replace(settings or FaultSettings())

    def replace(self, settings: FaultSettings) -> None:
        self.settings = settings
        self.rng = random.Random(settings.seed)

    @property
    def active(self) -> bool:
        s = self.settings
        return bool(s.error_rate or s.latency_seconds or s.watch_drop_seconds or s.watch_gone)

    def should_fail(self, verb: str) -> bool:
        rates = self.settings.error_rate
        rate = rates.get(verb, rates.get("*", 0.0))
        if rate and self.rng.random() < rate:
            self.injected += 1
            return True
        return False
