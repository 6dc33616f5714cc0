"""Log records over OTLP beside the spans (lifecycle/observability/otlplogs.py), received by a
real OTLP/HTTP endpoint decoding with opentelemetry-proto: the reconcile's fields as attributes,
the phase span's trace/span id on the record, the operator's resource; and `klt operator
--otel-url` sending its own lines."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from lifecycle.kube.controller import ObjectKey
from lifecycle.observability.logs import bind_phase, reconciling
from lifecycle.observability.otlplogs import attach
from tests.support.http import serve
from tests.support.paths import REPO_ROOT
from tests.support.waiting import eventually

REPO = REPO_ROOT
TRACE, SPAN = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"


@dataclass
class LogReceiver:
    url: str = ""
    records: list[LogRecord] = field(default_factory=list)
    resources: list[dict[str, str]] = field(default_factory=list)


@pytest.fixture
async def receiver() -> AsyncIterator[LogReceiver]:
    got = LogReceiver()

    async def logs(request: web.Request) -> web.Response:
        message = ExportLogsServiceRequest.FromString(await request.read())
        for resource_logs in message.resource_logs:
            attrs = resource_logs.resource.attributes
            got.resources.append({kv.key: kv.value.string_value for kv in attrs})
            for scope in resource_logs.scope_logs:
                got.records.extend(scope.log_records)
        return web.Response(body=ExportLogsServiceResponse().SerializeToString(),
                            content_type="application/x-protobuf")  # fmt: skip

    app = web.Application()
    app.router.add_post("/v1/logs", logs)
    async with serve(app) as url:
        got.url = url
        yield got


def attributes(record: LogRecord) -> dict[str, str]:
    return {kv.key: kv.value.string_value for kv in record.attributes}


async def test_a_reconciles_records_carry_its_fields_and_phase_span(receiver: LogReceiver) -> None:
    otlp = attach(f"{receiver.url}/v1/traces")
    assert otlp is not None
    log = logging.getLogger("lifecycle.test")
    log.setLevel(logging.INFO)
    try:
        with reconciling("keptnappversion", ObjectKey("demo", "podtato-1")):
            carrier = {"traceparent": f"00-{TRACE}-{SPAN}-01"}
            bind_phase(
                {"status": {"currentPhase": "AppDeploy", "phaseTraceIDs": {"AppDeploy": carrier}}}
            )
            log.info("phase %s started", "AppDeploy")
        log.warning("outside any reconcile")
        logging.getLogger("opentelemetry.sdk.test").warning("not sent: the pipeline's own")
    finally:
        await asyncio.to_thread(otlp.shutdown)
    bodies = {r.body.string_value: r for r in receiver.records}
    assert set(bodies) == {"phase AppDeploy started", "outside any reconcile"}
    inside = bodies["phase AppDeploy started"]
    assert inside.trace_id.hex() == TRACE and inside.span_id.hex() == SPAN
    assert inside.severity_text == "INFO"
    fields = attributes(inside)
    assert fields["keptn.controller"] == "keptnappversion"
    assert fields["k8s.namespace.name"] == "demo" and fields["keptn.object.name"] == "podtato-1"
    assert (
        fields["keptn.object.kind"] == "KeptnAppVersion" and len(fields["keptn.reconcile_id"]) == 16
    )
    outside = bodies["outside any reconcile"]
    assert not outside.trace_id and "keptn.controller" not in attributes(outside)
    assert receiver.resources[0]["service.name"] == "lifecycle-operator"
    assert otlp.handler not in logging.getLogger().handlers


def test_other_targets_attach_nothing(tmp_path: Path) -> None:
    for url in (None, "", "none", "console", f"file://{tmp_path}/spans.jsonl"):
        assert attach(url) is None


async def test_the_operator_sends_its_lines(receiver: LogReceiver, tmp_path: Path) -> None:
    """`klt operator --otel-url URL` against a stopped cluster: its start-up record arrives."""
    with socketless_port() as port:
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(
            "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
            f"clusters: [{{name: c, cluster: {{server: 'http://127.0.0.1:{port}'}}}}]\n"
            "contexts: [{name: c, context: {cluster: c}}]\n"
        )
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "lifecycle.commands.cli", "operator", "--kubeconfig", str(kubeconfig),
        "--otel-url", receiver.url, "--log-format", "json", "--metrics-port", "0", "--probe-port", "0",
        "--webhook-port", "0", "--no-webhooks", "--no-leader-elect",
        cwd=REPO, env={**env, "PYTHONPATH": str(REPO)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        await eventually(lambda: any(r.body.string_value == "operator listening" for r in receiver.records),
                         within=60)  # fmt: skip
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 30)


class socketless_port:
    """A loopback port nothing listens on."""

    def __enter__(self) -> int:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        return None
