"""`covers(current, desired)`: does a stored object already say everything a desired body says?

Role: an idempotent create-or-update (the webhook configurations at start-up) compares what it
would write with what the API server holds; the server adds defaults, uid, timestamps and
resourceVersion, so plain equality always differs and every restart rewrote the object.
`covers` is true when every field of ``desired`` is in ``current`` with the same value (maps:
recursively, extra keys in ``current`` allowed; lists: same length, item by item), so an
unchanged object is not written. Limit: a field dropped from ``desired`` but still stored is not
seen as a change (none of our writers drops fields between versions); a ``None`` in ``desired``
(a merge patch's delete) is covered by an absent field. Pure, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["covers"]


def covers(current: Any, desired: Any) -> bool:
    """True when ``current`` holds every field and value of ``desired`` (see module doc)."""
    if isinstance(desired, Mapping):
        return isinstance(current, Mapping) and all(
            current.get(key) is None  # a merge patch's null: the field must be absent
            if value is None
            else key in current and covers(current[key], value)
            for key, value in desired.items()
        )
    if isinstance(desired, list):
        return (
            isinstance(current, list)
            and len(current) == len(desired)
            and all(covers(c, d) for c, d in zip(current, desired, strict=True))
        )
    return bool(current == desired)
