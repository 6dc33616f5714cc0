"""The container runtime really runs KLT's python and deno function runners."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from sandbox.node.client import NotFound, Resource
from sandbox.node.podconfig import PodConfig, rewrite
from sandbox.node.runtime import ConfigError, ContainerPlan, PlanKind, RunResult, Runtime
from sandbox.node.settings import NodeSettings, Outcome, find_deno

Body = dict[str, Any]

PY_CODE = """
import json, os, sys
data = json.loads(os.environ["DATA"])
ctx = json.loads(os.environ["KEPTN_CONTEXT"])
print("hello", data["user"], "secret", os.environ["SECURE_DATA"], "app", ctx["appName"], "args", sys.argv[1:])
sys.exit(int(data.get("exit", 0)))
"""

DENO_CODE = """
const data = JSON.parse(Deno.env.get("DATA") ?? "{}");
const ctx = JSON.parse(Deno.env.get("KEPTN_CONTEXT") ?? "{}");
const n: number = 40 + 2;
console.log(`deno says ${data.user} ${ctx.workloadName} ${n}`);
"""


class Objects:
    """ConfigMaps and Secrets by (resource plural, namespace, name): the runtime's source."""

    def __init__(self, objects: dict[tuple[str, str, str], Body]) -> None:
        self.objects = objects

    async def get(self, res: Resource, namespace: str | None, name: str) -> Body:
        try:
            return self.objects[(res.plural, namespace or "", name)]
        except KeyError:
            raise NotFound(404, "NotFound", f"{res.plural} {name} not found") from None


def secret(value: str) -> Body:
    return {"data": {"SECURE_DATA": base64.b64encode(value.encode()).decode()}}


def runner_pod(image: str, code_path: str, env: list[Body], mount: bool = True) -> Body:
    container: Body = {"name": "keptn-function-runner", "image": image, "env": env}
    volumes = []
    if mount:
        container["volumeMounts"] = [
            {"name": "function-mount", "mountPath": code_path, "subPath": "code", "readOnly": True}
        ]
        volumes = [{"name": "function-mount", "configMap": {"name": "keptnfn-hello"}}]
    return {
        "metadata": {"name": "task-abcde", "namespace": "ns", "uid": "u-1"},
        "spec": {"containers": [container], "volumes": volumes, "restartPolicy": "OnFailure"},
    }


def klt_env(script: str, data: Body, cmd_args: str = "") -> list[Body]:
    return [
        {"name": "DATA", "value": json.dumps(data)},
        {
            "name": "KEPTN_CONTEXT",
            "value": json.dumps({"appName": "shop", "workloadName": "shop-cart"}),
        },
        {"name": "CMD_ARGS", "value": cmd_args},
        {
            "name": "SECURE_DATA",
            "valueFrom": {"secretKeyRef": {"name": "creds", "key": "SECURE_DATA"}},
        },
        {"name": "SCRIPT", "value": script},
    ]


def make_runtime(tmp_path: Path, objects: dict[tuple[str, str, str], Body]) -> Runtime:
    return Runtime(settings=NodeSettings(), source=Objects(objects), work_dir=tmp_path)


async def run(runtime: Runtime, pod: Body, container: Body, plan: ContainerPlan) -> RunResult:
    """Prepare and run one container to its end, as the kubelet does."""
    return await runtime.execute(await runtime.prepare(pod, container, plan))


async def test_python_runtime_runs_configmap_code_with_data_and_secure_data(tmp_path: Path) -> None:
    objects = {
        ("configmaps", "ns", "keptnfn-hello"): {"data": {"code": PY_CODE}},
        ("secrets", "ns", "creds"): secret("s3cr3t"),
    }
    runtime = make_runtime(tmp_path, objects)
    pod = runner_pod(
        "ghcr.io/keptn/python-runtime:v1.0.8",
        "/var/data/function.py",
        klt_env("/var/data/function.py", {"user": "ann"}, "-u"),
    )
    result = await run(runtime, pod, pod["spec"]["containers"][0], ContainerPlan(PlanKind.PYTHON))
    assert result.exit_code == 0, result.output
    assert result.reason == "Completed"
    assert "hello ann secret s3cr3t app shop args []" in result.output


async def test_python_runtime_exit_code_is_kept(tmp_path: Path) -> None:
    objects = {
        ("configmaps", "ns", "keptnfn-hello"): {"data": {"code": PY_CODE}},
        ("secrets", "ns", "creds"): secret("x"),
    }
    runtime = make_runtime(tmp_path, objects)
    pod = runner_pod(
        "python-runtime",
        "/var/data/function.py",
        klt_env("/var/data/function.py", {"user": "b", "exit": 3}),
    )
    result = await run(runtime, pod, pod["spec"]["containers"][0], ContainerPlan(PlanKind.PYTHON))
    assert result.exit_code == 3 and result.reason == "Error"


