"""Our own errors for the Kubernetes API: everything above lifecycle.kube catches these only.

Each error keeps the HTTP status and the API server's ``reason`` and ``message``.

    KubeError                 any failed API call (also the fallback for unknown statuses)
    ├── NotFound              404: the object (or its namespace) does not exist
    ├── AlreadyExists         409 reason=AlreadyExists: create of an existing name
    ├── Conflict              409 otherwise: stale resourceVersion, precondition failed
    ├── Gone                  410: watch/list resourceVersion too old, re-list
    ├── Invalid               422: schema or field validation (the message names the fields)
    ├── BadRequest            400: malformed request (a bug on our side, never retried blindly)
    ├── Forbidden             403: RBAC
    ├── Unauthorized          401: credentials
    └── Transient             429, 5xx, timeouts, connection resets: retry with backoff

Invariant: ``error_from_status`` maps every status to exactly one class; a Status body that
cannot be parsed still yields an error of the right class. This module does no I/O.
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = [
    "AlreadyExists",
    "BadRequest",
    "Conflict",
    "Forbidden",
    "Gone",
    "Invalid",
    "KubeError",
    "NotFound",
    "Transient",
    "Unauthorized",
    "error_from_status",
]


class KubeError(Exception):
    """A failed Kubernetes API call."""

    def __init__(self, message: str, *, status: int | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.reason = reason

    def __str__(self) -> str:
        prefix = f"{self.status} {self.reason}".strip()
        return f"{prefix}: {self.message}" if prefix else self.message


class NotFound(KubeError):
    """404: the object or its namespace does not exist."""


class AlreadyExists(KubeError):
    """409 AlreadyExists: a create hit an existing name."""


class Conflict(KubeError):
    """409: stale resourceVersion or a failed precondition; re-read and retry."""


class Gone(KubeError):
    """410: the resourceVersion is too old for a watch or list; re-list."""


class BadRequest(KubeError):
    """400: the request itself is malformed."""


class Invalid(KubeError):
    """422: the object failed validation; the message names the offending fields."""

    def __init__(self, message: str, *, status: int | None = 422, reason: str = "Invalid") -> None:
        super().__init__(message, status=status, reason=reason or "Invalid")


class Forbidden(KubeError):
    """403: RBAC denies the verb on the resource."""


class Unauthorized(KubeError):
    """401: missing or expired credentials."""


class Transient(KubeError):
    """429, 5xx, timeouts and connection errors: the same call may succeed later."""


_BY_STATUS: dict[int, type[KubeError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    410: Gone,
    422: Invalid,
    429: Transient,
}


def error_from_status(status: int, body: bytes | str | dict[str, Any] | None) -> KubeError:
    """Build the error for an HTTP status and its (maybe unparsable) Status body."""
    parsed = body if isinstance(body, dict) else _status_body(body)
    reason = str(parsed.get("reason", ""))
    message = str(parsed.get("message", "")) or f"HTTP {status}"
    cls = _BY_STATUS.get(status, Transient if status >= 500 else KubeError)
    if status == 409 and reason == "AlreadyExists":
        cls = AlreadyExists
    return cls(message, status=status, reason=reason)


def _status_body(body: bytes | str | None) -> dict[str, Any]:
    """The Status object of an error body; a body that is not one becomes its message."""
    if not body:
        return {}
    try:
        loaded = orjson.loads(body)
    except ValueError:
        loaded = None
    if isinstance(loaded, dict):
        return loaded
    text = body.decode(errors="replace") if isinstance(body, bytes) else body
    return {"message": text[:500]}
