"""Secrets the operator reads: decoded, trailing whitespace trimmed, registered for scrubbing.

``decode_secret`` turns a Secret body into ``{key: text}`` for a provider: ``data`` is base64
(``stringData`` is honoured for the sandbox and dry runs), trailing whitespace -- the usual
``kubectl create secret --from-file`` newline -- is trimmed, and any other control character (an
inner newline, a NUL) is refused with a ConfigError that names the Secret and the key, never the
value: such a value cannot travel in an HTTP header, and the HTTP client would otherwise raise
outside the provider's error handling. Every value read (before and after trimming) is registered
with ``evaluator.redact`` so it is scrubbed from status, Events, CloudEvents, spans and logs.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from typing import Any, Final

from evaluator.providers import ConfigError
from evaluator.redact import active, register, register_secret, scrub
from lifecycle.core.kubebodies import SecretBody
from lifecycle.core.meta import name_of

__all__ = ["decode_secret", "install_log_scrubbing"]

_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")


def _text(name: str, key: str, value: object, encoded: bool) -> str:
    if not encoded:
        return str(value)
    try:
        return base64.b64decode(str(value), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ConfigError(f"Secret {name} key {key!r} is not base64-encoded UTF-8 text") from None


def decode_secret(secret: SecretBody) -> dict[str, str]:
    """The Secret's entries as text, trimmed and registered; ConfigError naming Secret and key."""
    name = name_of(secret)
    raw: dict[str, str] = {}
    for entries, encoded in ((secret.get("data"), True), (secret.get("stringData"), False)):
        for key, value in (entries or {}).items():
            raw[key] = _text(name, key, value, encoded)
    register(*raw.values())  # the untrimmed forms too: a backend may echo either
    data: dict[str, str] = {}
    for key, value in raw.items():
        trimmed = value.rstrip()
        if _CONTROL.search(trimmed):
            raise ConfigError(
                f"Secret {name} key {key!r} holds a newline or control character inside its "
                "value; only trailing whitespace is trimmed"
            )
        data[key] = trimmed
    register_secret(data)
    return data


def install_log_scrubbing() -> None:
    """Scrub registered secrets from every log record (message and traceback) when it is made.

    Installed once per process through the LogRecord factory, so every handler -- the operator's
    JSON/text output, pytest's capture -- only ever sees scrubbed text.
    """
    previous = logging.getLogRecordFactory()
    if getattr(previous, "klt_scrubbing", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if not active():
            return record
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: logging reports it later
            return record
        clean = scrub(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info:
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
        return record

    factory.klt_scrubbing = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
