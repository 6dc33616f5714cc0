"""Every older version KLT serves, applied with the real kubectl and read back at v1 and at its own
version, through the sandbox's CRD conversion (None, and Webhook calling the operator's /convert).

One manifest per resource and older served version (KeptnApp v1alpha1..v1beta1, ..., KeptnMetric
v1alpha1..v1beta1, KeptnWorkloadInstance/KeptnEvaluationProvider v1alpha1..v1alpha2, strategy None), applied in
one `kubectl apply` (strict field validation at the manifest's version). Each object must read
back at its own version with every field it was written with, and at the storage version with
KLT's mapping (the fields v1 lacks kept in the `klt.dev/conversion-lost` annotation).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from lifecycle.admission.conversion import LOST_ANNOTATION
from lifecycle.admission.schemas import load_crds
from tests.e2e.flow.conftest import NAMESPACE, Cluster

KUBECTL = shutil.which("kubectl")
pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed on this machine")

REF = {"uid": "u-1", "kind": "ReplicaSet", "name": "rs-1"}
WL = {"app": "app", "version": "1.0", "resourceReference": REF}
APP_LISTS = {"preDeploymentTasks": ["pre-task"], "postDeploymentEvaluations": ["post-eval"]}
SPECS: dict[str, Any] = {
    "KeptnAppContext": {"preDeploymentTasks": ["pre-task"]},
    "KeptnAppCreationRequest": {"appName": "app"},
    "KeptnEvaluationDefinition": {
        "objectives": [
            {"keptnMetricRef": {"name": "m", "namespace": NAMESPACE}, "evaluationTarget": "<10"}
        ]
    },
    "KeptnEvaluation": {"workloadVersion": "1.0", "evaluationDefinition": "missing-ed"},
    "KeptnTaskDefinition": {"python": {"inline": {"code": "print(1)"}}},
    "KeptnTask": {
        "taskDefinition": "missing-td",
        "context": {"appName": "app", "objectType": "App", "appVersion": "1.0"},
    },
    "KeptnWorkload": WL,
    "KeptnWorkloadVersion": dict(WL, workloadName="app-w"),
    "KeptnWorkloadInstance": dict(WL, workloadName="app-w"),
    "Analysis": {"timeframe": {"recent": "5m"}, "analysisDefinition": {"name": "ad"}},
    "AnalysisDefinition": {"totalScore": {"passPercentage": 90, "warningPercentage": 75}},
    "AnalysisValueTemplate": {"provider": {"name": "p"}, "query": "up"},
    "KeptnMetric": {"provider": {"name": "p"}, "query": "up", "fetchIntervalSeconds": 60},
    "KeptnMetricsProvider": {"type": "prometheus", "targetServer": "http://127.0.0.1:1"},
    "KeptnEvaluationProvider": {
        "targetServer": "http://p:9090",
        "secretKeyRef": {"name": "prom-secret", "key": "k"},
    },
}


def _spec(kind: str, version: str) -> dict[str, Any]:
    """A valid spec of `kind` at `version`, with the fields KLT renamed or dropped."""
    workloads = [{"name": "w", "version": "1.0"}]
    if kind == "KeptnApp":
        spec = {"version": "1.0", "workloads": workloads}
        if version != "v1beta1":
            spec.update(APP_LISTS)
        if version != "v1alpha1":
            spec["revision"] = 2
        return spec
    if kind == "KeptnAppVersion":
        spec = {
            "appName": "app",
            "version": "1.0",
            "workloads": workloads,
            "previousVersion": "0.9",
        }
        spec.update(APP_LISTS)
        if version != "v1alpha1":
            spec["revision"] = 2
        return spec
    return dict(SPECS[kind])


def _cases() -> list[tuple[str, str, str, str, str]]:
    """(group, plural, kind, version, storage version) of every older served version."""
    out = []
    for crd in load_crds():
        spec = crd["spec"]
        storage = next(v["name"] for v in spec["versions"] if v["storage"])
        for v in spec["versions"]:
            if not v["storage"]:
                out.append(
                    (
                        spec["group"],
                        spec["names"]["plural"],
                        spec["names"]["kind"],
                        v["name"],
                        storage,
                    )
                )
    return out


def _contains(actual: Any, expected: Any, path: str = "spec") -> None:
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{path}: {actual!r}"
        for key, value in expected.items():
            assert key in actual, f"{path}.{key} lost: {actual!r}"
            _contains(actual[key], value, f"{path}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), f"{path}: {actual!r}"
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            _contains(a, e, f"{path}[{i}]")
    else:
        assert actual == expected, f"{path}: {actual!r} != {expected!r}"


async def _kubectl(cluster: Cluster, home: Path, *args: str, stdin: str = "") -> str:
    import asyncio

    assert KUBECTL is not None
    env = {**os.environ, "HOME": str(home), "KUBECONFIG": str(cluster.sandbox.kubeconfig_path)}
    proc = await asyncio.create_subprocess_exec(
        KUBECTL,
        f"--cache-dir={home / 'cache'}",
        *args,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), 60)
    assert proc.returncode == 0, f"kubectl {' '.join(args)}: {err.decode()}"
    return out.decode()


async def test_every_older_version_round_trips(cluster: Cluster, tmp_path: Path) -> None:
    cases = _cases()
    docs = [
        {
            "apiVersion": f"{group}/{version}",
            "kind": kind,
            "metadata": {"name": f"{kind.lower()}-{version}", "namespace": NAMESPACE},
            "spec": _spec(kind, version),
        }
        for group, _, kind, version, _ in cases
    ]
    assert len(docs) >= 45  # every resource at every older version KLT serves
    await _kubectl(cluster, tmp_path, "apply", "-f", "-", stdin=yaml.safe_dump_all(docs))
    sb = cluster.sandbox
    headers = {"Authorization": f"Bearer {sb.token}"}
    reviews_before = sb.handlers.crd.reviews
    async with aiohttp.ClientSession(headers=headers) as http:
        for (group, plural, kind, version, storage), doc in zip(cases, docs, strict=True):
            name = doc["metadata"]["name"]
            for at in (version, storage):
                url = f"{sb.url}/apis/{group}/{at}/namespaces/{NAMESPACE}/{plural}/{name}"
                async with http.get(url) as resp:
                    body = await resp.json()
                    assert resp.status == 200, body
                assert body["apiVersion"] == f"{group}/{at}"
                if at == version:
                    _contains(body["spec"], doc["spec"])
                    lost = (body["metadata"].get("annotations") or {}).get(LOST_ANNOTATION)
                    # only fields this version lacks (v1's revision: 1 at v1alpha1) stay aside
                    assert not set(json.loads(lost or "{}").get("spec", {})) & set(doc["spec"])
                else:
                    _check_stored(kind, version, body, doc["spec"])
    assert sb.handlers.crd.reviews > reviews_before  # the webhook kinds went through /convert
    # kubectl addresses every served version as <plural>.<version>.<group>
    # (and the table view uses that version's printer columns)
    out = await _kubectl(
        cluster, tmp_path, "get", "keptnmetrics.v1alpha2.metrics.keptn.sh", "-n", NAMESPACE
    )
    assert "keptnmetric-v1alpha2" in out and "keptnmetric-v1beta1" in out
    for plural, version in (("keptnapps", "v1alpha3"), ("keptnappversions", "v1alpha1")):
        out = await _kubectl(
            cluster,
            tmp_path,
            "get",
            f"{plural}.{version}.lifecycle.keptn.sh",
            "-n",
            NAMESPACE,
            "-o",
            "json",
        )
        items = json.loads(out)["items"]
        assert {i["apiVersion"] for i in items} == {f"lifecycle.keptn.sh/{version}"}
        assert any(i["spec"].get("preDeploymentTasks") == ["pre-task"] for i in items)


def _check_stored(kind: str, version: str, body: dict[str, Any], spec: dict[str, Any]) -> None:
    """The object at its storage version: KLT's field mapping, nothing KLT keeps is lost."""
    lost = json.loads((body["metadata"].get("annotations") or {}).get(LOST_ANNOTATION, "{}"))
    if kind == "KeptnApp":
        kept = {k: v for k, v in spec.items() if k not in APP_LISTS}
        _contains(body["spec"], kept)
        assert body["spec"]["revision"] == spec.get("revision", 1)
        if version != "v1beta1":
            assert lost == {"spec": APP_LISTS}  # KLT drops them; kept for the way back
    else:
        _contains(body["spec"], spec)
        assert lost == {}
