"""Restart safety: `klt operator` SIGKILLed at 10 random moments of a multi-workload flow with tasks.

The operator runs as a subprocess against an in-process sandbox, with fixed ports (so the
registered webhook URL stays valid across restarts) and a stable Lease identity (so a restart
re-takes its Lease at once). After the last restart the flow must complete with every task's
Job created once, every runner pod run once, and every flow transition's Event written once.
"""

from __future__ import annotations

import asyncio
import collections
import random
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from lifecycle import model
from lifecycle.kube import KubeClient
from sandbox.server import Sandbox
from tests.integration.conftest import KEPTN_NAMESPACE, NAMESPACE, start_sandbox
from tests.integration.workloads import deployment, succeeded
from tracing.setup import read_span_lines

Body = dict[str, Any]
PY_TASK = 'import os, time\ntime.sleep(2.5)\nprint("task ran:", os.environ.get("HOSTNAME", "?"))\n'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class OperatorProcess:
    def __init__(self, sandbox: Sandbox, tmp_path: Path) -> None:
        ports = [str(free_port()) for _ in range(3)]
        self.args = [
            sys.executable, "-m", "lifecycle.cli", "operator",
            "--kubeconfig", str(sandbox.kubeconfig_path),
            "--keptn-namespace", KEPTN_NAMESPACE,
            "--webhook-url-host", "127.0.0.1",
            "--webhook-port", ports[0], "--metrics-port", ports[1], "--probe-port", ports[2],
            "--cert-dir", str(tmp_path / "certs"),
            "--leader-identity", "operator-0",
            "--log-level", "WARNING",
            "--trace-file", str(tmp_path / "spans.jsonl"),
        ]  # fmt: skip
        self.spans = tmp_path / "spans.jsonl"
        self.probe_port = int(ports[2])
        self.log = tmp_path / "operator.log"
        self.proc: asyncio.subprocess.Process | None = None
        self.starts = 0

    async def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(*self.args, stdout=out, stderr=out)
        self.starts += 1

    async def wait_ready(self) -> None:
        """Poll /readyz (caches synced, webhooks registered) of the current process."""
        url = f"http://127.0.0.1:{self.probe_port}/readyz"
        async with aiohttp.ClientSession() as http:
            async with asyncio.timeout(30):
                while True:
                    try:
                        async with http.get(url) as resp:
                            if resp.status == 200:
                                return
                    except aiohttp.ClientError:
                        pass
                    await asyncio.sleep(0.05)

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(10):
                    await self.proc.wait()
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


async def wait_until(check: Any, within: float, what: str) -> Any:
    try:
        async with asyncio.timeout(within):
            while True:
                result = await check()
                if result:
                    return result
                await asyncio.sleep(0.05)
    except TimeoutError:
        pytest.fail(f"timed out waiting for {what}")


