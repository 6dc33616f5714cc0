"""A KeptnMetric whose value a real Prometheus produced, read as HPA and KEDA read it.

- HPA: deploy/'s APIServices registered in the sandbox, which proxies
  `/apis/custom.metrics.k8s.io/...` to the operator's TLS listener (the `metrics-operator-service`
  Service); an HPA-style client reads the `type: Object` metric over the kubeconfig's HTTPS
  (v1beta2, v1beta1, `kubectl get --raw`) and computes the replicas an HPA would want.
- KEDA: the `metrics-api` scaler's URL from KLT's docs, port 9999 of `metrics-operator-service`,
  resolved through deploy/'s Service and Deployment to the operator's listener, `valueLocation: value`.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import shutil
import ssl
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from lifecycle.core import model
from tests.e2e.flow.conftest import KEPTN_NAMESPACE, NAMESPACE, Cluster
from tests.evaluator.promlauncher import Prometheus, Series, push, running_prometheus
from tests.support.paths import REPO_ROOT

REPO = REPO_ROOT
OPERATOR = REPO / "deploy" / "operator"
APISERVICE = model.ResourceKind(
    "apiregistration.k8s.io", "v1", "apiservices", "APIService", namespaced=False
)
SERVICE = model.ResourceKind("", "v1", "services", "Service")


@pytest.fixture(scope="module")
def prometheus() -> Iterator[Prometheus]:
    with running_prometheus(()) as prom:
        yield prom


def _docs(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((OPERATOR / name).read_text()) if d]


async def _metric_from_prometheus(cluster: Cluster, prometheus: Prometheus, value: float) -> str:
    run = uuid.uuid4().hex[:8]
    push(prometheus.url, [Series({"__name__": "klt_hpa_load", "run": run}, [(time.time(), value)])])
    await cluster.client.create(
        model.KEPTN_METRICS_PROVIDER,
        {
            "metadata": {"name": "prom"},
            "spec": {"type": "prometheus", "targetServer": prometheus.url},
        },
        NAMESPACE,
    )
    name = "load"
    await cluster.client.create(
        model.KEPTN_METRIC,
        {
            "metadata": {"name": name, "labels": {"app": "frontend"}},
            "spec": {
                "provider": {"name": "prom"},
                "query": f'klt_hpa_load{{run="{run}"}}',
                "fetchIntervalSeconds": 3600,
            },
        },
        NAMESPACE,
    )
    await cluster.wait_for(
        model.KEPTN_METRIC,
        name,
        lambda m: float((m.get("status") or {}).get("value") or "nan") == value,
    )
    return name


async def _register_apiservices(cluster: Cluster) -> None:
    """deploy/'s Service and APIServices; the sandbox reaches the Service at the operator."""
    service = _docs("metrics-service.yaml")[0]
    service["metadata"]["annotations"] = {
        "sandbox.klt.dev/address": f"127.0.0.1:{cluster.operator.ports['webhook']}"
    }
    await cluster.client.create(SERVICE, service, KEPTN_NAMESPACE)
    for doc in _docs("apiservice.yaml"):
        await cluster.client.create(APISERVICE, doc)


def hpa_desired_replicas(current: int, value: str, target: float) -> int:
    """The HPA's rule for an Object metric with a Value target: ceil(current * value / target)."""
    number = float(value[:-1]) / 1000 if value.endswith("m") else float(value)
    return math.ceil(current * number / target)


