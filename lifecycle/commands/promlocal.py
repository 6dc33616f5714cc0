"""A local Prometheus for `klt demo`: Debian's binary on a free loopback port, plus remote write.

Role: `LocalPrometheus.start(data_dir, scrape=[...])` writes a config that scrapes the given
`host:port` targets (the operator's /metrics) every second and enables the remote-write receiver,
starts `/usr/bin/prometheus` and waits for `/-/ready`; `push(series)` sends samples by remote write
(a WriteRequest protobuf encoded by hand and snappy block-compressed with cramjam, as
tests/evaluator/promlauncher.py does), so the metrics the evaluations query exist at once instead
of after Prometheus' fixed 5 s target-discovery delay.

Invariants: listens on 127.0.0.1 only; `stop()` always terminates the process (kill after 5 s) and
is safe to call twice; `out_of_order_time_window` lets history be pushed behind the head.
Must not: install anything (scripts/bootstrap.sh does) or be imported by the controllers.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import cramjam
import yaml

from evaluator.providers.prometheus import Series as Sample

__all__ = ["PROMETHEUS", "LocalPrometheus", "Series", "encode_write_request", "free_port"]

PROMETHEUS = "/usr/bin/prometheus"


@dataclass(frozen=True, slots=True)
class Series:
    """One series: its labels (including `__name__`) and (unix seconds, value) samples."""

    labels: Mapping[str, str]
    samples: Sequence[tuple[float, float]] = field(default_factory=tuple)


def free_port() -> int:
    """A TCP port nothing listens on right now on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:  # a length-delimited protobuf field
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def encode_write_request(series: Iterable[Series]) -> bytes:
    """A snappy-compressed remote-write WriteRequest (labels sorted by name, ms timestamps)."""
    body = b""
    for s in series:
        labels = b"".join(
            _field(1, _field(1, k.encode()) + _field(2, v.encode()))
            for k, v in sorted(s.labels.items())
        )
        samples = b"".join(
            _field(2, b"\x09" + struct.pack("<d", v) + b"\x10" + _varint(int(ts * 1000)))
            for ts, v in s.samples
        )
        body += _field(1, labels + samples)
    return bytes(cramjam.snappy.compress_raw(body))


def _prepare(data_dir: Path, binary: str, port: int, scrape: Sequence[str], interval: str) -> Path:
    """Write the config: Prometheus scrapes itself and the `scrape` targets every `interval`."""
    if not Path(binary).exists():
        raise FileNotFoundError(f"{binary} missing: run `bash scripts/bootstrap.sh`")
    data_dir.mkdir(parents=True, exist_ok=True)
    jobs = {"prometheus": [f"127.0.0.1:{port}"], "lifecycle-operator": list(scrape)}
    config = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "storage": {"tsdb": {"out_of_order_time_window": "24h"}},
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": targets}]}
            for job, targets in jobs.items()
            if targets
        ],
    }
    config_path = data_dir / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    return config_path


class LocalPrometheus:
    """One Prometheus process; `url` once started."""

    def __init__(self, process: asyncio.subprocess.Process, url: str, data_dir: Path) -> None:
        self.process = process
        self.url = url
        self.data_dir = data_dir

    @classmethod
    async def start(
        cls,
        data_dir: Path,
        *,
        scrape: Sequence[str] = (),
        interval: str = "1s",
        binary: str = PROMETHEUS,
        ready_within: float = 15.0,
    ) -> LocalPrometheus:
        """Start Prometheus keeping its TSDB in `data_dir`, scraping `scrape` (host:port) targets."""
        port = free_port()
        config_path = _prepare(data_dir, binary, port, scrape, interval)
        log = (data_dir / "prometheus.log").open("wb")
        process = await asyncio.create_subprocess_exec(
            binary,
            f"--config.file={config_path}",
            f"--storage.tsdb.path={data_dir / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--web.enable-remote-write-receiver",
            "--log.level=warn",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
        log.close()
        prom = cls(process, f"http://127.0.0.1:{port}", data_dir)
        try:
            await prom._wait_ready(ready_within)
        except BaseException:
            await prom.stop()
            raise
        return prom

    async def _wait_ready(self, within: float) -> None:
        async with aiohttp.ClientSession() as session:
            async with asyncio.timeout(within):
                while True:
                    if self.process.returncode is not None:
                        raise RuntimeError(
                            f"prometheus exited with {self.process.returncode}; "
                            f"see {self.data_dir / 'prometheus.log'}"
                        )
                    try:
                        async with session.get(f"{self.url}/-/ready") as resp:
                            if resp.status == 200:
                                return
                    except aiohttp.ClientError:
                        pass
                    await asyncio.sleep(0.05)

    async def push(self, series: Iterable[Series]) -> None:
        """Remote-write `series`; raises RuntimeError on a non-2xx answer."""
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"{self.url}/api/v1/write",
                data=encode_write_request(series),
                headers={
                    "Content-Encoding": "snappy",
                    "Content-Type": "application/x-protobuf",
                    "X-Prometheus-Remote-Write-Version": "0.1.0",
                },
            ) as resp,
        ):
            if resp.status >= 300:
                raise RuntimeError(f"remote write answered {resp.status}: {await resp.text()}")

    async def query(self, promql: str) -> list[Sample]:
        """An instant query's result vector (empty on any error)."""
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{self.url}/api/v1/query", params={"query": promql}) as resp,
        ):
            if resp.status != 200:
                return []
            body = await resp.json()
        result = (body.get("data") or {}).get("result") or []
        return list(result) if isinstance(result, list) else []

    async def stop(self) -> None:
        """Terminate the process (kill after 5 s)."""
        if self.process.returncode is not None:
            return
        self.process.terminate()
        try:
            async with asyncio.timeout(5):
                await self.process.wait()
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
