"""Fixtures of the release view's browser tests: `klt demo --keep`, `klt ui` and headless Chromium.

One demo per module (its three versions are what the pages show), one `klt ui` process against
its kubeconfig, and Debian's Chromium driven by Playwright (scripts/bootstrap.sh installs both).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.support.paths import REPO_ROOT

REPO = REPO_ROOT
KLT = [sys.executable, "-m", "lifecycle.commands.cli"]
CHROMIUM = "/usr/bin/chromium"
# As the machine's notes advise: no background networking on a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "140", "TERM": "dumb"}


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _read_until(proc: subprocess.Popen[str], marker: str, seconds: float) -> str:
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if marker in line:
            return "".join(lines)
    raise AssertionError(f"no {marker!r} within {seconds} s:\n" + "".join(lines)[-3000:])


@dataclass(frozen=True)
class Demo:
    kubeconfig: Path
    output: str


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """A finished `klt demo --keep` (which serves the release view on a free port)."""
    out = tmp_path_factory.mktemp("demo") / "out"
    proc = subprocess.Popen(
        [*KLT, "demo", "--keep", "--out", str(out), "--width", "140", "--ui-port", "0"],
        cwd=out.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env(),
    )
    try:
        text = _read_until(proc, "still running (--keep)", 150)
        yield Demo(out / "kubeconfig", text)
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def ui(demo: Demo) -> Iterator[str]:
    """`klt ui --port 0` against the demo; yields the page's base URL (no trailing slash)."""
    proc = subprocess.Popen(
        [*KLT, "ui", "--kubeconfig", str(demo.kubeconfig), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env(),
    )
    try:
        line = _read_until(proc, "klt ui: serving", 60).splitlines()[-1]
        yield line.split("serving ", 1)[1].split()[0].rstrip("/")
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()


def kubectl(kubeconfig: Path, *argv: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        ["kubectl", "--kubeconfig", str(kubeconfig), *argv],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def kubectl_json(kubeconfig: Path, *argv: str) -> Any:
    return json.loads(kubectl(kubeconfig, *argv, "-o", "json"))
