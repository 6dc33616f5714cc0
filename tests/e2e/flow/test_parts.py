"""Pure parts of the operator's wiring: flags, KeptnConfig parsing, app specs, status rows."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

import pytest

from lifecycle.commands.status import age, last_error, version_rows
from lifecycle.controllers.appcreation import desired_app_spec
from lifecycle.controllers.config import apply_config
from lifecycle.core.runtimes import DEFAULT_PYTHON_IMAGE
from lifecycle.flow.context import ConfigHolder
from lifecycle.operator.settings import add_arguments, from_args


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


def test_flags_beat_environment_beats_defaults() -> None:
    env = {"POD_NAMESPACE": "klt", "PROMOTION_TASKS_ENABLED": "true", "POD_NAME": "op-1"}
    s = from_args(parse(), env)
    assert s.operator.keptn_namespace == "klt"
    assert s.operator.promotion_tasks_enabled is True
    assert s.leader_identity == "op-1"
    assert s.leader_elect is True and s.webhooks is True
    s = from_args(
        parse("--keptn-namespace", "other", "--no-promotion-tasks", "--no-leader-elect"), env
    )
    assert s.operator.keptn_namespace == "other"
    assert s.operator.promotion_tasks_enabled is False
    assert s.leader_elect is False
    assert from_args(parse(), {}).operator.keptn_namespace == "keptn-system"


def test_runner_images_from_environment() -> None:
    env = {"FUNCTION_RUNNER_IMAGE": "my/deno-runtime:9", "PYTHON_RUNNER_IMAGE": ""}
    s = from_args(parse(), env).operator
    assert s.deno_runner_image == "my/deno-runtime:9"
    assert s.python_runner_image == DEFAULT_PYTHON_IMAGE


def test_span_target_and_dev_bind_address() -> None:
    s = from_args(parse("--trace-file", "/tmp/spans.jsonl", "--otel-url", "collector:4317"), {})
    assert s.span_target == "file:///tmp/spans.jsonl"  # the file wins
    assert from_args(parse("--otel-url", "collector:4317"), {}).span_target == "collector:4317"
    assert from_args(parse(), {}).span_target is None  # follow the KeptnConfig
    dev = from_args(parse("--webhook-url-host", "127.0.0.1", "--webhook-port", "0"), {})
    assert dev.server.host == "127.0.0.1" and dev.server.webhook_port == 0


def test_keptn_config_becomes_machine_settings_and_notifies() -> None:
    holder = ConfigHolder()
    seen: list[str] = []
    holder.listeners.append(lambda h: seen.append(h.cloud_events_endpoint))
    config = {
        "spec": {
            "blockDeployment": False,
            "observabilityTimeout": "1m30s",
            "definitionWaitSeconds": 2,
            "cloudEventsEndpoint": "http://sink/events",
            "OTelCollectorUrl": "otel:4317",
            "keptnAppCreationRequestTimeoutSeconds": 5,
        }
    }
    apply_config(holder, config, promotion_tasks_enabled=True)
    m = holder.machine
    assert (m.block_deployment, m.observability_timeout, m.definition_wait) == (
        False,
        timedelta(seconds=90),
        timedelta(seconds=2),
    )
    assert m.promotion_tasks_enabled is True
    assert holder.otel_collector_url == "otel:4317"
    assert holder.app_creation_request_timeout_seconds == 5
    assert seen == ["http://sink/events"]
    apply_config(holder, {"spec": {"observabilityTimeout": "soon"}}, promotion_tasks_enabled=False)
    assert holder.machine.observability_timeout == timedelta(minutes=5)  # bad value: default
    assert holder.machine.block_deployment is True
    assert seen[-1] == ""


def wl(name: str, version: str) -> dict[str, object]:
    return {"metadata": {"name": name}, "spec": {"version": version}}


def test_auto_created_app_specs() -> None:
    single = desired_app_spec("cart", [wl("cart-cart", "1.0")])
    assert single == {
        "version": "1.0",
        "revision": 1,
        "workloads": [{"name": "cart", "version": "1.0"}],
    }
    multi = desired_app_spec("shop", [wl("shop-ui", "2"), wl("shop-api", "1")])
    assert multi["workloads"] == [{"name": "api", "version": "1"}, {"name": "ui", "version": "2"}]
    assert len(multi["version"]) == 10
    same = desired_app_spec("shop", [wl("shop-api", "1"), wl("shop-ui", "2")])
    assert same["version"] == multi["version"]  # order of discovery does not matter
    bumped = desired_app_spec("shop", [wl("shop-api", "1"), wl("shop-ui", "3")])
    assert bumped["version"] != multi["version"]


@pytest.mark.parametrize(
    ("seconds", "text"), [(5, "5s"), (61, "1m"), (7200, "2h"), (3 * 86400 + 5, "3d")]
)
def test_age(seconds: int, text: str) -> None:
    now = datetime(2026, 1, 2, tzinfo=UTC)
    created = (now - timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert age(created, now) == text


def test_last_error_prefers_the_latest_failed_phase() -> None:
    status = {
        "phaseTraceIDs": {
            "WorkloadPreDeployTasks": {"endTime": "2026-01-01T00:00:01Z", "reason": "first"},
            "WorkloadDeploy": {"endTime": "2026-01-01T00:00:09Z", "reason": "timeout"},
            "root": {"endTime": "2026-01-01T00:00:09Z"},
        }
    }
    assert last_error(status) == "timeout"
    items = {"preDeploymentTaskStatus": [{"name": "pre-x-1", "status": "Failed"}]}
    assert last_error(items) == "pre-x-1: failed"  # an ItemStatus has no message or reason
    assert last_error({}) == ""


def test_version_rows() -> None:
    now = datetime(2026, 1, 1, 0, 1, tzinfo=UTC)
    av = {
        "kind": "KeptnAppVersion",
        "metadata": {
            "name": "a-1-6b86b273",
            "namespace": "n",
            "creationTimestamp": "2026-01-01T00:00:00Z",
        },
        "spec": {"appName": "a", "version": "1"},
        "status": {"currentPhase": "Completed", "status": "Succeeded"},
    }
    wv = {
        "kind": "KeptnWorkloadVersion",
        "metadata": {
            "name": "a-w-1",
            "namespace": "n",
            "creationTimestamp": "2026-01-01T00:00:30Z",
        },
        "spec": {"app": "a", "workloadName": "a-w", "version": "1"},
        "status": {},
    }
    rows = version_rows([wv, av], now)
    assert [(r.kind, r.name, r.state, r.age) for r in rows] == [
        ("AppVersion", "a-1-6b86b273", "Succeeded", "1m"),
        ("WorkloadVersion", "a-w-1", "Pending", "30s"),
    ]
    assert rows[1].workload == "a-w"
