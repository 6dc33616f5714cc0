"""Secret values the process has read, and their scrubbing from any text that leaves it.

Every Secret value the operator reads is ``register``-ed (lifecycle/core/secrets.py does it for the
provider Secrets); ``scrub`` then replaces the value and the forms it travels in -- base64 and the
``Basic`` authorization pair ``user:password`` (its base64) -- with ``***`` in any text: provider
error messages, raw backend bodies, status writes, Events (and so CloudEvents), spans and log
records all pass through it. Values shorter than ``MIN_LENGTH`` characters are not registered:
scrubbing every "a" or "1" would garble all output, and a 3-character secret protects nothing.

The registry is process-wide on purpose (one set of secrets per operator process) and only grows;
registering the same value twice is free.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any, Final

__all__ = [
    "MASK",
    "MIN_LENGTH",
    "register",
    "register_secret",
    "scrub",
    "scrub_bytes",
    "scrub_deep",
]

MASK: Final = "***"
MIN_LENGTH: Final = 4

_lock = threading.Lock()
_values: set[str] = set()
_pattern: re.Pattern[str] | None = None


def _forms(value: str) -> Iterable[str]:
    yield value
    # as it stands inside a JSON string (a request body is scrubbed once serialized)
    yield json.dumps(value, ensure_ascii=False)[1:-1]
    yield json.dumps(value)[1:-1]
    raw = value.encode()
    yield base64.b64encode(raw).decode()
    yield base64.b64encode(raw).decode().rstrip("=")
    yield base64.urlsafe_b64encode(raw).decode().rstrip("=")


def register(*values: str) -> None:
    """Remember secret values (and their base64 forms) for ``scrub``."""
    global _pattern
    fresh = {form for v in values if len(v) >= MIN_LENGTH for form in _forms(v)} - _values
    if not fresh:
        return
    with _lock:
        _values.update(fresh)
        ordered = sorted(_values, key=len, reverse=True)  # longest first: no partial masks
        _pattern = re.compile("|".join(re.escape(v) for v in ordered))


def register_secret(data: Mapping[str, str]) -> None:
    """Register every entry of a decoded Secret, plus its ``user:password`` Basic-auth pair."""
    register(*data.values())
    if "user" in data or "password" in data:
        pair = f"{data.get('user', '')}:{data.get('password', '')}"
        register(pair, "Basic " + base64.b64encode(pair.encode()).decode())


def active() -> bool:
    """Whether any secret is registered (scrubbing is a no-op until then)."""
    return _pattern is not None


def scrub(text: str) -> str:
    """``text`` with every registered secret form replaced by ``***``."""
    pattern = _pattern
    if pattern is None or not text:
        return text
    return pattern.sub(MASK, text)


def scrub_bytes(data: bytes) -> bytes:
    """``scrub`` for a raw backend body (decoded as UTF-8, undecodable bytes kept as they were)."""
    if _pattern is None or not data:
        return data
    text = data.decode("utf-8", "surrogateescape")
    cleaned = scrub(text)
    return data if cleaned == text else cleaned.encode("utf-8", "surrogateescape")


def scrub_deep(value: Any) -> Any:
    """Every string inside a JSON-like value scrubbed (keys too); the same object if unchanged."""
    if _pattern is None:
        return value
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, Mapping):
        return {scrub(str(k)): scrub_deep(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub_deep(v) for v in value]
    return value
