"""`klt operator` as a subprocess the reliability tests can SIGKILL and restart.

Role: start `python -m lifecycle.commands.cli operator` against a sandbox's kubeconfig with fixed ports
(so the webhook URL it registers stays valid across restarts of the same replica), a Lease
identity of our choosing, spans into a JSON-lines file and logs appended to one file per
replica; poll its /readyz; kill it with SIGKILL or stop it with SIGTERM.
Invariant: only processes this object started are ever signalled, by their pid.
Must not: import anything of the operator (the point is a separate process).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import aiohttp

from lifecycle.commands.promlocal import free_port

__all__ = ["OperatorProcess"]


class OperatorProcess:
    """One replica of the operator; `start()` again after `kill()` is a container restart."""

    def __init__(
        self,
        *,
        kubeconfig: Path,
        work_dir: Path,
        keptn_namespace: str,
        identity: str,
        leader_elect: bool = True,
        webhooks: bool = True,
        trace_file: Path | None = None,
        lease: tuple[float, float, float] | None = None,
        flags: Callable[[OperatorProcess], list[str]] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        """``lease``: (lease duration, renew deadline, retry period) in seconds, else the defaults.

        ``flags``: build the operator's flags from this object (its ports, ``work_dir``) instead
        of the defaults below (tests/e2e/cluster runs deploy/'s own args); ``env`` is added to the
        process's environment.
        """
        self.identity = identity
        self.webhook_port, self.metrics_port, self.probe_port = (free_port() for _ in range(3))
        self.work_dir = work_dir
        self.env = {**os.environ, **env} if env is not None else None
        work_dir.mkdir(parents=True, exist_ok=True)
        self.args = [
            sys.executable, "-m", "lifecycle.commands.cli", "operator",
            "--kubeconfig", str(kubeconfig),
            "--keptn-namespace", keptn_namespace,
            "--webhook-url-host", "127.0.0.1",
            "--webhook-port", str(self.webhook_port),
            "--metrics-port", str(self.metrics_port),
            "--probe-port", str(self.probe_port),
            "--cert-dir", str(work_dir / "certs"),
            "--leader-identity", identity,
            "--log-level", "WARNING",
            "--leader-elect" if leader_elect else "--no-leader-elect",
        ]  # fmt: skip
        if flags is not None:
            self.args = [*self.args[:4], *flags(self)]
        if not webhooks:
            self.args.append("--no-webhooks")
        if trace_file is not None:
            self.args += ["--trace-file", str(trace_file)]
        if lease is not None:
            duration, deadline, period = lease
            self.args += ["--lease-duration", str(duration), "--renew-deadline", str(deadline)]
            self.args += ["--retry-period", str(period)]
        self.log = work_dir / f"{identity}.log"
        self.proc: asyncio.subprocess.Process | None = None
        self.starts = 0
        self.kills = 0

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                *self.args, stdout=out, stderr=out, env=self.env
            )
        self.starts += 1

    async def wait_ready(self, within: float = 30.0) -> None:
        """Poll /readyz of the current process: caches synced, webhooks registered."""
        url = f"http://127.0.0.1:{self.probe_port}/readyz"
        async with aiohttp.ClientSession() as http, asyncio.timeout(within):
            while True:
                if not self.running:
                    raise RuntimeError(f"operator {self.identity} exited; see {self.log}")
                try:
                    async with http.get(url) as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)

    async def kill(self) -> None:
        """SIGKILL: no cleanup, no Lease release, queued Events and spans are lost."""
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()
        self.kills += 1

    def pause(self) -> None:
        """SIGSTOP: a process that stops answering but holds its sockets (a hung node, a GC
        pause, a VM migration) and may come back with stale in-memory beliefs."""
        assert self.proc is not None and self.proc.returncode is None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    async def stop(self) -> None:
        """SIGTERM and wait (SIGKILL after 10 s)."""
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.send_signal(signal.SIGCONT)  # a paused process cannot handle SIGTERM
        self.proc.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(10):
                await self.proc.wait()
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()

    def log_tail(self, lines: int = 40) -> str:
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
