"""`klt sandbox`: flags map onto settings, and the command serves until SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

import aiohttp
import pytest
import yaml

from sandbox.cli import add_arguments, settings_from_args
from sandbox.node.settings import Outcome
from tests.sandbox.conftest import FIXTURES


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


def test_flags_become_settings(tmp_path: Path) -> None:
    args = _parse(
        "--port",
        "0",
        "--crds",
        str(FIXTURES),
        "--data-dir",
        str(tmp_path),
        "--pod-start-delay",
        "0",
        "--error-rate",
        "create=0.5",
        "--error-rate",
        "*=0.1",
        "--error-kind",
        "timeout",
        "--latency",
        "0.01",
        "--drop-watches-every",
        "5",
        "--watch-gone",
        "--no-node",
        "--webhook-service",
        "hook.system:443=127.0.0.1:9443",
        "--pod-address",
        "system/op-0=127.0.0.1:9444",
    )
    s = settings_from_args(args)
    assert s.crds_dir == FIXTURES and s.data_dir == tmp_path and s.pod_start_delay == 0
    assert s.faults.error_rate == {"create": 0.5, "*": 0.1}
    assert (
        s.faults.error_kind == "timeout"
        and s.faults.watch_gone
        and s.faults.watch_drop_seconds == 5
    )
    assert not s.node
    assert s.webhook_services == {"hook.system:443": "127.0.0.1:9443"}
    assert s.pod_addresses == {"system/op-0": "127.0.0.1:9444"}
    assert s.node_settings.default_outcome is None
    fail = settings_from_args(_parse("--container-outcome", "fail"))
    assert fail.node_settings.default_outcome is Outcome.FAIL
    with pytest.raises(ValueError):
        settings_from_args(_parse("--error-rate", "nope=1"))


async def test_sandbox_command_serves_until_sigterm(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sandbox.cli",
        "--no-node",
        "--crds",
        str(FIXTURES),
        "--kubeconfig",
        str(kubeconfig),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
        assert line.startswith("sandbox API server at https://127.0.0.1:")
        plain = line.split("plain HTTP: ")[1].rstrip(")\n")
        config = yaml.safe_load(kubeconfig.read_text())
        token = config["users"][0]["user"]["token"]
        assert config["clusters"][0]["cluster"]["server"].startswith("https://127.0.0.1:")
        async with (
            aiohttp.ClientSession() as s,
            s.get(
                f"{plain}/api/v1/namespaces/default", headers={"Authorization": f"Bearer {token}"}
            ) as resp,
        ):
            assert resp.status == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = await asyncio.wait_for(proc.wait(), 10)
    assert rc == 0
