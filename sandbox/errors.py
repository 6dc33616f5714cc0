"""API errors as the Kubernetes API server reports them: a `Status` body with code and reason.

Every failure the sandbox answers goes through `ApiError`, so clients (kubernetes_asyncio, kubectl)
see the same `{kind: Status, apiVersion: v1, status: Failure, message, reason, details, code}` a
real server sends. This module builds bodies only; it does no I/O.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = [
    "ApiError",
    "already_exists",
    "bad_request",
    "conflict",
    "forbidden",
    "gone",
    "internal",
    "invalid",
    "method_not_allowed",
    "not_found",
    "object_details",
    "qualified",
    "unsupported_media_type",
]


class ApiError(Exception):
    """An error answered as a Status body with HTTP `code`."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def body(self) -> dict[str, Any]:
        """The Status object for this error, as the real server sends it (details only when
        there are any)."""
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            body["details"] = self.details
        return body

    def raw(self) -> bytes:
        """The Status object serialised as JSON bytes."""
        return json.dumps(self.body()).encode()


def object_details(kind: str, group: str, name: str | None) -> dict[str, Any]:
    """A Status's `details` about one object (group and name only when set)."""
    details: dict[str, Any] = {"kind": kind}
    if group:
        details["group"] = group
    if name:
        details["name"] = name
    return details


def qualified(plural: str, group: str) -> str:
    """`plural.group`, or `plural` for the core group."""
    return f"{plural}.{group}" if group else plural


def _about(code: int, reason: str, plural: str, group: str, name: str, text: str) -> ApiError:
    """An error about one object: `text` follows its quoted, qualified name."""
    message = text.format(f'{qualified(plural, group)} "{name}"')
    return ApiError(code, reason, message, object_details(plural, group, name))


def not_found(plural: str, group: str, name: str) -> ApiError:
    """404 for a missing object, e.g. `pods "web" not found`."""
    return _about(404, "NotFound", plural, group, name, "{} not found")


def already_exists(plural: str, group: str, name: str) -> ApiError:
    """409 for a create whose name is taken."""
    return _about(409, "AlreadyExists", plural, group, name, "{} already exists")


def conflict(plural: str, group: str, name: str, why: str) -> ApiError:
    """409 for a stale resourceVersion (optimistic concurrency)."""
    why = why.replace("{", "{{").replace("}", "}}")
    return _about(
        409, "Conflict", plural, group, name, f"Operation cannot be fulfilled on {{}}: {why}"
    )


def invalid(kind: str, group: str, name: str, causes: list[tuple[str, str, str]]) -> ApiError:
    """422 listing `(field, reason_type, message)` causes, like field.ErrorList."""
    text = "; ".join(f"{field}: {msg}" for field, _, msg in causes)
    if len(causes) > 1:
        text = "[" + ", ".join(f"{field}: {msg}" for field, _, msg in causes) + "]"
    details = object_details(kind, group, name)
    details["causes"] = [
        {"reason": reason, "message": msg, "field": field} for field, reason, msg in causes
    ]
    return ApiError(
        422, "Invalid", f'{qualified(kind, group)} "{name}" is invalid: {text}', details
    )


def no_such_path() -> ApiError:
    """404 for a URL that names no resource the server serves."""
    return ApiError(404, "NotFound", "the server could not find the requested resource")


def bad_request(message: str) -> ApiError:
    """400 for a body or query the server cannot decode."""
    return ApiError(400, "BadRequest", message)


def forbidden(plural: str, group: str, name: str, why: str) -> ApiError:
    """403 for a refused request, e.g. `pods "x" is forbidden: <why>` (`pods is forbidden: ...`
    without a name)."""
    head = f'{qualified(plural, group)} "{name}"' if name else qualified(plural, group)
    return ApiError(
        403, "Forbidden", f"{head} is forbidden: {why}", object_details(plural, group, name)
    )


def internal(text: str) -> ApiError:
    """500 for a failure inside the server (a webhook call, a bug)."""
    return ApiError(500, "InternalError", f"Internal error occurred: {text}")


def gone(message: str) -> ApiError:
    """410 when a watch asks for a resourceVersion older than the kept history."""
    return ApiError(410, "Expired", message)


def method_not_allowed(verb: str, resource: str) -> ApiError:
    """405 for a verb the resource does not serve."""
    return ApiError(
        405,
        "MethodNotAllowed",
        f"the server does not allow this method on the requested resource ({verb} {resource})",
    )


def unsupported_media_type(content_type: str) -> ApiError:
    """415 for a patch type the resource does not accept."""
    return ApiError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media types include: "
        f"application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
        f" (got {content_type})",
    )
