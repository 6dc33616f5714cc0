"""Start Debian's Prometheus on a free loopback port with history and live samples.

Shared by tests/evaluator/conftest.py and benchmarks/evaluator.py. Installs nothing: it
needs /usr/bin/prometheus and /usr/bin/promtool (scripts/bootstrap.sh puts them there).

* History: `backfill()` writes OpenMetrics text and runs `promtool tsdb create-blocks-from
  openmetrics` into the data dir before Prometheus starts (queryable at once).
* Live samples: `push()` sends a remote-write request encoded by
  `lifecycle.commands.promlocal.encode_write_request` (the demo's launcher, which is async).
  `out_of_order_time_window` in the config lets pushes land behind the head.
Blocking (subprocess, urllib) on purpose: it runs in fixtures and benchmark setup only.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from lifecycle.commands.promlocal import Series, encode_write_request, free_port

__all__ = [
    "Prometheus",
    "Series",
    "backfill",
    "encode_write_request",
    "free_port",
    "push",
    "running_prometheus",
]

PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"
CONFIG = """\
global:
  scrape_interval: 1m
  evaluation_interval: 1m
storage:
  tsdb:
    out_of_order_time_window: 24h
"""


@dataclass(frozen=True, slots=True)
class Prometheus:
    """A running Prometheus: its base URL and where it keeps its data."""

    url: str
    data_dir: Path
    process: subprocess.Popen[bytes]


def _label_text(labels: Mapping[str, str]) -> str:
    def esc(v: str) -> str:
        return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    inner = ",".join(f'{k}="{esc(v)}"' for k, v in sorted(labels.items()) if k != "__name__")
    return f"{labels['__name__']}{{{inner}}}"


def backfill(tsdb_dir: Path, series: Iterable[Series]) -> None:
    """Write OpenMetrics (gauges, seconds timestamps, `# EOF`) and build TSDB blocks from it."""
    by_name: dict[str, list[Series]] = {}
    for s in series:
        by_name.setdefault(s.labels["__name__"], []).append(s)
    lines: list[str] = []
    for name, group in by_name.items():
        lines.append(f"# TYPE {name} gauge")
        for s in group:
            lines += [f"{_label_text(s.labels)} {v!r} {ts:.3f}" for ts, v in s.samples]
    lines.append("# EOF")
    tsdb_dir.mkdir(parents=True, exist_ok=True)
    source = tsdb_dir.parent / "history.om"
    source.write_text("\n".join(lines) + "\n")
    subprocess.run(
        [PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", str(source), str(tsdb_dir)],
        check=True,
        capture_output=True,
    )
    source.unlink()


def push(url: str, series: Iterable[Series]) -> None:
    """Remote-write `series` to the Prometheus at `url`; raises on any non-2xx answer."""
    request = urllib.request.Request(
        f"{url}/api/v1/write",
        data=encode_write_request(series),
        method="POST",
        headers={
            "Content-Encoding": "snappy",
            "Content-Type": "application/x-protobuf",
            "X-Prometheus-Remote-Write-Version": "0.1.0",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        if response.status >= 300:  # pragma: no cover - urlopen raises for these
            raise RuntimeError(f"remote write answered {response.status}")


def _wait_ready(url: str, process: subprocess.Popen[bytes], deadline: float) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"prometheus exited with {process.returncode}")
        with (
            contextlib.suppress(urllib.error.URLError, ConnectionError),
            urllib.request.urlopen(f"{url}/-/ready", timeout=1) as response,
        ):
            if response.status == 200:
                return
        time.sleep(0.02)
    raise RuntimeError("prometheus did not become ready")


@contextlib.contextmanager
def running_prometheus(history: Iterable[Series] = ()) -> Iterator[Prometheus]:
    """Backfill `history` into a temp dir, start Prometheus on it, stop and clean up after."""
    for binary in (PROMETHEUS, PROMTOOL):
        if not Path(binary).exists():
            raise RuntimeError(f"{binary} missing: run `bash scripts/bootstrap.sh`")
    data_dir = Path(tempfile.mkdtemp(prefix="klt-prom-"))
    try:
        history = list(history)
        if history:
            backfill(data_dir / "tsdb", history)
        config = data_dir / "prometheus.yml"
        config.write_text(CONFIG)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        process = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={config}",
                f"--storage.tsdb.path={data_dir / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--web.enable-remote-write-receiver",
                "--log.level=error",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_ready(url, process, time.monotonic() + 15)
            yield Prometheus(url, data_dir, process)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover
                process.kill()
                process.wait()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
