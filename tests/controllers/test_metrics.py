"""KeptnMetric controller against the real Prometheus: instant, range+step, timer, errors, JSON."""

from __future__ import annotations

import base64
import time
import uuid
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from lifecycle.controllers.metric import metric_routes
from lifecycle.core import model
from tests.evaluator.promlauncher import Prometheus, Series, push
from tests.support.waiting import eventually

from .conftest import Env, OperatorFactory
from .test_evaluations import keptn_metric, provider

Body = dict[str, Any]


def updated(obj: Body | None) -> bool:
    return bool(obj and (obj.get("status") or {}).get("lastUpdated"))


def gauge(op: Any, namespace: str, name: str) -> float | None:
    value = op.registry.get_sample_value(
        "keptn_metric_value", {"namespace": namespace, "name": name}
    )
    return None if value is None else float(value)


async def test_instant_metric_fetched_exposed_and_served_as_json(
    env: Env, operator_factory: OperatorFactory, prometheus: Prometheus
) -> None:
    op = await operator_factory(["metric"])
    run = uuid.uuid4().hex[:8]
    push(
        prometheus.url,
        [Series({"__name__": "klt_children_live", "run": run}, [(time.time(), 42.5)])],
    )
    await env.create(model.KEPTN_METRICS_PROVIDER, provider("prom", prometheus.url))
    await env.create(model.KEPTN_METRIC, keptn_metric("live", f'klt_children_live{{run="{run}"}}'))
    metric = await env.wait_for(model.KEPTN_METRIC, "live", updated)
    status = metric["status"]
    assert status["value"] == "42.5" and not status.get("errMsg")
    assert b'"resultType":"vector"' in base64.b64decode(status["rawValue"])
    await eventually(lambda: gauge(op, env.namespace, "live") == 42.5)

    app = web.Application()
    app.add_routes(metric_routes(op.ctx))
    async with TestClient(TestServer(app)) as http:
        resp = await http.get(f"/api/v1/metrics/{env.namespace}/live")
        assert resp.status == 200
        assert await resp.json() == {"namespace": env.namespace, "metric": "live", "value": "42.5"}
        missing = await http.get(f"/api/v1/metrics/{env.namespace}/nope")
        assert missing.status == 404


async def test_range_with_step_aggregation_and_stored_results(
    env: Env, operator_factory: OperatorFactory, prometheus: Prometheus
) -> None:
    await operator_factory(["metric"])
    run = uuid.uuid4().hex[:8]
    now = time.time()
    values = [4.0, 8.0, 15.0, 16.0, 23.0]
    samples = [(now - 240 + 60 * i, v) for i, v in enumerate(values)]
    push(prometheus.url, [Series({"__name__": "klt_children_steps", "run": run}, samples)])
    await env.create(model.KEPTN_METRICS_PROVIDER, provider("prom", prometheus.url))
    query = f'klt_children_steps{{run="{run}"}}'
    await env.create(
        model.KEPTN_METRIC,
        keptn_metric(
            "steps-max",
            query,
            range={"interval": "5m", "step": "1m", "aggregation": "max", "storedResults": 2},
        ),
    )
    await env.create(
        model.KEPTN_METRIC,
        keptn_metric(
            "steps-avg", query, range={"interval": "5m", "step": "1m", "aggregation": "avg"}
        ),
    )
    high = await env.wait_for(model.KEPTN_METRIC, "steps-max", updated)
    avg = await env.wait_for(model.KEPTN_METRIC, "steps-avg", updated)
    assert high["status"]["value"] == "23", high["status"]
    assert avg["status"]["value"] == repr(sum(values) / len(values)), avg["status"]
    (stored,) = high["status"]["intervalResults"]
    assert stored["value"] == "23" and stored["range"]["aggregation"] == "max"


async def test_timer_refetches_and_a_failing_provider_errors_only_its_metric(
    env: Env, operator_factory: OperatorFactory, prometheus: Prometheus
) -> None:
    op = await operator_factory(["metric"])
    run = uuid.uuid4().hex[:8]
    push(
        prometheus.url,
        [Series({"__name__": "klt_children_tick", "run": run}, [(time.time(), 1.0)])],
    )
    await env.create(model.KEPTN_METRICS_PROVIDER, provider("prom", prometheus.url))
    await env.create(model.KEPTN_METRICS_PROVIDER, provider("down", "http://127.0.0.1:1"))
    await env.create(
        model.KEPTN_METRIC,
        keptn_metric("broken", "up", provider_name="down", fetchIntervalSeconds=1),
    )
    await env.create(
        model.KEPTN_METRIC,
        keptn_metric("tick", f'klt_children_tick{{run="{run}"}}', fetchIntervalSeconds=1),
    )
    first = await env.wait_for(model.KEPTN_METRIC, "tick", updated)
    broken = await env.wait_for(model.KEPTN_METRIC, "broken", updated)
    assert broken["status"]["errMsg"] and not broken["status"].get("value")
    push(
        prometheus.url,
        [Series({"__name__": "klt_children_tick", "run": run}, [(time.time(), 2.0)])],
    )
    second = await env.wait_for(
        model.KEPTN_METRIC,
        "tick",
        lambda o: bool(
            o
            and o["status"]["lastUpdated"] > first["status"]["lastUpdated"]
            and o["status"].get("value") == "2"
        ),
        within=5,
    )
    assert second["status"]["value"] == "2"
    await eventually(lambda: gauge(op, env.namespace, "tick") == 2.0)
    assert gauge(op, env.namespace, "broken") is None
    assert op.controllers["metric"].errors == 0  # the provider error is the metric's, not ours

    await env.client.delete(model.KEPTN_METRIC, "tick", env.namespace)
    await env.wait_for(model.KEPTN_METRIC, "tick", lambda o: o is None)
    await eventually(lambda: gauge(op, env.namespace, "tick") is None)
