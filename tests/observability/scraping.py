"""Debian's Prometheus scraping one target with the repo's alert and DORA rules, and a query.

Shared by tests/observability/test_prometheus_e2e.py (a Telemetry registry) and
tests/e2e/observability/test_prometheus_flow.py (the real operator through a flow).
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from lifecycle.commands.promlocal import free_port
from tests.support.paths import REPO_ROOT

__all__ = ["RULES", "query", "start_prometheus"]

RULES = REPO_ROOT / "deploy" / "prometheus" / "rules"


async def start_prometheus(tmp_path: Path, target: str) -> tuple[asyncio.subprocess.Process, str]:
    """Prometheus scraping ``target`` (host:port) every second, rules loaded; (process, URL)."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus is required (apt-get install prometheus)")
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"rule_files: ['{RULES}/keptn-alerts.yml', '{RULES}/keptn-dora.yml']\n"
        "scrape_configs:\n"
        f"  - job_name: lifecycle-operator\n    static_configs: [{{targets: ['{target}']}}]\n"
    )
    process = await asyncio.create_subprocess_exec(
        binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}", "--enable-feature=exemplar-storage",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    return process, f"http://127.0.0.1:{port}"


async def query(http: aiohttp.ClientSession, base: str, expr: str) -> list[Any]:
    """The result vector of an instant query (the answer must be a success)."""
    async with http.get(f"{base}/api/v1/query", params={"query": expr}) as response:
        body = await response.json()
    assert body["status"] == "success", (expr, body)
    return list(body["data"]["result"])
