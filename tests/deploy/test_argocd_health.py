"""deploy/argocd/health.lua run by Debian's lua5.4 on statuses lifecycle.core.conditions writes."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime
from typing import Any

import pytest

from lifecycle.core.conditions import with_conditions
from tests.support.paths import REPO_ROOT

HEALTH = REPO_ROOT / "deploy" / "argocd" / "health.lua"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def lua_literal(value: Any) -> str:
    """A Lua table constructor for JSON-like data (what Argo CD hands the script as ``obj``)."""
    if isinstance(value, dict):
        return (
            "{" + ", ".join(f"[{json.dumps(k)}] = {lua_literal(v)}" for k, v in value.items()) + "}"
        )
    if isinstance(value, list):
        return "{" + ", ".join(lua_literal(v) for v in value) + "}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value))


def health(objects: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(status, message) of the health check for each object, one lua5.4 process in all."""
    lua = shutil.which("lua5.4")
    if lua is None:
        pytest.fail("lua5.4 is required (scripts/bootstrap.sh installs Debian's lua5.4)")
    chunk = HEALTH.read_text()
    script = "local check = load(" + json.dumps(chunk) + ")\n"
    for obj in objects:
        script += f"obj = {lua_literal(obj)}\nlocal hs = check()\nprint(hs.status .. '\\t' .. hs.message)\n"
    out = subprocess.run([lua, "-"], input=script, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return [tuple(line.split("\t", 1)) for line in out.stdout.splitlines()]  # type: ignore[misc]


def version(status: dict[str, Any], generation: int = 1) -> dict[str, Any]:
    obj: dict[str, Any] = {"kind": "KeptnAppVersion", "metadata": {"generation": generation}}
    obj["status"] = {**status, **with_conditions("KeptnAppVersion", obj, status, NOW)}
    return obj


def test_health_follows_the_conditions() -> None:
    failed = version({"status": "Failed", "currentPhase": "AppPreDeployTasks"})
    stale = version({"status": "Succeeded"})
    stale["metadata"]["generation"] = 2
    results = health(
        [
            version({"status": "Progressing", "currentPhase": "AppDeploy"}),
            version({"status": "Succeeded"}),
            version({"status": "Warning"}),
            failed,
            version({"status": "Deprecated"}),
            stale,
            {"kind": "KeptnAppVersion", "metadata": {"generation": 1}},
        ]
    )
    assert [status for status, _ in results] == [
        "Progressing", "Healthy", "Healthy", "Degraded", "Healthy", "Progressing", "Progressing",
    ]  # fmt: skip
    assert "AppDeploy" in results[0][1]
    assert results[3][1] == "AppVersion failed in phase AppPreDeployTasks"
    assert "superseded" in results[4][1]
    assert "generation 2" in results[5][1]
    assert "status.conditions" in results[6][1]
