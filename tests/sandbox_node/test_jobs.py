"""Jobs on the sandbox: KLT's function runners really run; retries, deadlines, TTL."""

from __future__ import annotations

import base64
import json
from typing import Any

from aiohttp import web

from sandbox.node.client import JOBS, PODS, ApiError, Resource

from .conftest import Cluster

Body = dict[str, Any]
CONFIGMAPS = Resource("", "v1", "configmaps")
SECRETS = Resource("", "v1", "secrets")

PY_CODE = """
import json, os, sys
data = json.loads(os.environ["DATA"])
ctx = json.loads(os.environ["KEPTN_CONTEXT"])
print("hello", data["user"], "with", os.environ["SECURE_DATA"], "for", ctx["workloadName"])
sys.exit(int(data.get("exit", 0)))
"""

DENO_CODE = """
const data = JSON.parse(Deno.env.get("DATA") ?? "{}");
const ctx = JSON.parse(Deno.env.get("KEPTN_CONTEXT") ?? "{}");
const answer: number = 6 * 7;
console.log(`deno greets ${data.user} in ${ctx.appName}: ${answer}`);
"""


def function_job(
    name: str,
    runtime: str,
    data: Body,
    *,
    code_map: str | None = None,
    script: str | None = None,
    backoff_limit: int = 2,
    secret: bool = True,
) -> Body:
    """A Job shaped like the one KLT's task controller generates for a runtime task."""
    ext = "ts" if runtime == "deno" else "py"
    image = (
        "ghcr.io/keptn/deno-runtime:v3.0.1"
        if runtime == "deno"
        else "ghcr.io/keptn/python-runtime:v1.0.8"
    )
    mount_path = f"/var/data/function.{ext}"
    env: list[Body] = [
        {"name": "DATA", "value": json.dumps(data)},
        {
            "name": "KEPTN_CONTEXT",
            "value": json.dumps(
                {"appName": "shop", "workloadName": "shop-cart", "taskType": "pre"}
            ),
        },
        {"name": "CMD_ARGS", "value": ""},
        {"name": "SCRIPT", "value": script or mount_path},
    ]
    if secret:
        env.append(
            {
                "name": "SECURE_DATA",
                "valueFrom": {"secretKeyRef": {"name": "task-secret", "key": "SECURE_DATA"}},
            }
        )
    container: Body = {
        "name": "keptn-function-runner",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "env": env,
    }
    pod_spec: Body = {"restartPolicy": "OnFailure", "containers": [container]}
    if code_map:
        container["volumeMounts"] = [
            {"name": "function-mount", "mountPath": mount_path, "subPath": "code", "readOnly": True}
        ]
        pod_spec["volumes"] = [{"name": "function-mount", "configMap": {"name": code_map}}]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "annotations": {"keptn.sh/task-name": name}},
        "spec": {
            "backoffLimit": backoff_limit,
            "activeDeadlineSeconds": 60,
            "ttlSecondsAfterFinished": 300,
            "template": {"metadata": {"labels": {"task": name}}, "spec": pod_spec},
        },
    }


def simulated_job(name: str, annotations: dict[str, str], **spec: Any) -> Body:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": 0,
            **spec,
            "template": {
                "metadata": {"labels": {"task": name}, "annotations": annotations},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "c", "image": "example/task:1"}],
                },
            },
        },
    }


def condition(obj: Body | None, kind: str) -> Body:
    for cond in ((obj or {}).get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind and cond.get("status") == "True":
            return dict(cond)
    return {}


def finished(obj: Body | None) -> bool:
    return bool(condition(obj, "Complete") or condition(obj, "Failed"))


async def install_function(c: Cluster, code: str, secret_value: str = "t0ps3cret") -> None:
    await c.api.create(
        CONFIGMAPS,
        c.namespace,
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "keptnfn-hello"},
            "data": {"code": code},
        },
    )
    encoded = base64.b64encode(secret_value.encode()).decode()
    await c.api.create(
        SECRETS,
        c.namespace,
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "task-secret"},
            "data": {"SECURE_DATA": encoded},
        },
    )


async def job_pods(c: Cluster, job: str) -> list[Body]:
    items, _ = await c.api.list(PODS, c.namespace, label_selector=f"job-name={job}")
    return items


async def pod_log(c: Cluster, pod: Body) -> str:
    """What `kubectl logs` shows: pods/log."""
    name = pod["metadata"]["name"]
    try:
        body = await c.api.request("GET", PODS.path(c.namespace, name, "log"))
    except ApiError:
        return ""
    return str(body.get("text", ""))


async def test_python_function_with_data_and_secure_data_succeeds(cluster: Cluster) -> None:
    c = cluster
    await install_function(c, PY_CODE)
    await c.api.create(
        JOBS,
        c.namespace,
        function_job("hello-py", "python", {"user": "ann"}, code_map="keptnfn-hello"),
    )
    job = await c.wait_for(JOBS, "hello-py", finished, within=30)
    assert condition(job, "Complete")["reason"] == "CompletionsReached"
    assert condition(job, "SuccessCriteriaMet")
    assert job is not None
    s = job["status"]
    assert s["succeeded"] == 1 and "failed" not in s and "active" not in s
    assert s["startTime"] <= s["completionTime"]
    (pod,) = await job_pods(c, "hello-py")
    assert pod["status"]["phase"] == "Succeeded"
    assert pod["metadata"]["labels"]["controller-uid"] == job["metadata"]["uid"]
    assert pod["metadata"]["labels"]["batch.kubernetes.io/job-name"] == "hello-py"
    assert pod["metadata"]["ownerReferences"][0]["uid"] == job["metadata"]["uid"]
    assert pod["metadata"]["name"].startswith("hello-py-")
    term = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (term["exitCode"], term["reason"]) == (0, "Completed")
    assert "hello ann with t0ps3cret for shop-cart" in await pod_log(c, pod)