async def test_missing_secret_is_a_config_error(tmp_path: Path) -> None:
    runtime = make_runtime(
        tmp_path, {("configmaps", "ns", "keptnfn-hello"): {"data": {"code": PY_CODE}}}
    )
    pod = runner_pod(
        "python-runtime", "/var/data/function.py", klt_env("/var/data/function.py", {})
    )
    with pytest.raises(ConfigError, match='secret "creds" not found'):
        await run(runtime, pod, pod["spec"]["containers"][0], ContainerPlan(PlanKind.PYTHON))


async def test_python_runtime_http_ref(tmp_path: Path, aiohttp_server: Any) -> None:
    async def serve(_request: web.Request) -> web.Response:
        return web.Response(text=PY_CODE)

    app = web.Application()
    app.router.add_get("/fn.py", serve)
    server = await aiohttp_server(app)
    runtime = make_runtime(tmp_path, {("secrets", "ns", "creds"): secret("k")})
    url = str(server.make_url("/fn.py"))
    pod = runner_pod("python-runtime", "", klt_env(url, {"user": "web"}), mount=False)
    try:
        result = await run(
            runtime, pod, pod["spec"]["containers"][0], ContainerPlan(PlanKind.PYTHON)
        )
    finally:
        await runtime.close()
    assert result.exit_code == 0, result.output
    assert "hello web secret k" in result.output


async def test_deno_runtime_runs_typescript(tmp_path: Path) -> None:
    assert find_deno() is not None, "deno is installed by scripts/bootstrap.sh"
    objects = {
        ("configmaps", "ns", "keptnfn-hello"): {"data": {"code": DENO_CODE}},
        ("secrets", "ns", "creds"): secret("k"),
    }
    runtime = make_runtime(tmp_path, objects)
    pod = runner_pod(
        "ghcr.io/keptn/deno-runtime:v3.0.1",
        "/var/data/function.ts",
        klt_env("/var/data/function.ts", {"user": "dee"}),
    )
    result = await run(runtime, pod, pod["spec"]["containers"][0], ContainerPlan(PlanKind.DENO))
    assert result.exit_code == 0, result.output
    assert "deno says dee shop-cart 42" in result.output


async def test_simulated_outcomes(tmp_path: Path) -> None:
    runtime = make_runtime(tmp_path, {})
    pod = {"metadata": {"name": "p"}, "spec": {}}
    ok = await run(
        runtime, pod, {"name": "c"}, ContainerPlan(PlanKind.SIMULATED, Outcome.SUCCEED, 0.01)
    )
    bad = await run(runtime, pod, {"name": "c"}, ContainerPlan(PlanKind.SIMULATED, Outcome.FAIL, 0))
    assert (ok.exit_code, bad.exit_code) == (0, 1)
    assert "simulated failure" in bad.output


async def test_pod_config_env_sources_and_volume_items(tmp_path: Path) -> None:
    objects = {
        ("configmaps", "ns", "cfg"): {"data": {"mode": "fast", "level": "3"}},
        ("secrets", "ns", "sec"): {"data": {"token": base64.b64encode(b"tkn").decode()}},
    }
    config = PodConfig(Objects(objects))
    container: Body = {
        "name": "c",
        "envFrom": [
            {"configMapRef": {"name": "cfg"}, "prefix": "CFG_"},
            {"secretRef": {"name": "missing", "optional": True}},
        ],
        "env": [
            {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "mode"}}},
            {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "token"}}},
            {
                "name": "OPT",
                "valueFrom": {"secretKeyRef": {"name": "sec", "key": "nope", "optional": True}},
            },
            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
            {"name": "FILE", "value": "/etc/cfg/renamed.txt"},
        ],
        "volumeMounts": [{"name": "v", "mountPath": "/etc/cfg"}],
    }
    pod: Body = {
        "metadata": {"name": "p1", "namespace": "ns", "labels": {"app": "shop"}},
        "spec": {
            "containers": [container],
            "volumes": [
                {
                    "name": "v",
                    "configMap": {"name": "cfg", "items": [{"key": "mode", "path": "renamed.txt"}]},
                }
            ],
        },
    }
    env = await config.env(pod, container)
    assert env == {
        "CFG_mode": "fast",
        "CFG_level": "3",
        "MODE": "fast",
        "TOKEN": "tkn",
        "POD": "p1",
        "APP": "shop",
        "FILE": "/etc/cfg/renamed.txt",
    }
    mounts = await config.mount(pod, container, tmp_path)
    local = Path(rewrite(env["FILE"], mounts))
    assert await asyncio.to_thread(local.read_text) == "fast"
    assert local.is_relative_to(tmp_path)
    assert not await asyncio.to_thread((local.parent / "level").exists)  # items select keys
    assert rewrite("/etc/cfgx", mounts) == "/etc/cfgx"  # only real path prefixes


async def test_pod_config_missing_key_is_a_config_error() -> None:
    config = PodConfig(Objects({("secrets", "ns", "sec"): {"data": {}}}))
    container: Body = {
        "name": "c",
        "env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "k"}}}],
    }
    with pytest.raises(ConfigError, match="couldn't find key k in secret ns/sec"):
        await config.env({"metadata": {"name": "p", "namespace": "ns"}, "spec": {}}, container)