@pytest.mark.timeout(180)
async def test_sigkill_at_random_moments_runs_every_task_once(tmp_path: Path) -> None:
    sb = await start_sandbox(tmp_path)
    client = KubeClient.for_url(sb.url, token=sb.token)
    operator = OperatorProcess(sb, tmp_path)
    rng = random.Random(20261127)
    try:
        ns = NAMESPACE
        task_def = {
            "apiVersion": model.KEPTN_TASK_DEFINITION.api_version,
            "kind": "KeptnTaskDefinition",
            "metadata": {"name": "check"},
            "spec": {"python": {"inline": {"code": PY_TASK}}, "retries": 0},
        }
        await client.create(model.KEPTN_TASK_DEFINITION, task_def, ns)
        await client.create(
            model.KEPTN_APP_CONTEXT,
            {
                "metadata": {"name": "shop", "namespace": ns},
                "spec": {"preDeploymentTasks": ["check"], "postDeploymentTasks": ["check"]},
            },
            ns,
        )
        await client.create(
            model.KEPTN_APP,
            {
                "metadata": {"name": "shop", "namespace": ns},
                "spec": {
                    "version": "1.0",
                    "workloads": [{"name": n, "version": "1.0"} for n in ("cart", "front", "pay")],
                },
            },
            ns,
        )
        await operator.start()
        await operator.wait_ready()  # the webhook is registered: pods will be gated
        keys = {"keptn.sh/pre-deployment-tasks": "check", "keptn.sh/post-deployment-tasks": "check"}
        for name in ("cart", "front", "pay"):
            body = deployment(name, version="1.0", app="shop", keys=keys)
            await client.create(model.DEPLOYMENT, body, ns)
        await wait_until(
            lambda: _count(client, model.KEPTN_WORKLOAD, ns, 3), 20, "3 KeptnWorkloads"
        )
        phases = []
        for _ in range(10):
            # a random moment of a running operator: from just after it is ready to ~1 s later
            await operator.wait_ready()
            await asyncio.sleep(rng.uniform(0.0, 0.8))
            await operator.kill()
            phases.append(await _phase(client, ns))
            await operator.start()

        async def app_done() -> bool:
            items, _ = await client.list(model.KEPTN_APP_VERSION, ns)
            return any(succeeded(i) for i in items)

        await wait_until(app_done, 90, "the AppVersion to succeed")
        for wl in ("cart", "front", "pay"):
            wv = await client.get(model.KEPTN_WORKLOAD_VERSION, f"shop-{wl}-1.0", ns)
            assert succeeded(wv), wv.get("status")
        tasks, _ = await client.list(model.KEPTN_TASK, ns)
        jobs, _ = await client.list(model.JOB, ns)
        assert len(tasks) == 8  # app pre+post, and pre+post for each of 3 workloads
        assert len(jobs) == 8
        pods, _ = await client.list(model.POD, ns, label_selector="job-name")
        per_job = collections.Counter(p["metadata"]["labels"]["job-name"] for p in pods)
        assert sorted(per_job.values()) == [1] * 8, per_job  # each runner ran once
        events, _ = await client.list(model.EVENT, ns)
        flow = collections.Counter(
            (e["involvedObject"]["name"], e["reason"])
            for e in events
            if e["reason"].endswith(("Started", "Succeeded", "Errored"))
            or e["reason"] == "Completed"
        )
        assert all(n == 1 for n in flow.values()), [k for k, n in flow.items() if n > 1]
        assert all(
            e.get("count", 1) == 1 for e in events if e["reason"].endswith(("Started", "Succeeded"))
        )
        print("phases at the kills:", phases)
        assert operator.starts == 11
        # spans are built from status, so restarts neither duplicate nor orphan them
        spans = read_span_lines(operator.spans)
        ids = collections.Counter(s["spanId"] for s in spans)
        assert all(n == 1 for n in ids.values())
        names = {s["name"] for s in spans}
        assert {"shop-1.0-6b86b273", "AppPostDeployTasks", "shop-cart-1.0"} <= names
        webhook = {"annotate_pod", "create_app", "create_workload"}  # live spans of admission
        traces = {s["traceId"] for s in spans if s["name"] not in webhook}
        assert len(traces) == 1  # one trace: the app, its workloads and their tasks
        assert {f"shop-{w}-1.0" for w in ("cart", "front", "pay")} <= names
        assert len(set(phases)) > 2, phases  # the kills hit different moments of the flow
    finally:
        await operator.stop()
        await client.close()
        await sb.stop()


async def _count(client: KubeClient, kind: model.ResourceKind, ns: str, n: int) -> bool:
    items, _ = await client.list(kind, ns)
    return len(items) == n


async def _phase(client: KubeClient, ns: str) -> str:
    """Where the flow was at a kill: the AppVersion's phase and the workloads' phases."""
    apps, _ = await client.list(model.KEPTN_APP_VERSION, ns)
    wvs, _ = await client.list(model.KEPTN_WORKLOAD_VERSION, ns)
    parts = [str((o.get("status") or {}).get("currentPhase", "-")) for o in apps + wvs]
    return "/".join(parts)
