"""Finding 7: nothing waits without saying why, within seconds.

A Secret value with a trailing newline (the `--from-file` slip) is trimmed and works; one with a
newline inside is refused naming the Secret and key (never the value); an Analysis whose
definition or template is missing says so; a task whose Secret or ConfigMap is missing says so
at once (not at its deadline) and starts when it appears.
"""

from __future__ import annotations

import time

from lifecycle.core import model
from tests.controllers.conftest import Env, OperatorFactory, flush_events
from tests.controllers.test_tasks import PY_CODE, definition, keptn_task
from tests.evaluator.promlauncher import Prometheus, Series, push

from . import manifests as m
from .backends import Received, echo_backend, serve

SOON = 5.0  # seconds within which a waiting object must say why


def _status(obj: dict | None) -> dict:
    return (obj or {}).get("status") or {}


async def _event_reasons(env: Env, name: str) -> list[str]:
    events, _ = await env.client.list(model.EVENT, env.namespace)
    return [e["reason"] for e in events if e["involvedObject"]["name"] == name]


async def test_secret_with_trailing_newline(
    env: Env, operator_factory: OperatorFactory, prometheus: Prometheus
) -> None:
    push(prometheus.url, [Series({"__name__": "klt_stuck"}, [(time.time(), 3.0)])])
    op = await operator_factory(["metric", "evaluation"])
    await env.create(model.SECRET, m.secret("slip", {"user": "u", "password": "tok-123456\n"}))
    await env.create(model.SECRET, m.secret("inner", {"user": "u", "password": "tok\n123456"}))
    await env.create(model.KEPTN_METRICS_PROVIDER, m.provider("slip", prometheus.url, "slip"))
    await env.create(model.KEPTN_METRICS_PROVIDER, m.provider("inner", prometheus.url, "inner"))
    await env.create(model.KEPTN_METRIC, m.metric("ok", "slip", "klt_stuck"))
    await env.create(model.KEPTN_METRIC, m.metric("bad", "inner", "klt_stuck"))
    await env.create(model.KEPTN_EVALUATION_DEFINITION, m.evaluation_definition("d", "bad"))
    await env.create(model.KEPTN_EVALUATION, m.evaluation("e", "d", retries=1))
    ok = await env.wait_for(model.KEPTN_METRIC, "ok", lambda o: bool(_status(o).get("value")), SOON)
    assert _status(ok)["value"] == "3" and not _status(ok).get("errMsg")
    bad = await env.wait_for(
        model.KEPTN_METRIC, "bad", lambda o: bool(_status(o).get("errMsg")), SOON
    )
    message = _status(bad)["errMsg"]
    assert "Secret inner key 'password'" in message and "123456" not in message
    ev = await env.wait_for(
        model.KEPTN_EVALUATION, "e", lambda o: _status(o).get("overallStatus") == "Failed", SOON
    )
    assert "Secret inner" in _status(ev)["evaluationStatus"]["bad"]["message"]
    await flush_events(op)
    assert "MetricFetchFailed" in await _event_reasons(env, "bad")


async def test_token_with_trailing_newline_reaches_the_backend(
    env: Env, operator_factory: OperatorFactory
) -> None:
    """A header token with a newline made the HTTP client raise outside the provider's errors."""
    backend = Received()
    async with serve(echo_backend(backend)) as url:
        await operator_factory(["metric"])
        await env.create(model.SECRET, m.secret("dt", {"token": "dt0c01.TOKEN-123456\n"}))
        body = m.provider("dt", url, "dt", key="token")
        body["spec"]["type"] = "dynatrace"
        await env.create(model.KEPTN_METRICS_PROVIDER, body)
        await env.create(model.KEPTN_METRIC, m.metric("dtm", "dt", "builtin:service.response.time"))
        done = await env.wait_for(
            model.KEPTN_METRIC, "dtm", lambda o: bool(_status(o).get("errMsg")), SOON
        )
    assert "HTTP 400" in _status(done)["errMsg"]  # the backend was reached: the token was usable
    assert [h["Authorization"] for h in backend.headers][:1] == ["Api-Token dt0c01.TOKEN-123456"]


async def test_analysis_with_missing_definition_or_template(
    env: Env, operator_factory: OperatorFactory
) -> None:
    op = await operator_factory(["analysis"])
    await env.create(model.ANALYSIS, m.analysis("no-def", "nope"))
    await env.create(model.ANALYSIS_DEFINITION, m.analysis_definition("ad", "missing-template"))
    await env.create(model.ANALYSIS, m.analysis("no-template", "ad"))
    for name, text in (
        ("no-def", "AnalysisDefinition demo/nope not found"),
        ("no-template", "AnalysisValueTemplate demo/missing-template not found"),
    ):
        done = await env.wait_for(
            model.ANALYSIS, name, lambda o, t=text: t in str(_status(o).get("message")), SOON
        )
        assert _status(done)["state"] == "Progressing"
    await flush_events(op)
    assert "AnalysisWaiting" in await _event_reasons(env, "no-def")
    assert "AnalysisWaiting" in await _event_reasons(env, "no-template")


async def test_task_with_missing_secret_or_configmap(
    env: Env, operator_factory: OperatorFactory
) -> None:
    op = await operator_factory(["task", "taskdefinition"])
    await env.create(
        model.KEPTN_TASK_DEFINITION,
        definition("needs-secret", "python", PY_CODE, secureParameters={"secret": "task-creds"}),
    )
    await env.create(
        model.KEPTN_TASK_DEFINITION,
        {
            "apiVersion": model.KEPTN_TASK_DEFINITION.api_version,
            "kind": "KeptnTaskDefinition",
            "metadata": {"name": "needs-cm"},
            "spec": {"python": {"configMapRef": {"name": "task-code"}}},
        },
    )
    await env.create(model.KEPTN_TASK, keptn_task("t-secret", "needs-secret"))
    await env.create(model.KEPTN_TASK, keptn_task("t-cm", "needs-cm"))
    for name, reason, what in (
        ("t-secret", "SecretNotFound", "Secret demo/task-creds"),
        ("t-cm", "ConfigMapNotFound", "ConfigMap demo/task-code"),
    ):
        task = await env.wait_for(
            model.KEPTN_TASK, name, lambda o, r=reason: _status(o).get("reason") == r, SOON
        )
        assert what in _status(task)["message"]
    await flush_events(op)
    assert "SecretNotFound" in await _event_reasons(env, "t-secret")
    # the Secret appears: the task starts (it waited, it did not fail)
    await env.secret("task-creds", {"SECURE_DATA": "s"})
    started = await env.wait_for(
        model.KEPTN_TASK, "t-secret", lambda o: bool(_status(o).get("jobName")), SOON
    )
    assert _status(started)["status"] in ("Progressing", "Succeeded")
