"""KeptnTaskDefinition + KeptnTask -> Job, for every runtime and code source."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest

from lifecycle.core.runtimes import (
    DEFAULT_DENO_IMAGE,
    DEFAULT_PYTHON_IMAGE,
    RuntimeImages,
    TaskDefinitionError,
    build_job,
    function_config_map,
    job_name,
)

CONTEXT = {
    "workloadName": "shop-web",
    "appName": "shop",
    "appVersion": "",
    "workloadVersion": "1.0",
    "taskType": "pre",
    "objectType": "Workload",
    "metadata": {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
}


def definition(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "demo", "uid": f"{name}-uid"}, "spec": spec}


def task(spec: dict[str, Any] | None = None, name: str = "pre-notify-43521") -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "namespace": "demo",
            "uid": "6f1c2b1e-0000-4000-8000-000000000001",
            "labels": {"team": "blue"},
            "annotations": {"note": "x"},
        },
        "spec": {
            "taskDefinition": "notify",
            "context": CONTEXT,
            "checkType": "pre",
            **(spec or {}),
        },
    }


def no_refs(name: str) -> Mapping[str, Any] | None:
    return None


def env_of(job: Mapping[str, Any]) -> dict[str, Any]:
    container = job["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


IMAGES = RuntimeImages()


def test_deno_inline_code() -> None:
    d = definition(
        "notify",
        {
            "deno": {
                "inline": {"code": "console.log(1)"},
                "parameters": {"map": {"a": "1", "b": "2"}},
            }
        },
    )
    job = build_job(task({"parameters": {"map": {"b": "3"}}}), d, images=IMAGES, resolve=no_refs)
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["name"] == "keptn-function-runner"
    assert container["image"] == DEFAULT_DENO_IMAGE
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert container["volumeMounts"] == [
        {
            "name": "function-mount",
            "readOnly": True,
            "mountPath": "/var/data/function.ts",
            "subPath": "code",
        }
    ]
    assert pod["volumes"] == [{"name": "function-mount", "configMap": {"name": "keptnfn-notify"}}]
    env = env_of(job)
    assert json.loads(env["DATA"]) == {"a": "1", "b": "3"}  # the task's parameters win
    assert json.loads(env["KEPTN_CONTEXT"]) == CONTEXT
    assert env["SCRIPT"] == "/var/data/function.ts"
    assert env["CMD_ARGS"] == ""
    assert "SECURE_DATA" not in env
    assert pod["restartPolicy"] == "OnFailure"


def test_python_http_ref_with_secret_and_cmd() -> None:
    d = definition(
        "notify",
        {
            "python": {
                "httpRef": {"url": "https://example.invalid/f.py"},
                "secureParameters": {"secret": "creds"},
                "cmdParameters": "-h",
            }
        },
    )
    job = build_job(task(), d, images=IMAGES, resolve=no_refs)
    env = env_of(job)
    assert env["SCRIPT"] == "https://example.invalid/f.py"
    assert env["SECURE_DATA"] == {"secretKeyRef": {"name": "creds", "key": "SECURE_DATA"}}
    assert env["CMD_ARGS"] == "-h"
    assert "DATA" not in env
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == DEFAULT_PYTHON_IMAGE
    assert "volumeMounts" not in container and "volumes" not in job["spec"]["template"]["spec"]


def test_config_map_ref_beats_http_ref() -> None:
    d = definition(
        "notify",
        {"python": {"configMapRef": {"name": "my-code"}, "httpRef": {"url": "https://x.invalid"}}},
    )
    job = build_job(task(), d, images=IMAGES, resolve=no_refs)
    assert env_of(job)["SCRIPT"] == "/var/data/function.py"
    assert job["spec"]["template"]["spec"]["volumes"][0]["configMap"] == {"name": "my-code"}


def test_function_ref_chain_takes_code_and_image_from_the_root() -> None:
    root = definition(
        "base",
        {"deno": {"inline": {"code": "x"}, "parameters": {"map": {"a": "root", "r": "1"}}}},
    )
    middle = definition(
        "middle",
        {"python": {"functionRef": {"name": "base"}, "parameters": {"map": {"a": "middle"}}}},
    )
    leaf = definition(
        "notify",
        {
            "python": {
                "functionRef": {"name": "middle"},
                "parameters": {"map": {"l": "1"}},
                "secureParameters": {"secret": "leaf-secret"},
            }
        },
    )
    defs = {"base": root, "middle": middle}
    job = build_job(task(), leaf, images=RuntimeImages(deno="d:1", python="p:1"), resolve=defs.get)
    env = env_of(job)
    assert json.loads(env["DATA"]) == {"a": "middle", "r": "1", "l": "1"}
    assert env["SECURE_DATA"]["secretKeyRef"]["name"] == "leaf-secret"
    assert env["SCRIPT"] == "/var/data/function.ts"
    assert job["spec"]["template"]["spec"]["containers"][0]["image"] == "d:1"
    assert job["spec"]["template"]["spec"]["volumes"][0]["configMap"]["name"] == "keptnfn-base"


@pytest.mark.parametrize(
    ("spec", "refs", "message"),
    [
        (
            {"deno": {"parameters": {"map": {"a": "1"}}}},
            {},
            "no ConfigMap specified or HTTP source specified in TaskDefinition / Namespace: demo, Name: notify",
        ),
        (
            {"deno": {"functionRef": {"name": "gone"}}},
            {},
            "could not find KeptnTaskDefinition: gone",
        ),
        (
            {"deno": {"functionRef": {"name": "loop"}}},
            {"loop": definition("loop", {"deno": {"functionRef": {"name": "notify"}}})},
            "functionRef cycle through KeptnTaskDefinition: notify",
        ),
    ],
)
def test_definition_errors(spec: dict[str, Any], refs: dict[str, Any], message: str) -> None:
    refs = {**refs, "notify": definition("notify", spec)}
    with pytest.raises(TaskDefinitionError) as info:
        build_job(task(), refs["notify"], images=IMAGES, resolve=refs.get)
    assert str(info.value) == message


def test_container_runtime() -> None:
    container = {
        "name": "curl",
        "image": "curlimages/curl:8",
        "env": [{"name": "KEPTN_CONTEXT", "value": "stale"}, {"name": "X", "value": "1"}],
        "volumeMounts": [{"name": "scratch", "mountPath": "/tmp/s"}],
        "resources": {"limits": {"memory": "64Mi"}},
    }
    d = definition("notify", {"container": container, "retries": 2, "timeout": "90s"})
    job = build_job(
        task({"parameters": {"map": {"ignored": "1"}}}), d, images=IMAGES, resolve=no_refs
    )
    pod = job["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"] == "curlimages/curl:8"
    env = env_of(job)
    assert env["X"] == "1" and json.loads(env["KEPTN_CONTEXT"]) == CONTEXT
    assert "DATA" not in env  # parameters are not injected for container tasks (KLT)
    assert pod["volumes"] == [
        {"name": "scratch", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}}
    ]
    assert container["env"][0]["value"] == "stale"  # the definition is not mutated
    assert job["spec"]["backoffLimit"] == 2
    assert job["spec"]["activeDeadlineSeconds"] == 90


def test_job_metadata_and_defaults() -> None:
    d = definition(
        "notify",
        {
            "deno": {"inline": {"code": "x"}},
            "serviceAccount": {"name": "runner"},
            "automountServiceAccountToken": {"type": False},
            "imagePullSecrets": [{"name": "regcred"}],
            "ttlSecondsAfterFinished": 60,
        },
    )
    job = build_job(task(), d, images=IMAGES, resolve=no_refs)
    meta = job["metadata"]
    assert job["apiVersion"] == "batch/v1" and job["kind"] == "Job"
    assert meta["name"] == job_name(task())
    assert meta["namespace"] == "demo"
    assert meta["labels"] == {"team": "blue"}
    assert meta["annotations"] == {
        "note": "x",
        "keptn.sh/app": "shop",
        "keptn.sh/workload": "shop-web",
        "keptn.sh/version": "1.0",
        "keptn.sh/task-name": "pre-notify-43521",
    }
    assert meta["ownerReferences"] == [
        {
            "apiVersion": "lifecycle.keptn.sh/v1",
            "kind": "KeptnTask",
            "name": "pre-notify-43521",
            "uid": "6f1c2b1e-0000-4000-8000-000000000001",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    spec = job["spec"]
    assert (
        spec["backoffLimit"],
        spec["activeDeadlineSeconds"],
        spec["ttlSecondsAfterFinished"],
    ) == (
        10,
        300,
        60,
    )
    pod = spec["template"]["spec"]
    assert pod["serviceAccountName"] == "runner"
    assert pod["automountServiceAccountToken"] is False
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]
    assert spec["template"]["metadata"]["labels"] == {"team": "blue"}


def test_app_task_version_is_the_app_version() -> None:
    t = task()
    t["spec"]["context"] = {
        "appName": "shop",
        "appVersion": "2.0",
        "objectType": "App",
        "taskType": "pre",
    }
    job = build_job(
        t, definition("notify", {"deno": {"inline": {"code": "x"}}}), images=IMAGES, resolve=no_refs
    )
    assert job["metadata"]["annotations"]["keptn.sh/version"] == "2.0"


def test_task_retries_and_timeout_override_definition() -> None:
    d = definition("notify", {"deno": {"inline": {"code": "x"}}, "retries": 5, "timeout": "1m"})
    job = build_job(task({"retries": 0, "timeout": "2m30s"}), d, images=IMAGES, resolve=no_refs)
    assert job["spec"]["backoffLimit"] == 0
    assert job["spec"]["activeDeadlineSeconds"] == 150


def test_job_name_is_deterministic_and_short() -> None:
    first = job_name(task())
    assert first == job_name(task())
    assert first.startswith("pre-notify-43521-") and len(first) == len("pre-notify-43521-") + 5
    other = task()
    other["metadata"]["uid"] = "another"
    assert job_name(other) != first
    long = job_name(task(name="post-" + "x" * 80 + "-12345"))
    assert len(long) <= 63


def test_function_config_map() -> None:
    cm = function_config_map(definition("notify", {"python": {"inline": {"code": "print(1)"}}}))
    assert cm is not None
    assert cm["metadata"]["name"] == "keptnfn-notify"
    assert cm["data"] == {"code": "print(1)"}
    assert cm["metadata"]["ownerReferences"][0]["kind"] == "KeptnTaskDefinition"
    assert cm["metadata"]["ownerReferences"][0]["uid"] == "notify-uid"
    assert function_config_map(definition("n", {"python": {"httpRef": {"url": "u"}}})) is None
    assert function_config_map(definition("n", {"container": {"name": "c"}})) is None