async def test_failing_python_function_ends_failed_with_backoff_limit_exceeded(
    cluster: Cluster,
) -> None:
    c = cluster
    await install_function(c, PY_CODE)
    body = function_job(
        "bad-py", "python", {"user": "bob", "exit": 3}, code_map="keptnfn-hello", backoff_limit=1
    )
    await c.api.create(JOBS, c.namespace, body)
    job = await c.wait_for(JOBS, "bad-py", finished, within=30)
    failed = condition(job, "Failed")
    assert failed["reason"] == "BackoffLimitExceeded"
    assert condition(job, "FailureTarget")["reason"] == "BackoffLimitExceeded"
    assert not condition(job, "Complete")
    assert job is not None and job["status"]["failed"] == 2  # backoffLimit 1: two attempts
    pods = await job_pods(c, "bad-py")
    assert len(pods) == 2
    for pod in pods:
        term = pod["status"]["containerStatuses"][0]["state"]["terminated"]
        assert (term["exitCode"], term["reason"]) == (3, "Error")
        assert pod["status"]["phase"] == "Failed"


async def test_deno_function_succeeds(cluster: Cluster) -> None:
    c = cluster
    await install_function(c, DENO_CODE)
    await c.api.create(
        JOBS,
        c.namespace,
        function_job("hello-deno", "deno", {"user": "dee"}, code_map="keptnfn-hello"),
    )
    job = await c.wait_for(JOBS, "hello-deno", finished, within=60)
    assert condition(job, "Complete"), job
    (pod,) = await job_pods(c, "hello-deno")
    assert "deno greets dee in shop: 42" in await pod_log(c, pod)


async def test_http_ref_function(cluster: Cluster, aiohttp_server: Any) -> None:
    c = cluster

    async def serve(_request: web.Request) -> web.Response:
        return web.Response(text=PY_CODE)

    app = web.Application()
    app.router.add_get("/hello.py", serve)
    server = await aiohttp_server(app)
    body = function_job(
        "http-py", "python", {"user": "web"}, script=str(server.make_url("/hello.py")), secret=False
    )
    body["spec"]["template"]["spec"]["containers"][0]["env"].append(
        {"name": "SECURE_DATA", "value": "inline"}
    )
    await c.api.create(JOBS, c.namespace, body)
    job = await c.wait_for(JOBS, "http-py", finished, within=30)
    assert condition(job, "Complete"), job
    (pod,) = await job_pods(c, "http-py")
    assert "hello web with inline for shop-cart" in await pod_log(c, pod)


async def test_active_deadline_exceeded(cluster: Cluster) -> None:
    c = cluster
    job_body = simulated_job(
        "slow",
        {"sandbox.klt.dev/outcome": "succeed", "sandbox.klt.dev/duration": "30"},
        activeDeadlineSeconds=1,
    )
    await c.api.create(JOBS, c.namespace, job_body)
    job = await c.wait_for(JOBS, "slow", finished, within=10)
    assert condition(job, "Failed")["reason"] == "DeadlineExceeded"
    assert condition(job, "Failed")["message"] == "Job was active longer than specified deadline"
    await c.wait_list(PODS, "job-name=slow", lambda pods: not pods)


async def test_ttl_deletes_the_finished_job_and_its_pods(cluster: Cluster) -> None:
    c = cluster
    await c.api.create(
        JOBS,
        c.namespace,
        simulated_job("quick", {"sandbox.klt.dev/outcome": "succeed"}, ttlSecondsAfterFinished=1),
    )
    assert condition(await c.wait_for(JOBS, "quick", finished), "Complete")
    await c.wait_for(JOBS, "quick", lambda j: j is None, within=10)
    await c.wait_list(PODS, "job-name=quick", lambda pods: not pods, within=10)


async def test_simulated_failure_and_unrunnable_image(cluster: Cluster) -> None:
    c = cluster
    await c.api.create(
        JOBS, c.namespace, simulated_job("boom", {"sandbox.klt.dev/outcome": "fail"})
    )
    assert (
        condition(await c.wait_for(JOBS, "boom", finished), "Failed")["reason"]
        == "BackoffLimitExceeded"
    )
    await c.api.create(JOBS, c.namespace, simulated_job("mystery", {}))

    def pull_error(pods: list[Body]) -> bool:
        statuses = [s for p in pods for s in (p.get("status") or {}).get("containerStatuses") or []]
        return any(s["state"].get("waiting", {}).get("reason") == "ErrImagePull" for s in statuses)

    (pod,) = await c.wait_list(PODS, "job-name=mystery", pull_error)
    waiting = pod["status"]["containerStatuses"][0]["state"]["waiting"]
    assert "sandbox.klt.dev/outcome" in waiting["message"]
    assert '"example/task:1"' in waiting["message"] and "--container-outcome" in waiting["message"]
    assert pod["status"]["phase"] == "Pending"


async def test_general_purpose_image_runs_its_command_with_the_shell(cluster: Cluster) -> None:
    c = cluster
    job = simulated_job("shell", {})
    job["spec"]["template"]["spec"]["containers"] = [
        {
            "name": "c",
            "image": "busybox:1.36",
            "command": ["sh", "-c"],
            "args": ['echo "hello $WHO from $(basename "$PWD")"; test "$HOME" = "$PWD"'],
            "env": [{"name": "WHO", "value": "keptn"}],
        }
    ]
    await c.api.create(JOBS, c.namespace, job)
    assert condition(await c.wait_for(JOBS, "shell", finished), "Complete")
    (pod,) = await c.wait_list(PODS, "job-name=shell", lambda ps: len(ps) == 1)
    assert "hello keptn from c" in await pod_log(c, pod)
