"""JSON in and out of the sandbox's hot paths: orjson, with the standard library's exact rules.

Role: ``loads``/``dumps`` are what the store, the verbs and the watch streams use for every
object they parse or serialise (each write parses a body and the stored copy, then serialises
the result once). orjson does that several times faster; where it refuses what the standard
library accepts (integers beyond 64 bits, NaN/Infinity literals, non-string keys), the call is
repeated with ``json`` so the API server is neither stricter nor laxer than before, and a
document ``json`` rejects is rejected with ``json``'s error. Output is compact UTF-8, as
``json.dumps(obj, separators=(",", ":"), ensure_ascii=False)``.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

__all__ = ["dumps", "loads"]


def loads(raw: bytes | bytearray | str) -> Any:
    """Parse JSON (raises ``ValueError`` as ``json.loads`` does)."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)


def dumps(obj: Any) -> bytes:
    """Serialise to compact UTF-8 JSON."""
    try:
        # orjson's result keeps the capacity of its output buffer (4 KiB and more for a small
        # document); a copy of the exact size is what the store keeps for each version
        return bytes(memoryview(orjson.dumps(obj)))
    except TypeError:
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
