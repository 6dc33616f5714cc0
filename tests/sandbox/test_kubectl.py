"""The real kubectl against the sandbox: apply with validation, get, get -w, describe, patch, logs, delete."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sandbox.server import Sandbox
from tests.sandbox.conftest import FIXTURES

KUBECTL = shutil.which("kubectl")
pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed on this machine")

MANIFEST = """
apiVersion: sandbox.klt.dev/v1
kind: Widget
metadata:
  name: w1
spec:
  mode: fast
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.25
"""


class Kubectl:
    def __init__(self, sb: Sandbox, home: Path) -> None:
        self.sb = sb
        self.env = {**os.environ, "HOME": str(home), "KUBECONFIG": str(sb.kubeconfig_path)}
        self.cache = home / "cache"

    async def __call__(
        self, *args: str, ok: bool = True, within: float = 30
    ) -> tuple[int, str, str]:
        assert KUBECTL is not None
        proc = await asyncio.create_subprocess_exec(
            KUBECTL,
            f"--cache-dir={self.cache}",
            *args,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), within)
        rc = proc.returncode or 0
        if ok:
            assert rc == 0, f"kubectl {' '.join(args)} failed ({rc}): {err.decode()}"
        return rc, out.decode(), err.decode()


@pytest.fixture
async def kubectl(tmp_path: Path) -> AsyncIterator[Kubectl]:
    async with Sandbox(crds_dir=FIXTURES, node=False) as sb:
        yield Kubectl(sb, tmp_path)


def _rows(text: str) -> list[list[str]]:
    return [line.split() for line in text.strip().splitlines()]


async def test_apply_validates_and_get_prints_columns(kubectl: Kubectl, tmp_path: Path) -> None:
    manifest = tmp_path / "app.yaml"
    manifest.write_text(MANIFEST)
    _, out, _ = await kubectl("apply", "-f", str(manifest))
    assert "widget.sandbox.klt.dev/w1 created" in out and "deployment.apps/web created" in out
    _, out, _ = await kubectl("apply", "-f", str(manifest))
    assert "widget.sandbox.klt.dev/w1 unchanged" in out
    rows = _rows((await kubectl("get", "widgets"))[1])
    assert rows[0] == ["NAME", "MODE", "RETRIES", "READY", "AGE"]
    assert rows[1][:3] == ["w1", "fast", "3"]
    rows = _rows((await kubectl("get", "deploy"))[1])
    assert rows[0] == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert rows[1][:2] == ["web", "0/2"]
    # validation is on: an unknown field and an invalid value are refused with the field named
    manifest.write_text(MANIFEST.replace("mode: fast", "mode: fast\n  bogus: 1"))
    rc, _, err = await kubectl("apply", "-f", str(manifest), ok=False)
    assert rc != 0 and 'unknown field "spec.bogus"' in err
    manifest.write_text(MANIFEST.replace("mode: fast", "mode: medium"))
    rc, _, err = await kubectl("apply", "-f", str(manifest), ok=False)
    assert rc != 0 and 'spec.mode: Unsupported value: "medium"' in err
    manifest.write_text(MANIFEST.replace("replicas: 2", "replicas: 3"))
    _, out, _ = await kubectl("apply", "--server-side", "-f", str(manifest))
    assert "serverside-applied" in out
    rows = _rows((await kubectl("get", "deploy", "web"))[1])
    assert rows[1][1] == "0/3"


async def test_patch_status_describe_and_watch(kubectl: Kubectl, tmp_path: Path) -> None:
    manifest = tmp_path / "app.yaml"
    manifest.write_text(MANIFEST)
    await kubectl("apply", "-f", str(manifest))
    await kubectl(
        "patch",
        "widget",
        "w1",
        "--subresource=status",
        "--type=merge",
        "-p",
        '{"status":{"conditions":[{"type":"Ready","status":"True"}]}}',
    )
    rows = _rows((await kubectl("get", "wd", "w1"))[1])
    assert rows[1][3] == "True"
    _, out, _ = await kubectl("describe", "widget", "w1")
    assert "Name:         w1" in out and "Mode:     fast" in out
    watcher = asyncio.create_task(kubectl("get", "widgets", "-w", "--request-timeout=3s", ok=False))
    await asyncio.sleep(1.0)
    await kubectl("patch", "widget", "w1", "--type=merge", "-p", '{"spec":{"retries":5}}')
    _, out, _ = await watcher
    lines = _rows(out)
    assert lines[0][0] == "NAME"
    assert lines[1][:3] == ["w1", "fast", "3"]
    assert lines[-1][:3] == ["w1", "fast", "5"]


async def test_logs_events_and_delete(kubectl: Kubectl) -> None:
    await kubectl("run", "p1", "--image=busybox:1.36")
    rc, _, err = await kubectl("logs", "p1", ok=False)
    assert rc != 0 and "waiting to start" in err
    kubectl.sb.store.set_pod_log("default", "p1", "hello\nworld\n")
    _, out, _ = await kubectl("logs", "p1")
    assert out == "hello\nworld\n"
    _, out, _ = await kubectl("logs", "p1", "--tail=1")
    assert out == "world\n"
    _, pod_json, _ = await kubectl("get", "pod", "p1", "-o", "jsonpath={.metadata.uid}")
    event = (
        '{"apiVersion":"v1","kind":"Event","metadata":{"name":"p1.1"},"type":"Normal","reason":"Scheduled",'
        '"message":"assigned to sandbox-node","involvedObject":{"kind":"Pod","name":"p1","namespace":"default","uid":"'
        + pod_json
        + '"},"source":{"component":"default-scheduler"}}'
    )
    proc_file = kubectl.cache.parent / "event.json"
    proc_file.write_text(event)
    await kubectl("create", "-f", str(proc_file))
    rows = _rows((await kubectl("get", "events"))[1])
    assert rows[0] == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert rows[1][2:5] == ["Scheduled", "pod/p1", "assigned"]
    _, out, _ = await kubectl("describe", "pod", "p1")
    assert "Scheduled" in out and "assigned to sandbox-node" in out
    _, out, _ = await kubectl("delete", "pod", "p1")
    assert 'pod "p1" deleted' in out
    _, out, err = await kubectl("get", "pods")
    assert "No resources found" in out + err


SDK_BIN = Path("/usr/lib/google-cloud-sdk/bin")


@pytest.mark.parametrize("version", ["1.27", "1.33"])
async def test_older_and_newer_kubectl_clients(
    kubectl: Kubectl, tmp_path: Path, version: str
) -> None:
    binary = SDK_BIN / f"kubectl.{version}"
    if not binary.exists():
        pytest.skip(f"kubectl {version} is not bundled on this machine")
    manifest = tmp_path / "app.yaml"
    manifest.write_text(MANIFEST)
    proc = await asyncio.create_subprocess_exec(
        str(binary),
        f"--cache-dir={kubectl.cache}",
        "apply",
        "-f",
        str(manifest),
        env=kubectl.env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    assert b"widget.sandbox.klt.dev/w1 created" in out
    proc = await asyncio.create_subprocess_exec(
        str(binary),
        f"--cache-dir={kubectl.cache}",
        "get",
        "widgets",
        env=kubectl.env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    assert _rows(out.decode())[0] == ["NAME", "MODE", "RETRIES", "READY", "AGE"]
