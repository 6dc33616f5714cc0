"""What `klt demo` runs: the sandbox, the operator and Prometheus, started together, stopped together.

Role: `Stack.start(out_dir)` starts, in this order, the sandbox (API server + simulated node, in
this process, kubeconfig written to `<out>/kubeconfig`), the operator (in this process: webhooks
registered by URL on loopback, spans to `<out>/spans.jsonl`, logs to `<out>/operator.log`) and
Debian's Prometheus (scraping the operator's /metrics, remote-write receiver on). `apply(path)`
applies a manifest file with kubectl (`/usr/bin/kubectl --kubeconfig ...`), or through the API
when kubectl is missing. `stop()` stops everything in reverse order; every part is stopped even
if another one fails to, so no process outlives the demo.

Invariants: everything listens on 127.0.0.1 only. Must not: hold scenario logic (scenario.py) or
draw anything (view.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from pathlib import Path

import yaml

from lifecycle.commands.promlocal import LocalPrometheus
from lifecycle.core import model
from lifecycle.flow.context import OperatorSettings
from lifecycle.kube import AlreadyExists, KubeClient
from lifecycle.operator.root import Operator
from lifecycle.operator.server import ServerConfig
from lifecycle.operator.settings import RunSettings
from sandbox.node import NodeSettings
from sandbox.server import Sandbox

__all__ = ["KUBECTL", "ApplyError", "Stack", "StackPaths"]

KUBECTL = "/usr/bin/kubectl"
KEPTN_NAMESPACE = "keptn-system"


class ApplyError(RuntimeError):
    """kubectl (or the API fallback) refused a manifest."""


class StackPaths:
    """Where the demo leaves what a user may look at afterwards."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.kubeconfig = out / "kubeconfig"
        self.spans = out / "spans.jsonl"
        self.operator_log = out / "operator.log"
        self.metrics = out / "metrics.txt"
        self.manifests = out / "manifests"


def _prepare_out(paths: StackPaths) -> None:
    paths.out.mkdir(parents=True, exist_ok=True)
    for stale in (paths.spans, paths.operator_log, paths.metrics):
        stale.unlink(missing_ok=True)
    shutil.rmtree(paths.out / "prometheus", ignore_errors=True)
    shutil.rmtree(paths.out / "node", ignore_errors=True)


def _log_to_file(path: Path) -> logging.Handler:
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    return handler


class Stack:
    """The running parts; build with `await Stack.start(out)`."""

    def __init__(self, paths: StackPaths, *, use_kubectl: bool) -> None:
        self.paths = paths
        self.use_kubectl = use_kubectl
        self.sandbox: Sandbox | None = None
        self.operator: Operator | None = None
        self.prometheus: LocalPrometheus | None = None
        self.client: KubeClient | None = None
        self._log_handler: logging.Handler | None = None

    @classmethod
    async def start(
        cls, out: Path, *, pod_start_delay: float = 0.3, use_kubectl: bool | None = None
    ) -> Stack:
        """Start sandbox, operator and Prometheus; on any failure stop what started and raise."""
        paths = StackPaths(await asyncio.to_thread(out.resolve))
        await asyncio.to_thread(_prepare_out, paths)
        found = await asyncio.to_thread(Path(KUBECTL).exists)
        kubectl = found if use_kubectl is None else use_kubectl
        stack = cls(paths, use_kubectl=kubectl)
        try:
            await stack._start(pod_start_delay)
        except BaseException:
            await stack.stop()
            raise
        return stack

    async def _start(self, pod_start_delay: float) -> None:
        paths = self.paths
        self._log_handler = await asyncio.to_thread(_log_to_file, paths.operator_log)
        node = NodeSettings(pod_start_delay=pod_start_delay, work_dir=paths.out / "node")
        self.sandbox = await Sandbox.start(kubeconfig_path=paths.kubeconfig, node_settings=node)
        self.client = KubeClient.for_url(self.sandbox.url, token=self.sandbox.token)
        settings = RunSettings(
            kubeconfig=str(paths.kubeconfig),
            webhook_url_host="127.0.0.1",
            server=ServerConfig(host="127.0.0.1", webhook_port=0, metrics_port=0, probe_port=0),
            cert_dir=paths.out / "certs",
            operator=OperatorSettings(keptn_namespace=KEPTN_NAMESPACE),
            trace_file=str(paths.spans),
        )
        self.operator = Operator(settings)
        await self.operator.start()
        async with asyncio.timeout(30):
            await self.operator.wait_ready()
            await self.operator.wait_leading()
        metrics = f"127.0.0.1:{self.operator.ports['metrics']}"
        self.prometheus = await LocalPrometheus.start(paths.out / "prometheus", scrape=[metrics])

    @property
    def metrics_url(self) -> str:
        assert self.operator is not None
        return f"http://127.0.0.1:{self.operator.ports['metrics']}/metrics"

    async def apply(self, path: Path) -> str:
        """Apply a manifest file; returns what kubectl printed (or a summary of API calls)."""
        if self.use_kubectl:
            return await self.kubectl("apply", "-f", str(path))
        return await self._apply_api(path)

    async def kubectl(self, *argv: str) -> str:
        """Run kubectl against the sandbox; its output text."""
        proc = await asyncio.create_subprocess_exec(
            KUBECTL,
            "--kubeconfig",
            str(self.paths.kubeconfig),
            "--cache-dir",
            str(self.paths.out / "kube-cache"),
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate()
        if proc.returncode != 0:
            raise ApplyError(f"kubectl {' '.join(argv)}: {err.decode(errors='replace').strip()}")
        return out.decode(errors="replace")

    async def _apply_api(self, path: Path) -> str:
        assert self.client is not None
        text = await asyncio.to_thread(path.read_text)
        lines = []
        for doc in yaml.safe_load_all(text):
            if not isinstance(doc, dict):
                continue
            kind = model.kind_by_api_version(doc["apiVersion"], doc["kind"])
            name = doc["metadata"]["name"]
            if kind is None:  # e.g. a Service: nothing in the flow reads it
                lines.append(f"{doc['kind'].lower()}/{name} skipped (no kubectl)")
                continue
            namespace = doc["metadata"].get("namespace") if kind.namespaced else None
            try:
                await self.client.create(kind, doc, namespace)
                lines.append(f"{kind.kind.lower()}/{name} created")
            except AlreadyExists:
                current = await self.client.get(kind, name, namespace)
                doc["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
                await self.client.replace(kind, doc)
                lines.append(f"{kind.kind.lower()}/{name} configured")
        return "\n".join(lines) + "\n"

    async def stop(self) -> None:
        """Stop Prometheus, the operator and the sandbox (each even if another fails)."""
        parts = (self.prometheus, self.operator, self.client, self.sandbox)
        self.prometheus = self.operator = self.client = self.sandbox = None
        for part in parts:
            if part is not None:
                with contextlib.suppress(Exception):
                    await (part.close() if isinstance(part, KubeClient) else part.stop())
        if self._log_handler is not None:
            logging.getLogger().removeHandler(self._log_handler)
            self._log_handler.close()
            self._log_handler = None
