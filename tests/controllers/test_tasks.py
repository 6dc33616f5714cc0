"""KeptnTaskDefinition and KeptnTask controllers against the sandbox with the real runners."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from lifecycle.core import model
from lifecycle.core.runtimes import RuntimeImages, build_job, job_name
from tests.support.waiting import eventually

from .conftest import Env, OperatorFactory, flush_events

Body = dict[str, Any]
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

PY_CODE = """
import json, os, sys
data = json.loads(os.environ.get("DATA", "{}"))
ctx = json.loads(os.environ["KEPTN_CONTEXT"])
print("DATA", json.dumps(data, sort_keys=True))
print("SECURE", os.environ.get("SECURE_DATA", ""))
print("CTX", ctx["workloadName"], ctx["metadata"]["traceparent"])
sys.exit(int(data.get("exit", "0")))
"""

DENO_CODE = """
const data = JSON.parse(Deno.env.get("DATA") ?? "{}");
const ctx = JSON.parse(Deno.env.get("KEPTN_CONTEXT") ?? "{}");
console.log(`deno ${data.user} ${Deno.env.get("SECURE_DATA")} ${ctx.appName} ${ctx.taskType}`);
"""


def definition(name: str, runtime: str, code: str, **spec: Any) -> Body:
    runtime_spec: Body = {"inline": {"code": code}}
    for key in ("parameters", "secureParameters"):
        if key in spec:
            runtime_spec[key] = spec.pop(key)
    return {
        "apiVersion": model.KEPTN_TASK_DEFINITION.api_version,
        "kind": "KeptnTaskDefinition",
        "metadata": {"name": name},
        "spec": {runtime: runtime_spec, **spec},
    }


def keptn_task(name: str, definition_name: str, **spec: Any) -> Body:
    return {
        "apiVersion": model.KEPTN_TASK.api_version,
        "kind": "KeptnTask",
        "metadata": {"name": name},
        "spec": {
            "taskDefinition": definition_name,
            "context": {
                "appName": "shop",
                "appVersion": "1.0",
                "workloadName": "shop-cart",
                "workloadVersion": "0.4",
                "taskType": "pre",
                "objectType": "Workload",
                "metadata": {"commit-id": "1234", "traceparent": TRACEPARENT},
            },
            "checkType": "pre",
            **spec,
        },
    }


def status_is(*states: str) -> Any:
    return lambda obj: obj is not None and (obj.get("status") or {}).get("status") in states


async def pod_log(env: Env, job: str) -> str:
    pods, _ = await env.client.list(model.POD, env.namespace, label_selector=f"job-name={job}")
    texts = []
    headers = {"Authorization": f"Bearer {env.sandbox.token}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        for pod in pods:
            path = env.client.path(model.POD, env.namespace, pod["metadata"]["name"], "log")
            async with http.get(env.sandbox.url + path) as resp:
                assert resp.status == 200, await resp.text()
                texts.append(await resp.text())
    return "\n".join(texts)


async def test_python_task_runs_with_data_secure_data_and_context(
    env: Env, operator_factory: OperatorFactory
) -> None:
    op = await operator_factory(["taskdefinition", "task"])
    await env.secret("task-secret", {"SECURE_DATA": "t0ps3cret"})
    await env.create(
        model.KEPTN_TASK_DEFINITION,
        definition(
            "hello-py",
            "python",
            PY_CODE,
            parameters={"map": {"user": "ann", "greeting": "hi"}},
            secureParameters={"secret": "task-secret"},
        ),
    )
    created = await env.create(
        model.KEPTN_TASK,
        keptn_task("pre-hello-py", "hello-py", parameters={"map": {"user": "bob"}}),
    )
    done = await env.wait_for(model.KEPTN_TASK, "pre-hello-py", status_is("Succeeded", "Failed"))
    status = done["status"]
    assert status["status"] == "Succeeded", status
    assert status["jobName"] == job_name(created)
    assert status["startTime"] <= status["endTime"]

    log = await pod_log(env, status["jobName"])
    assert 'DATA {"greeting": "hi", "user": "bob"}' in log  # the task's parameters win
    assert "SECURE t0ps3cret" in log
    assert f"CTX shop-cart {TRACEPARENT}" in log

    td = await env.wait_for(
        model.KEPTN_TASK_DEFINITION,
        "hello-py",
        lambda o: bool(o and (o.get("status") or {}).get("function")),
    )
    assert td["status"]["function"]["configMap"] == "keptnfn-hello-py"
    cm = await env.get(model.CONFIG_MAP, "keptnfn-hello-py")
    assert cm is not None and "DATA" in cm["data"]["code"]
    assert cm["metadata"]["ownerReferences"][0]["uid"] == td["metadata"]["uid"]

    job = await env.get(model.JOB, status["jobName"])
    assert job is not None
    assert job["metadata"]["ownerReferences"][0]["uid"] == created["metadata"]["uid"]
    assert job["spec"]["backoffLimit"] == 10 and job["spec"]["activeDeadlineSeconds"] == 300
    assert job["spec"]["ttlSecondsAfterFinished"] == 300

    labels = {
        "keptn_deployment_app_name": "shop",
        "keptn_deployment_app_version": "1.0",
        "keptn_deployment_workload_name": "shop-cart",
        "keptn_deployment_workload_version": "0.4",
        "keptn_deployment_task_name": "pre-hello-py",
        "keptn_deployment_task_type": "pre",
    }
    await eventually(
        lambda: (
            op.registry.get_sample_value(
                "keptn_task_count_total", {**labels, "keptn_deployment_task_status": "Succeeded"}
            )
            == 1.0
        )
    )
    await eventually(lambda: any(s.name == "pre-hello-py" for s in op.spans.spans))
    (span,) = [s for s in op.spans.spans if s.name == "pre-hello-py"]
    assert span.parent is not None and span.parent.span_id == int(TRACEPARENT.split("-")[2], 16)


async def test_code_change_updates_the_config_map(
    env: Env, operator_factory: OperatorFactory
) -> None:
    await operator_factory(["taskdefinition"])
    await env.create(model.KEPTN_TASK_DEFINITION, definition("edit-me", "python", "print(1)"))
    await env.wait_for(
        model.KEPTN_TASK_DEFINITION, "edit-me", lambda o: bool(o and o.get("status"))
    )
    await env.client.patch(
        model.KEPTN_TASK_DEFINITION,
        "edit-me",
        {"spec": {"python": {"inline": {"code": "print(2)"}}}},
        env.namespace,
    )
    async with asyncio.timeout(10):
        while True:
            cm = await env.get(model.CONFIG_MAP, "keptnfn-edit-me")
            if cm is not None and cm["data"]["code"] == "print(2)":
                break
            await asyncio.sleep(0.05)


async def test_deno_task_runs(env: Env, operator_factory: OperatorFactory) -> None:
    await operator_factory(["taskdefinition", "task"])
    await env.secret("deno-secret", {"SECURE_DATA": "s3cr3t"})
    await env.create(
        model.KEPTN_TASK_DEFINITION,
        definition(
            "hello-deno",
            "deno",
            DENO_CODE,
            parameters={"map": {"user": "carl"}},
            secureParameters={"secret": "deno-secret"},
        ),
    )
    await env.create(model.KEPTN_TASK, keptn_task("pre-hello-deno", "hello-deno"))
    done = await env.wait_for(
        model.KEPTN_TASK, "pre-hello-deno", status_is("Succeeded", "Failed"), within=60
    )
    assert done["status"]["status"] == "Succeeded", done["status"]
    assert "deno carl s3cr3t shop pre" in await pod_log(env, done["status"]["jobName"])


async def test_failing_task_fails_with_backoff_limit_exceeded(
    env: Env, operator_factory: OperatorFactory
) -> None:
    await operator_factory(["taskdefinition", "task"])
    await env.create(
        model.KEPTN_TASK_DEFINITION,
        definition("boom", "python", PY_CODE, parameters={"map": {"exit": "3"}}, retries=1),
    )
    task_body = keptn_task("pre-boom", "boom", retries=1)
    await env.create(model.KEPTN_TASK, task_body)
    done = await env.wait_for(model.KEPTN_TASK, "pre-boom", status_is("Succeeded", "Failed"))
    assert done["status"]["status"] == "Failed"
    assert done["status"]["reason"] == "BackoffLimitExceeded"
    assert done["status"]["endTime"]
    job = await env.get(model.JOB, done["status"]["jobName"])
    assert job is not None and job["spec"]["backoffLimit"] == 1
    assert job["status"].get("failed") == 2  # the first run and one retry


async def test_task_timeout_fails_with_deadline_exceeded(
    env: Env, operator_factory: OperatorFactory
) -> None:
    await operator_factory(["taskdefinition", "task"])
    await env.create(
        model.KEPTN_TASK_DEFINITION,
        definition("sleepy", "python", "import time\ntime.sleep(30)\n", timeout="1s"),
    )
    await env.create(model.KEPTN_TASK, keptn_task("pre-sleepy", "sleepy", timeout="1s"))
    done = await env.wait_for(model.KEPTN_TASK, "pre-sleepy", status_is("Succeeded", "Failed"))
    assert done["status"]["status"] == "Failed"
    assert done["status"]["reason"] == "DeadlineExceeded"


async def test_missing_definition_waits_then_fails_and_wakes_when_it_appears(
    env: Env, operator_factory: OperatorFactory
) -> None:
    op = await operator_factory(["taskdefinition", "task"], definition_wait=1.5)
    await env.create(model.KEPTN_TASK, keptn_task("pre-ghost", "ghost"))
    done = await env.wait_for(model.KEPTN_TASK, "pre-ghost", status_is("Failed"), within=10)
    assert done["status"]["message"] == "could not find KeptnTaskDefinition: ghost"
    assert "jobName" not in done["status"]
    await flush_events(op)
    events, _ = await env.client.list(model.EVENT, env.namespace)
    reasons = [(e["reason"], e["message"]) for e in events
               if e["involvedObject"]["name"] == "pre-ghost"]  # fmt: skip
    assert any(
        r == "CreateTaskNotFound" and "could not find KeptnTaskDefinition: ghost" in m
        for r, m in reasons
    ), reasons

    # a definition created within the wait wakes the task at once
    await env.create(model.KEPTN_TASK, keptn_task("pre-late", "late"))
    await asyncio.sleep(0.3)
    await env.create(model.KEPTN_TASK_DEFINITION, definition("late", "python", "print('ok')"))
    late = await env.wait_for(model.KEPTN_TASK, "pre-late", status_is("Succeeded", "Failed"))
    assert late["status"]["status"] == "Succeeded", late["status"]


async def test_completed_task_gets_no_second_job_after_restart(
    env: Env, operator_factory: OperatorFactory
) -> None:
    first = await operator_factory(["taskdefinition", "task"])
    await env.create(model.KEPTN_TASK_DEFINITION, definition("once", "python", "print('ran once')"))
    await env.create(model.KEPTN_TASK, keptn_task("pre-once", "once"))
    done = await env.wait_for(model.KEPTN_TASK, "pre-once", status_is("Succeeded", "Failed"))
    assert done["status"]["status"] == "Succeeded"
    await first.stop()
    # the TTL controller (or a user) removed the finished Job while the operator was down
    await env.client.delete(model.JOB, done["status"]["jobName"], env.namespace)
    await env.wait_for(model.JOB, done["status"]["jobName"], lambda o: o is None)

    second = await operator_factory(["taskdefinition", "task"])
    controller = second.controllers["task"]
    for _ in range(200):  # until the new operator has reconciled the cached task and is idle
        if controller.reconciles and not len(controller.queue) and not controller.queue.processing:
            break
        await asyncio.sleep(0.05)
    assert controller.reconciles > 0
    await asyncio.sleep(0.3)
    jobs, _ = await env.client.list(model.JOB, env.namespace)
    assert jobs == []
    after = await env.get(model.KEPTN_TASK, "pre-once")
    assert after is not None and after["status"] == done["status"]
    assert json.dumps(after["status"]) == json.dumps(done["status"])


async def test_definition_from_the_keptn_namespace_is_used(
    env: Env, operator_factory: OperatorFactory
) -> None:
    await operator_factory(["taskdefinition", "task"])
    await env.client.create(
        model.NAMESPACE,
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "keptn-system"}},
    )
    shared = definition("shared", "python", "print('shared')", ttlSecondsAfterFinished=60)
    shared["metadata"]["namespace"] = "keptn-system"
    await env.client.create(model.KEPTN_TASK_DEFINITION, shared)
    await env.create(model.KEPTN_TASK, keptn_task("pre-shared", "shared"))
    await env.create(model.KEPTN_TASK, keptn_task("post-shared", "shared"))
    for name in ("pre-shared", "post-shared"):
        task = await env.wait_for(model.KEPTN_TASK, name, status_is("Succeeded", "Failed"))
        assert task["status"]["status"] == "Succeeded", task["status"]
        job = await env.get(model.JOB, task["status"]["jobName"])
        assert job is not None and job["spec"]["ttlSecondsAfterFinished"] == 60
        assert "shared" in await pod_log(env, task["status"]["jobName"])
    # pods mount ConfigMaps of their own namespace only: the code was copied beside the tasks
    copy = await env.get(model.CONFIG_MAP, "keptnfn-shared")
    assert copy is not None and copy["data"]["code"] == "print('shared')"
    owners = {o["name"] for o in copy["metadata"]["ownerReferences"]}
    assert owners == {"pre-shared", "post-shared"}


async def test_job_created_before_a_crash_is_adopted_not_duplicated(
    env: Env, operator_factory: OperatorFactory
) -> None:
    # the previous operator created the Job and died before recording it in the task's status
    body = definition("adopt", "python", "print('adopted')")
    created_def = await env.create(model.KEPTN_TASK_DEFINITION, body)
    task_body = await env.create(model.KEPTN_TASK, keptn_task("pre-adopt", "adopt"))
    job = build_job(task_body, created_def, images=RuntimeImages(), resolve=lambda _: None)
    await env.create(model.JOB, job)

    await operator_factory(["taskdefinition", "task"])
    done = await env.wait_for(model.KEPTN_TASK, "pre-adopt", status_is("Succeeded", "Failed"))
    assert done["status"]["status"] == "Succeeded", done["status"]
    assert done["status"]["jobName"] == job["metadata"]["name"]
    jobs, _ = await env.client.list(model.JOB, env.namespace)
    assert [j["metadata"]["name"] for j in jobs] == [job["metadata"]["name"]]


async def test_a_job_the_api_server_rejects_fails_the_task_and_says_why(
    env: Env, operator_factory: OperatorFactory
) -> None:
    """A container definition without an image passes the CRD schema but makes an invalid Job:
    retrying the same body cannot help, so the task fails with the API server's reason."""
    op = await operator_factory(["taskdefinition", "task"])
    await env.create(
        model.KEPTN_TASK_DEFINITION,
        {
            "apiVersion": model.KEPTN_TASK_DEFINITION.api_version,
            "kind": "KeptnTaskDefinition",
            "metadata": {"name": "no-image"},
            "spec": {"container": {"name": "step"}},
        },
    )
    await env.create(model.KEPTN_TASK, keptn_task("pre-no-image", "no-image"))
    done = await env.wait_for(model.KEPTN_TASK, "pre-no-image", status_is("Failed"), within=10)
    assert done["status"]["reason"] == "InvalidTaskDefinition"
    assert "image" in done["status"]["message"], done["status"]
    await flush_events(op)
    events, _ = await env.client.list(model.EVENT, env.namespace)
    assert any(
        e["reason"] == "CreateTaskFailed" and e["involvedObject"]["name"] == "pre-no-image"
        for e in events
    )
