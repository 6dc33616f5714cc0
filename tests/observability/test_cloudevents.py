"""CloudEvents: type mapping, wire format parsed by the SDK, retries while the endpoint is down."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from cloudevents.core.bindings import http as ce_http
from cloudevents.core.bindings.http import HTTPMessage
from cloudevents.core.formats.json import JSONFormat
from prometheus_client import CollectorRegistry

from lifecycle.commands.promlocal import free_port
from lifecycle.observability.cloudevents import (
    CloudEventSender,
    RetryPolicy,
    event_type,
    reason_for_type,
)
from lifecycle.observability.telemetry import Telemetry
from tests.observability.samples import app_flow
from tests.support.waiting import eventually

FAST = RetryPolicy(initial_backoff=0.02, max_backoff=0.1, max_attempts=200, request_timeout=2)

FLOW_REASONS = [
    f"{phase}{outcome}"
    for phase in (
        "AppPreDeployTasks", "AppPreDeployEvaluations", "AppDeploy", "AppPostDeployTasks",
        "AppPostDeployEvaluations", "PromotionTasks", "WorkloadPreDeployTasks",
        "WorkloadPreDeployEvaluations", "WorkloadDeploy", "WorkloadPostDeployTasks",
        "WorkloadPostDeployEvaluations",
    )
    for outcome in ("Started", "Succeeded", "Errored")
]  # fmt: skip
OTHER_REASONS = [
    "CreateTask", "CreateEvaluation", "ReconcileTask", "ReconcileEvaluation", "CreateApp",
    "CreateAppVersion", "CreateWorkload", "CreateWorkloadInstance", "Completed", "Deprecated",
    "WorkloadDeployReconcile", "WorkloadDeployReconcileErrored", "ReconcileEvaluationFailed",
    "CreateTaskNotFound", "AppCompletedFinished",
]  # fmt: skip


def test_type_is_reverse_dns_one_to_one_and_invertible() -> None:
    reasons = FLOW_REASONS + OTHER_REASONS
    types = [event_type(reason) for reason in reasons]
    assert len(set(types)) == len(reasons)
    assert all(" " not in t and t.startswith("sh.keptn.lifecycle.") for t in types)
    assert [reason_for_type(t) for t in types] == reasons
    assert (
        event_type("AppPreDeployTasksStarted") == "sh.keptn.lifecycle.app-pre-deploy-tasks.started"
    )
    assert (
        event_type("WorkloadDeployReconcileErrored")
        == "sh.keptn.lifecycle.workload-deploy.reconcile-errored"
    )
    assert event_type("Completed") == "sh.keptn.lifecycle.completed"


def k8s_event(reason: str, obj: dict[str, Any], n: int) -> dict[str, Any]:
    return {
        "metadata": {
            "name": f"{obj['metadata']['name']}.{n}",
            "namespace": obj["metadata"]["namespace"],
            "uid": f"event-uid-{n}",
            "annotations": {"phase": "AppPreDeployTasks", "appVersion": "0.1.0"},
        },
        "involvedObject": {
            "apiVersion": obj["apiVersion"],
            "kind": obj["kind"],
            "name": obj["metadata"]["name"],
            "namespace": obj["metadata"]["namespace"],
        },
        "reason": reason,
        "message": f"App Pre-Deployment Tasks: has started / Namespace: demo, Name: {obj['metadata']['name']}, Version: 0.1.0",
        "type": "Normal",
        "lastTimestamp": "2026-01-02T03:04:05Z",
    }


class Endpoint:
    def __init__(self) -> None:
        self.events: list[Any] = []
        self.status = 202
        self.runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        message = HTTPMessage(headers=dict(request.headers), body=await request.read())
        self.events.append(ce_http.from_http(message, JSONFormat()))
        return web.Response(status=self.status)

    async def start(self, port: int = 0) -> int:
        app = web.Application()
        app.router.add_post("/events", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", port)
        await site.start()
        return int(self.runner.addresses[0][1])

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


@pytest.fixture
async def endpoint() -> AsyncIterator[Endpoint]:
    server = Endpoint()
    yield server
    await server.stop()


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


async def test_events_arrive_and_parse_with_the_sdk(endpoint: Endpoint) -> None:
    port = await endpoint.start()
    registry = CollectorRegistry()
    sender = CloudEventSender(
        f"http://127.0.0.1:{port}/events", Telemetry(registry, process_metrics=False)
    )
    await sender.start()
    av = app_flow().app_version
    assert sender.submit(k8s_event("AppPreDeployTasksStarted", av, 1), av)
    await sender.stop()
    [event] = endpoint.events
    assert event.get_type() == "sh.keptn.lifecycle.app-pre-deploy-tasks.started"
    assert event.get_source() == "keptn.sh"  # KLT's source
    assert event.get_id() == "event-uid-1"
    attributes = event.get_attributes()
    assert attributes["subject"] == "namespaces/demo/keptnappversions/podtato-0.1.0-6b86b273"
    assert (
        attributes["traceparent"]
        == av["status"]["phaseTraceIDs"]["AppPreDeployTasks"]["traceparent"]
    )
    data = event.get_data()
    assert data["resource"] == {
        "group": "lifecycle.keptn.sh", "version": "v1", "kind": "KeptnAppVersion",
        "name": "podtato-0.1.0-6b86b273", "namespace": "demo",
    }  # fmt: skip
    assert data["version"] == "0.1.0" and data["type"] == "Normal"
    assert data["message"].startswith("App Pre-Deployment Tasks: has started")
    assert sample(registry, "keptn_cloudevents_sent_total") == 1


async def test_endpoint_down_then_back_loses_and_doubles_nothing(endpoint: Endpoint) -> None:
    port = free_port()
    registry = CollectorRegistry()
    sender = CloudEventSender(
        f"http://127.0.0.1:{port}/events", Telemetry(registry, process_metrics=False),
        queue_size=50, retry=FAST,
    )  # fmt: skip
    await sender.start()
    av = app_flow().app_version
    for n in range(30):
        assert sender.submit(k8s_event("AppPreDeployTasksStarted", av, n), av)
    await eventually(lambda: sample(registry, "keptn_cloudevents_failed_total") >= 3, 10)
    assert endpoint.events == []
    await endpoint.start(port)
    await eventually(lambda: len(endpoint.events) == 30, 10)
    await sender.stop()
    assert [e.get_id() for e in endpoint.events] == [f"event-uid-{n}" for n in range(30)]
    assert sample(registry, "keptn_cloudevents_sent_total") == 30
    assert sample(registry, "keptn_cloudevents_dropped_total", reason="retries_exhausted") == 0


async def test_full_queue_drops_and_counts_without_blocking(endpoint: Endpoint) -> None:
    port = await endpoint.start()
    registry = CollectorRegistry()
    sender = CloudEventSender(
        f"http://127.0.0.1:{port}/events", Telemetry(registry, process_metrics=False), queue_size=3
    )
    av = app_flow().app_version
    accepted = [sender.submit(k8s_event("AppDeployStarted", av, n), av) for n in range(5)]
    assert accepted == [True, True, True, False, False]
    assert sample(registry, "keptn_cloudevents_dropped_total", reason="queue_full") == 2
    assert sample(registry, "keptn_cloudevents_queue_length") == 3
    await sender.start()
    await sender.stop()
    assert [e.get_id() for e in endpoint.events] == ["event-uid-0", "event-uid-1", "event-uid-2"]


async def test_rejected_event_is_not_retried_and_endpoint_can_change(endpoint: Endpoint) -> None:
    port = await endpoint.start()
    endpoint.status = 400
    registry = CollectorRegistry()
    sender = CloudEventSender(None, Telemetry(registry, process_metrics=False), retry=FAST)
    av = app_flow().app_version
    assert not sender.submit(k8s_event("AppDeployStarted", av, 0), av)  # disabled: nothing queued
    sender.set_endpoint(f"http://127.0.0.1:{port}/events")
    await sender.start()
    assert sender.submit(k8s_event("AppDeployStarted", av, 1), av)
    await sender.stop()
    assert len(endpoint.events) == 1
    assert sample(registry, "keptn_cloudevents_dropped_total", reason="rejected") == 1
    assert sample(registry, "keptn_cloudevents_sent_total") == 0
