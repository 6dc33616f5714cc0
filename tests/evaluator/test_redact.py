"""The secret registry: every form a registered value travels in is masked, in text and in JSON.

Values here are unlike anything else the suite writes (the registry is process-wide).
"""

from __future__ import annotations

import base64
import json

import orjson

from evaluator import redact


def test_plain_base64_and_basic_forms_are_masked() -> None:
    redact.register_secret({"user": "zq-user-7731", "password": "zq-pass-7731"})
    pair = base64.b64encode(b"zq-user-7731:zq-pass-7731").decode()
    text = f"user zq-user-7731 token {base64.b64encode(b'zq-pass-7731').decode()} Basic {pair}"
    assert "zq-" not in redact.scrub(text)
    assert pair not in redact.scrub(text)


def test_a_serialized_body_is_masked_and_stays_json() -> None:
    secret = 'zq"quoted\\token\u00e9-7731'
    redact.register(secret)
    body = {"status": {"errMsg": f"backend said {secret}"}, secret: 1}
    for data in (orjson.dumps(body), json.dumps(body).encode()):
        cleaned = redact.scrub_bytes(data)
        assert b"quoted" not in cleaned
        assert json.loads(cleaned) == {"status": {"errMsg": "backend said ***"}, "***": 1}
    assert redact.scrub_deep(body) == {"status": {"errMsg": "backend said ***"}, "***": 1}
