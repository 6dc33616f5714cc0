"""Our own errors for the Kubernetes API, so nothing above lifecycle.kube sees ApiException.

The HTTP client library is an implementation detail of lifecycle.kube (it could be swapped
for plain aiohttp); controllers catch these classes only. Each error keeps the HTTP status,
the API server's ``reason`` and ``message`` and, for ``Invalid``, the field causes.

    KubeError                 any failed API call (also the fallback for unknown statuses)
    ├── NotFound              404: the object (or its namespace) does not exist
    ├── AlreadyExists         409 reason=AlreadyExists: create of an existing name
    ├── Conflict              409 otherwise: stale resourceVersion, precondition failed
    ├── Gone                  410: watch/list resourceVersion too old, re-list
    ├── Invalid               422: schema or field validation, ``causes`` lists the fields
    ├── BadRequest            400: malformed request (a bug on our side, never retried blindly)
    ├── Forbidden             403: RBAC
    ├── Unauthorized          401: credentials
    └── Transient             429, 5xx, timeouts, connection resets: retry with backoff

Invariant: ``error_from_status`` maps every status to exactly one class; a Status body that
cannot be parsed still yields an error of the right class. This module does no I/O.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = [
    "AlreadyExists",
    "BadRequest",
    "Cause",
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


@dataclass(frozen=True, slots=True)
class Cause:
    """One field-level cause from a Status's ``details.causes``."""

    field: str
    reason: str
    message: str


class KubeError(Exception):
    """A failed Kubernetes API call."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        reason: str = "",
        body: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.reason = reason
        self.body: dict[str, Any] = body or {}

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
    """422: the object failed validation; ``causes`` names the offending fields."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = 422,
        reason: str = "Invalid",
        body: dict[str, Any] | None = None,
        causes: tuple[Cause, ...] = (),
    ) -> None:
        super().__init__(message, status=status, reason=reason, body=body)
        self.causes = causes


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
    410: Gone,
    422: Invalid,
    429: Transient,
}


def _parse_causes(details: Any) -> tuple[Cause, ...]:
    if not isinstance(details, dict):
        return ()
    raw = details.get("causes") or []
    return tuple(
        Cause(
            field=str(c.get("field", "")),
            reason=str(c.get("reason", "")),
            message=str(c.get("message", "")),
        )
        for c in raw
        if isinstance(c, dict)
    )


def error_from_status(status: int, body: bytes | str | dict[str, Any] | None) -> KubeError:
    """Build the error for an HTTP status and its (maybe unparsable) Status body."""
    parsed: dict[str, Any] = {}
    if isinstance(body, dict):
        parsed = body
    elif body:
        try:
            loaded = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            loaded = None
        if isinstance(loaded, dict):
            parsed = loaded
        else:
            text = body.decode(errors="replace") if isinstance(body, bytes) else body
            parsed = {"message": text[:500]}
    reason = str(parsed.get("reason", ""))
    message = str(parsed.get("message", "")) or f"HTTP {status}"
    if status == 409:
        cls: type[KubeError] = AlreadyExists if reason == "AlreadyExists" else Conflict
    elif status >= 500:
        cls = Transient
    else:
        cls = _BY_STATUS.get(status, KubeError)
    if cls is Invalid:
        return Invalid(
            message,
            status=status,
            reason=reason or "Invalid",
            body=parsed,
            causes=_parse_causes(parsed.get("details")),
        )
    return cls(message, status=status, reason=reason, body=parsed)
