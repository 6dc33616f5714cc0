"""What one API request costs on each side, and the CPU floor it puts under a workload lifecycle.

`python benchmarks/requestcost.py [--requests N]` starts `klt sandbox` in its own process and
sends N Event creates (the request the flow sends most: 16.6 of its 21.6 minimum requests per
workload) through the operator's own client (lifecycle.kube.KubeClient: aiohttp, TLS, keep-alive,
16 in flight), on uvloop as `klt operator` runs. It prints the client's and the sandbox's CPU per
request and, last, one JSON object with them and the floor they put under
benchmarks/scale.py's `operator_cpu_ms_per_workload` and `sandbox_cpu_ms_per_workload`: the
flow's minimum requests per workload (scaleparts.minimum_per_workload) times the cost of one,
before any flow logic, watch traffic or the simulated node.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import uuid
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])  # not benchmarks/: `lifecycle` the package

from benchmarks.harness import cpu_seconds, sandbox_process  # noqa: E402
from benchmarks.scaleparts import minimum_per_workload  # noqa: E402
from lifecycle.core.model import EVENT  # noqa: E402
from lifecycle.kube import KubeClient  # noqa: E402
from lifecycle.operator.main import run_loop  # noqa: E402

IN_FLIGHT = 16


def _event() -> dict[str, object]:
    return {
        "metadata": {"name": f"cost.{uuid.uuid4().hex[:16]}"},
        "involvedObject": {"kind": "Pod", "name": "web", "namespace": "default"},
        "reason": "AppPreDeployTasksStarted",
        "message": "App Pre-Deployment Tasks: has started / Namespace: default, Name: web",
        "type": "Normal",
    }


async def _creates(client: KubeClient, count: int) -> None:
    slots = asyncio.Semaphore(IN_FLIGHT)

    async def one() -> None:
        async with slots:
            await client.create(EVENT, _event(), "default")

    await asyncio.gather(*(one() for _ in range(count)))


async def measure(requests: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as work:
        async with sandbox_process(Path(work)) as (kubeconfig, sandbox_pid):
            client = await KubeClient.from_kubeconfig(str(kubeconfig))
            try:
                await _creates(client, 200)  # connections open, caches warm
                client0, sandbox0 = cpu_seconds(), cpu_seconds(sandbox_pid)
                await _creates(client, requests)
                client_s, sandbox_s = cpu_seconds() - client0, cpu_seconds(sandbox_pid) - sandbox0
            finally:
                await client.close()
    minimum = sum(minimum_per_workload().values())
    client_us, sandbox_us = 1e6 * client_s / requests, 1e6 * sandbox_s / requests
    return {
        "requests": requests,
        "client_us_per_request": round(client_us, 1),
        "sandbox_us_per_request": round(sandbox_us, 1),
        "minimum_requests_per_workload": round(minimum, 2),
        "operator_floor_ms_per_workload": round(minimum * client_us / 1000, 2),
        "sandbox_floor_ms_per_workload": round(minimum * sandbox_us / 1000, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    result = run_loop(measure(parser.parse_args().requests))
    print(
        f"one Event create: client {result['client_us_per_request']} µs, "
        f"sandbox {result['sandbox_us_per_request']} µs of CPU"
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