async def test_hpa_and_keda_read_a_keptn_metric_prometheus_produced(
    cluster: Cluster, prometheus: Prometheus, tmp_path: Path
) -> None:
    name = await _metric_from_prometheus(cluster, prometheus, 7.5)
    await _register_apiservices(cluster)
    sb = cluster.sandbox
    ctx = ssl.create_default_context(cafile=str(sb.ca_path))
    headers = {"Authorization": f"Bearer {sb.token}"}
    base = f"{sb.https_url}/apis/custom.metrics.k8s.io"
    path = f"namespaces/{NAMESPACE}/keptnmetrics.metrics.sh/{name}/{name}"
    async with aiohttp.ClientSession(
        headers=headers, connector=aiohttp.TCPConnector(ssl=ctx)
    ) as http:
        async with http.get(f"{sb.https_url}/apis") as resp:
            groups = {g["name"]: g for g in (await resp.json())["groups"]}
        assert groups["custom.metrics.k8s.io"]["preferredVersion"]["version"] == "v1beta2"
        async with http.get(f"{base}/v1beta2/{path}") as resp:
            assert resp.status == 200
            v2 = await resp.json()
        async with http.get(f"{base}/v1beta1/{path}") as resp:
            v1 = await resp.json()
        ns_path = f"{base}/v1beta2/namespaces/{NAMESPACE}/keptnmetrics.metrics.keptn.sh/*/{name}"
        async with http.get(ns_path, params={"labelSelector": "app=frontend"}) as resp:
            selected = await resp.json()
        async with http.get(ns_path, params={"labelSelector": "app=backend"}) as resp:
            others = await resp.json()
        async with http.get(
            f"{base}/v1beta2/namespaces/{NAMESPACE}/keptnmetrics.metrics.sh/nope/nope"
        ) as resp:
            assert resp.status == 404
    assert v2["kind"] == "MetricValueList" and v2["apiVersion"] == "custom.metrics.k8s.io/v1beta2"
    item = v2["items"][0]
    assert item["describedObject"] == {
        "kind": "KeptnMetric",
        "namespace": NAMESPACE,
        "name": name,
        "apiVersion": "metrics.keptn.sh/v1",
    }
    assert item["metric"] == {"name": name, "selector": {"matchLabels": {"app": "frontend"}}}
    assert item["value"] == "7500m"  # the quantity of Prometheus' 7.5
    assert v1["items"][0]["metricName"] == name and v1["items"][0]["value"] == "7500m"
    assert [i["value"] for i in selected["items"]] == ["7500m"] and others["items"] == []
    # an HPA targeting a value of 2.5 per object with 2 replicas would scale to 6
    assert hpa_desired_replicas(2, item["value"], 2.5) == 6
    out = await _kubectl_raw(cluster, tmp_path, f"/apis/custom.metrics.k8s.io/v1beta2/{path}")
    assert json.loads(out)["items"][0]["value"] == "7500m"
    await _read_through_keda_url(cluster, name)


async def _read_through_keda_url(cluster: Cluster, name: str) -> None:
    service = _docs("metrics-service.yaml")[0]
    assert service["metadata"]["name"] == "metrics-operator-service"
    port = next(p for p in service["spec"]["ports"] if p["port"] == 9999)
    deployment = next(d for d in _docs("deployment.yaml") if d["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    named = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert named[port["targetPort"]] == 2222  # the operator's --metrics-port default
    listener = cluster.operator.ports[port["targetPort"]]  # this operator's metrics listener
    # KEDA: metrics-api scaler, url .../api/v1/metrics/<ns>/<metric>, valueLocation: value
    url = f"http://127.0.0.1:{listener}/api/v1/metrics/{NAMESPACE}/{name}"
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        assert resp.status == 200
        body = await resp.json()
    assert body == {"namespace": NAMESPACE, "metric": name, "value": "7.5"}
    # the same listener's /metrics: KLT's unlabelled gauge beside keptn_metric_value
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{listener}/metrics") as resp,
    ):
        text = await resp.text()
    assert f"\n{name} 7.5\n" in text
    assert f'keptn_metric_value{{name="{name}",namespace="{NAMESPACE}"}} 7.5' in text


async def _kubectl_raw(cluster: Cluster, home: Path, path: str) -> str:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl is not installed (scripts/bootstrap.sh installs it)")
    env = {**os.environ, "HOME": str(home), "KUBECONFIG": str(cluster.sandbox.kubeconfig_path)}
    proc = await asyncio.create_subprocess_exec(
        kubectl,
        "get",
        "--raw",
        path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    return out.decode()
