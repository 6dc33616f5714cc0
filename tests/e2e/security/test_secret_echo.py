"""Finding 4: a backend that echoes the credentials must not make them leave the operator.

The provider's Secret holds a marker password; the backend (a misconfigured gateway) answers
every query with an error page echoing the request headers. The marker, its base64 and the
Basic-auth form are then grepped for in every output: KeptnMetric/KeptnEvaluation/Analysis
status, Events, CloudEvents, spans, logs and /metrics.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging

import pytest
from prometheus_client import generate_latest

from lifecycle.core import model
from tests.e2e.flow.conftest import Cluster

from . import manifests as m
from .backends import Received, collector, echo_backend, serve

MARKER = "MARKER-s3cr3t-7f1d9c"
USER = "klt-reader"


def forms() -> list[str]:
    pair = f"{USER}:{MARKER}".encode()
    return [MARKER, base64.b64encode(MARKER.encode()).decode(), base64.b64encode(pair).decode()]


def leaks(text: str) -> list[str]:
    return [f for f in forms() if f in text]


async def test_echoed_credentials_never_leave(
    cluster: Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    backend, events = Received(), Received()
    async with serve(echo_backend(backend)) as url, serve(collector(events)) as sink:
        await cluster.keptn_config(cloudEventsEndpoint=sink, definitionWaitSeconds=5)
        c, ns = cluster.client, cluster.namespace
        await c.create(model.SECRET, m.secret("creds", {"user": USER, "password": MARKER}), ns)
        await c.create(model.KEPTN_METRICS_PROVIDER, m.provider("echo", url, "creds"), ns)
        await c.create(model.KEPTN_METRIC, m.metric("m", "echo"), ns)
        await c.create(model.KEPTN_EVALUATION_DEFINITION, m.evaluation_definition("d", "m"), ns)
        await c.create(model.KEPTN_EVALUATION, m.evaluation("e", "d", retries=1), ns)
        await c.create(model.ANALYSIS_VALUE_TEMPLATE, m.template("t", "echo"), ns)
        await c.create(model.ANALYSIS_DEFINITION, m.analysis_definition("ad", "t"), ns)
        await c.create(model.ANALYSIS, m.analysis("a", "ad"), ns)

        metric = await cluster.wait_for(
            model.KEPTN_METRIC, "m", lambda o: bool(o.get("status", {}).get("errMsg"))
        )
        ev = await cluster.wait_for(
            model.KEPTN_EVALUATION,
            "e",
            lambda o: o.get("status", {}).get("overallStatus") == "Failed",
        )
        an = await cluster.wait_for(
            model.ANALYSIS, "a", lambda o: o.get("status", {}).get("state") == "Completed"
        )
        await cluster.wait_events("e", "ReconcileEvaluationFailed")
        for recorder in cluster.operator.context.recorders.values():
            await recorder.flush()
        sender = cluster.operator.cloudevents
        for _ in range(250):  # the queue drains in the background
            if sender.queued == 0:
                break
            await asyncio.sleep(0.02)

    # the backend really got the credentials and echoed them: the test would see a leak
    assert any(MARKER in json.dumps(h) or forms()[2] in json.dumps(h) for h in backend.headers)
    assert "***" in metric["status"]["errMsg"]
    outputs = {
        "KeptnMetric status": json.dumps(metric["status"]),
        "KeptnEvaluation status": json.dumps(ev["status"]),
        "Analysis status": json.dumps(an["status"]),
        "Events": json.dumps(await cluster.events()),
        "CloudEvents": json.dumps(events.bodies),
        "spans": json.dumps([s.to_json() for s in cluster.spans.get_finished_spans()]),
        "logs": caplog.text,
        "metrics": generate_latest(cluster.operator.registry).decode(),
    }
    assert events.bodies, "no CloudEvent was sent: the check below would prove nothing"
    assert {name: leaks(text) for name, text in outputs.items() if leaks(text)} == {}
