"""Benchmark of the sandbox API server: requests/s per verb and watch delivery latency.

The server runs in its own process (one core, plain HTTP on loopback, no node agent); this
process is the client. Sequential figures use one keep-alive connection; concurrent figures
use `--concurrency` connections. Watch latency: 100 watchers on one namespace's configmaps,
a writer patches a configmap with its send time (CLOCK_MONOTONIC, shared by both processes)
and each watcher records arrival minus send time.

Usage: python benchmarks/sandbox.py [--quick]. The last line printed is one JSON object with
get_rps, list_rps, create_rps, patch_rps, watch_p50_ms, watch_p99_ms (sequential figures).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent

SERVER = """
import asyncio, sys, tempfile
from pathlib import Path
from sandbox.server import Sandbox

import gc

async def main():
    async with Sandbox(crds_dir=Path(tempfile.mkdtemp()), node=False) as sb:
        gc.collect()
        gc.freeze()  # as `klt sandbox` does after start-up
        print(sb.url, sb.token, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

asyncio.run(main())
"""


class Client:
    def __init__(self, url: str, token: str, session: aiohttp.ClientSession) -> None:
        self.url = url
        self.session = session
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    async def request(
        self, method: str, path: str, body: object = None, ctype: str = "application/json"
    ) -> int:
        headers = dict(self.headers, **{"Content-Type": ctype})
        data = json.dumps(body).encode() if body is not None else None
        async with self.session.request(
            method, self.url + path, data=data, headers=headers
        ) as resp:
            await resp.read()
            if resp.status >= 400:
                raise RuntimeError(f"{method} {path}: HTTP {resp.status}")
            return resp.status


async def rate(n: int, concurrency: int, op: Callable[[int], Awaitable[object]]) -> float:
    """Requests per second doing op(0..n-1) with `concurrency` workers."""
    counter = iter(range(n))

    async def worker() -> None:
        for i in counter:
            await op(i)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return n / (time.perf_counter() - start)


async def verbs(c: Client, n: int, concurrency: int, tag: str) -> dict[str, float]:
    ns = f"/api/v1/namespaces/bench-{tag}"
    await c.request("POST", "/api/v1/namespaces", {"metadata": {"name": f"bench-{tag}"}})
    out = {}
    out["create"] = await rate(
        n,
        concurrency,
        lambda i: c.request(
            "POST",
            f"{ns}/configmaps",
            {"metadata": {"name": f"cm{i}", "labels": {"app": "bench"}}, "data": {"k": "v"}},
        ),
    )
    out["get"] = await rate(
        n, concurrency, lambda i: c.request("GET", f"{ns}/configmaps/cm{i % 50}")
    )
    # a list of 20 objects, the size of one workload's children
    out["list"] = await rate(
        n,
        concurrency,
        lambda i: c.request("GET", f"{ns}/configmaps?limit=20&labelSelector=app%3Dbench"),
    )
    out["patch"] = await rate(
        n,
        concurrency,
        lambda i: c.request(
            "PATCH",
            f"{ns}/configmaps/cm{i % 50}",
            {"data": {"k": str(i)}},
            "application/merge-patch+json",
        ),
    )
    return out


class _WatchProtocol(asyncio.Protocol):
    """A bare watch client: finds each event's send time in the bytes, no parsing per line.

    A full client per watcher (aiohttp, JSON decoding) would make this process, not the
    server, the bottleneck with 100 watchers on a 2-core machine.
    """

    marker = b'"t":"'

    def __init__(
        self,
        request: bytes,
        latencies: list[float],
        opened: Callable[[], None],
        done: asyncio.Future[None],
    ) -> None:
        self.request = request
        self.latencies = latencies
        self.opened = opened
        self.done = done
        self.tail = b""
        self.first = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.monotonic_ns()
        data = self.tail + data
        pos = 0
        while True:
            i = data.find(self.marker, pos)
            if i < 0:
                break
            end = data.find(b'"', i + len(self.marker))
            if end < 0:
                break
            sent = int(data[i + len(self.marker) : end])
            pos = end
            if sent == 0:
                if self.first:
                    self.first = False
                    self.opened()
            elif sent < 0:
                if not self.done.done():
                    self.done.set_result(None)
            else:
                self.latencies.append((now - sent) / 1e6)
        self.tail = data[pos:][-64:]


async def watch_latency(c: Client, watchers: int, events: int) -> tuple[float, float]:
    ns = "/api/v1/namespaces/bench-watch"
    await c.request("POST", "/api/v1/namespaces", {"metadata": {"name": "bench-watch"}})
    await c.request("POST", f"{ns}/configmaps", {"metadata": {"name": "w"}, "data": {"t": "0"}})
    latencies: list[float] = []
    ready = asyncio.Event()
    opened = 0

    def one_open() -> None:
        nonlocal opened
        opened += 1
        if opened == watchers:
            ready.set()

    host, port = c.url.removeprefix("http://").split(":")
    path = f"{ns}/configmaps?watch=1&resourceVersion=0&timeoutSeconds=120"
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: {c.headers['Authorization']}\r\n\r\n"
    ).encode()
    loop = asyncio.get_running_loop()
    dones = []
    transports = []
    for _ in range(watchers):
        done: asyncio.Future[None] = loop.create_future()
        transport, _ = await loop.create_connection(
            lambda d=done: _WatchProtocol(request, latencies, one_open, d), host, int(port)
        )
        dones.append(done)
        transports.append(transport)
    await asyncio.wait_for(ready.wait(), 30)
    for _ in range(events):
        await c.request(
            "PATCH",
            f"{ns}/configmaps/w",
            {"data": {"t": str(time.monotonic_ns())}},
            "application/merge-patch+json",
        )
        await asyncio.sleep(0.01)
    await c.request(
        "PATCH", f"{ns}/configmaps/w", {"data": {"t": "-1"}}, "application/merge-patch+json"
    )
    await asyncio.wait_for(asyncio.gather(*dones), 30)
    for transport in transports:
        transport.close()
    latencies.sort()
    p50 = statistics.median(latencies)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return p50, p99


async def main(quick: bool, concurrency: int) -> dict[str, float]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SERVER,
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        url, token = (await proc.stdout.readline()).decode().split()
        n = 1000 if quick else 5000
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as s1:
            seq = await verbs(Client(url, token, s1), n, 1, "seq")
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as sn:
            conc = await verbs(Client(url, token, sn), n, concurrency, "conc")
        async with aiohttp.ClientSession() as s:
            p50, p99 = await watch_latency(Client(url, token, s), 100, 50 if quick else 300)
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        await asyncio.wait_for(proc.wait(), 10)
    print(f"{'verb':<8}{'sequential req/s':>18}{f'concurrent({concurrency}) req/s':>26}")
    for verb in ("get", "list", "create", "patch"):
        print(f"{verb:<8}{seq[verb]:>18.0f}{conc[verb]:>26.0f}")
    print(f"watch delivery with 100 watchers: p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    result = {f"{v}_rps": round(seq[v], 1) for v in ("get", "list", "create", "patch")}
    result.update(
        {f"{v}_rps_concurrent": round(conc[v], 1) for v in ("get", "list", "create", "patch")}
    )
    result["load_avg_1m"] = round(os.getloadavg()[0], 2)  # figures on a busy machine are lower
    result["watch_p50_ms"] = round(p50, 3)
    result["watch_p99_ms"] = round(p99, 3)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests and events (CI)")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.quick, args.concurrency))))
