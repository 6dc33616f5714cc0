"""Findings 2 and 3: KeptnConfig only from the Keptn namespace; references stay within the
object's own namespace or the Keptn namespace, so one tenant's provider credentials never serve
another tenant's query."""

from __future__ import annotations

import asyncio
import logging

import pytest

from lifecycle.core import model
from tests.controllers.conftest import Env, OperatorFactory, flush_events
from tests.e2e.flow.conftest import Cluster

from . import manifests as m
from .backends import Received, echo_backend, serve

RULE = "references may name only the object's own namespace or the Keptn namespace"


async def test_foreign_keptnconfig_changes_nothing(
    cluster: Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    await cluster.keptn_config(definitionWaitSeconds=7)
    holder = cluster.operator.holder
    changed = asyncio.Event()
    holder.listeners.append(lambda _: changed.set())
    body = {
        "apiVersion": model.KEPTN_CONFIG.api_version,
        "kind": model.KEPTN_CONFIG.kind,
        "metadata": {"name": "mine", "namespace": cluster.namespace},
        "spec": {"blockDeployment": False, "cloudEventsEndpoint": "http://tenant.example:80/"},
    }
    await cluster.client.create(model.KEPTN_CONFIG, body, cluster.namespace)
    for _ in range(500):  # reconciled: either applied (changed) or refused (logged)
        if changed.is_set() or "KeptnConfig demo/mine ignored" in caplog.text:
            break
        await asyncio.sleep(0.02)
    assert holder.machine.block_deployment is True
    assert holder.cloud_events_endpoint == ""
    assert holder.machine.definition_wait.total_seconds() == 7


async def _tenant_a(env: Env, url: str, *, metric: bool = False) -> None:
    await env.client.create(
        model.NAMESPACE, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}}
    )
    await env.client.create(model.SECRET, m.secret("token", {"password": "A-TOKEN-123456"}), "a")
    await env.client.create(model.KEPTN_METRICS_PROVIDER, m.provider("prom", url, "token"), "a")
    if metric:  # a's own metric: a's token legitimately goes to a's provider
        await env.client.create(model.KEPTN_METRIC, m.metric("m", "prom"), "a")


async def test_cross_namespace_provider_is_refused(
    env: Env, operator_factory: OperatorFactory
) -> None:
    backend = Received()
    async with serve(echo_backend(backend, status=200)) as url:
        await _tenant_a(env, url)
        op = await operator_factory(["analysis"])
        await env.create(model.ANALYSIS_VALUE_TEMPLATE, m.template("t", "prom", provider_ns="a"))
        await env.create(model.ANALYSIS_DEFINITION, m.analysis_definition("ad", "t"))
        await env.create(model.ANALYSIS, m.analysis("an", "ad"))
        done = await env.wait_for(
            model.ANALYSIS, "an", lambda o: (o or {}).get("status", {}).get("state") == "Completed"
        )
        await flush_events(op)
    assert RULE in done["status"]["message"]
    assert "KeptnMetricsProvider a/prom" in done["status"]["message"]
    assert done["status"]["pass"] is False
    assert [h for h in backend.headers if h.get("Authorization")] == []  # a's token never left
    events, _ = await env.client.list(model.EVENT, env.namespace)
    assert any(RULE in e["message"] for e in events if e["involvedObject"]["name"] == "an")


async def test_cross_namespace_metric_fails_the_evaluation(
    env: Env, operator_factory: OperatorFactory
) -> None:
    backend = Received()
    async with serve(echo_backend(backend, status=200)) as url:
        await _tenant_a(env, url, metric=True)
        await operator_factory(["evaluation", "metric"])
        await env.create(
            model.KEPTN_EVALUATION_DEFINITION, m.evaluation_definition("d", "m", metric_ns="a")
        )
        await env.create(model.KEPTN_EVALUATION, m.evaluation("e", "d", retries=5))
        done = await env.wait_for(
            model.KEPTN_EVALUATION,
            "e",
            lambda o: (o or {}).get("status", {}).get("overallStatus") == "Failed",
            within=5.0,  # at once, not after its 5 retries
        )
    assert RULE in done["status"]["evaluationStatus"]["m"]["message"]
    assert done["status"]["retryCount"] == 1
