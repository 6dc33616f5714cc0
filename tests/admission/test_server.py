"""The operator's HTTP surface over real sockets: HTTPS webhooks trusted via the generated CA,
/metrics in both exposition formats, probes; and the certificate store."""

from __future__ import annotations

import base64
import datetime as dt
import json
import socket
import ssl
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from cryptography import x509
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_text

from lifecycle.admission.webhook import PodMutator
from lifecycle.operator.certs import (
    CertificateBundle,
    Pems,
    dns_names,
    generate_pems,
    reusable,
    serving_bundle,
    write_serving,
)
from lifecycle.operator.server import OperatorServer, ServerConfig, server_ssl_context
from tests.admission.conftest import MemoryStore, apply_patch, decode_patch

NOW = dt.datetime.now(dt.UTC)  # the TLS client checks validity against the real clock


def ensure_certificates(
    directory: Path,
    *,
    service: str,
    namespace: str,
    now: dt.datetime,
    validity: dt.timedelta = dt.timedelta(days=365),
    renew_before: dt.timedelta = dt.timedelta(days=30),
) -> CertificateBundle:
    """The directory's certificates when still good (``reusable``), else new ones written there."""
    names = dns_names(service, namespace)
    try:
        current = Pems(*((directory / f).read_bytes() for f in ("ca.crt", "tls.crt", "tls.key")))
    except OSError:
        return write_serving(directory, generate_pems(names, now, validity))
    cert = reusable(current, names, now, renew_before)
    if cert is None:
        return write_serving(directory, generate_pems(names, now, validity))
    return serving_bundle(directory, current.ca, cert, reused=True)


@pytest.fixture
def certs(tmp_path: Path) -> CertificateBundle:
    return ensure_certificates(
        tmp_path / "certs", service="lifecycle-webhook-service", namespace="keptn-system", now=NOW
    )


class Running:
    def __init__(self, server: OperatorServer, ca: Path, registry: CollectorRegistry) -> None:
        self.server = server
        self.registry = registry
        self.ready = False
        self.client_ssl = ssl.create_default_context(cafile=str(ca))

    def url(self, listener: str, path: str, host: str = "127.0.0.1") -> str:
        scheme = "https" if listener == "webhook" else "http"
        return f"{scheme}://{host}:{self.server.ports[listener]}{path}"


@pytest.fixture
async def running(
    certs: CertificateBundle, store: MemoryStore, spans: Any
) -> AsyncIterator[Running]:
    store.put(
        "Namespace",
        {"metadata": {"name": "demo", "annotations": {"keptn.sh/lifecycle-toolkit": "enabled"}}},
    )
    pod = POD_REVIEW["request"]["object"]
    store.put(  # the pod's owner as the cluster has it: the webhook confirms it
        "ReplicaSet",
        {
            "metadata": {"name": "web-1", "namespace": "demo", "uid": "rs-1"},
            "spec": {"template": {"metadata": pod["metadata"], "spec": pod["spec"]}},
        },
    )
    registry = CollectorRegistry()
    holder: dict[str, Running] = {}
    extra = web.RouteTableDef()

    @extra.get("/api/v1/metrics/{namespace}/{name}")
    async def metric_value(request: web.Request) -> web.Response:
        return web.json_response(
            {"namespace": request.match_info["namespace"], "name": request.match_info["name"]}
        )

    server = OperatorServer(
        config=ServerConfig(host="127.0.0.1", webhook_port=0, metrics_port=0, probe_port=0),
        registry=registry,
        ready=lambda: holder["r"].ready,
        mutator=PodMutator(store=store, tracer=spans[0].get_tracer("test")),
        ssl_context=server_ssl_context(str(certs.cert_file), str(certs.key_file)),
        extra_routes=extra,
    )
    holder["r"] = Running(server, certs.ca_file, registry)
    await server.start()
    try:
        yield holder["r"]
    finally:
        await server.stop()


POD_REVIEW: dict[str, Any] = {
    "apiVersion": "admission.k8s.io/v1",
    "kind": "AdmissionReview",
    "request": {
        "uid": "7b3f",
        "operation": "CREATE",
        "namespace": "demo",
        "object": {
            "metadata": {
                "generateName": "web-",
                "ownerReferences": [
                    {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1", "uid": "rs-1"}
                ],
                "annotations": {
                    "keptn.sh/workload": "web",
                    "keptn.sh/version": "0.1",
                    "keptn.sh/app": "shop",
                },
            },
            "spec": {"containers": [{"name": "web", "image": "nginx:0.1"}]},
        },
    },
}


async def test_mutate_over_https(running: Running, store: MemoryStore) -> None:
    async with aiohttp.ClientSession() as session:
        for host in ("127.0.0.1", "localhost"):
            async with session.post(
                running.url("webhook", "/mutate-v1-pod", host),
                json=POD_REVIEW,
                ssl=running.client_ssl,
            ) as response:
                assert response.status == 200
                answer = await response.json()
            assert answer["response"]["uid"] == "7b3f" and answer["response"]["allowed"] is True
            mutated = apply_patch(POD_REVIEW["request"]["object"], decode_patch(answer))
            assert mutated["spec"]["schedulingGates"] == [{"name": "keptn-prechecks-gate"}]
    assert ("KeptnWorkload", "demo", "shop-web") in store.objects


async def test_untrusted_client_is_refused(running: Running) -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await session.post(
                running.url("webhook", "/mutate-v1-pod"),
                json=POD_REVIEW,
                ssl=ssl.create_default_context(),
            )


async def test_validating_webhooks_over_https(running: Running) -> None:
    review = {
        "request": {
            "uid": "v1",
            "operation": "CREATE",
            "object": {"metadata": {"name": "bad"}, "spec": {}},
        }
    }
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            running.url("webhook", "/validate-lifecycle-keptn-sh-v1-keptntaskdefinition"),
            json=review,
            ssl=running.client_ssl,
        ) as response,
    ):
        answer = await response.json()
    assert answer["response"]["allowed"] is False
    assert answer["response"]["status"]["message"].endswith(
        "Either Container, Python, or Deno field must be defined"
    )
    paths = {
        "/validate-metrics-keptn-sh-v1-keptnmetric": {"range": {"step": "1m"}},
        "/validate-metrics-keptn-sh-v1-analysisdefinition": {
            "totalScore": {"passPercentage": 1, "warningPercentage": 2}
        },
        "/validate-metrics-keptn-sh-v1-analysis": {"timeframe": {}},
    }
    async with aiohttp.ClientSession() as session:
        for path, spec in paths.items():
            body = {
                "request": {
                    "uid": "v",
                    "operation": "UPDATE",
                    "object": {"metadata": {"name": "x"}, "spec": spec},
                }
            }
            async with session.post(
                running.url("webhook", path), json=body, ssl=running.client_ssl
            ) as response:
                assert (await response.json())["response"]["allowed"] is False, path


async def test_malformed_reviews_get_400(running: Running) -> None:
    async with aiohttp.ClientSession() as session:
        for payload in (b"{not json", b"[]", json.dumps({"request": {}}).encode()):
            async with session.post(
                running.url("webhook", "/mutate-v1-pod"),
                data=payload,
                ssl=running.client_ssl,
                headers={"Content-Type": "application/json"},
            ) as response:
                assert response.status == 400, payload


async def test_metrics_text_and_openmetrics(running: Running) -> None:
    counter = Counter("keptn_test_events", "events seen", ["kind"], registry=running.registry)
    counter.labels(kind="pod").inc(3)
    async with aiohttp.ClientSession() as session:
        async with session.get(running.url("metrics", "/metrics")) as response:
            assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            text = await response.text()
        families = {f.name: f for f in parse_text(text)}
        [sample] = [
            s for s in families["keptn_test_events"].samples if s.name == "keptn_test_events_total"
        ]
        assert sample.labels == {"kind": "pod"} and sample.value == 3.0
        headers = {"Accept": "application/openmetrics-text; version=1.0.0"}
        async with session.get(running.url("metrics", "/metrics"), headers=headers) as response:
            assert response.headers["Content-Type"].startswith("application/openmetrics-text")
            text = await response.text()
        assert text.endswith("# EOF\n")
        families = {f.name: f for f in parse_openmetrics(text)}
        assert families["keptn_test_events"].samples[0].value == 3.0


async def test_probes_and_extra_routes(running: Running) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(running.url("probes", "/healthz")) as response:
            assert response.status == 200
        async with session.get(running.url("probes", "/readyz")) as response:
            assert response.status == 503
        running.ready = True
        async with session.get(running.url("probes", "/readyz")) as response:
            assert response.status == 200
        async with session.get(running.url("metrics", "/api/v1/metrics/demo/cpu")) as response:
            assert await response.json() == {"namespace": "demo", "name": "cpu"}
        async with session.get(running.url("metrics", "/mutate-v1-pod")) as response:
            assert response.status == 404  # webhooks are only served on the TLS listener


async def test_shared_metrics_and_probe_port(certs: CertificateBundle) -> None:
    with socket.socket() as probe:  # a free port, so metrics and probes can share it
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = OperatorServer(
        config=ServerConfig(host="127.0.0.1", metrics_port=port, probe_port=port),
        registry=CollectorRegistry(),
        ready=lambda: True,
        mutator=None,
        ssl_context=None,
    )
    await server.start()
    try:
        assert server.ports == {"metrics": port, "probes": port}
        async with aiohttp.ClientSession() as session:
            for path in ("/readyz", "/metrics"):
                async with session.get(f"http://127.0.0.1:{port}{path}") as response:
                    assert response.status == 200, path
    finally:
        await server.stop()


def test_certificates_cover_service_names(certs: CertificateBundle) -> None:
    cert = x509.load_pem_x509_certificate(certs.cert_file.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    names = san.get_values_for_type(x509.DNSName)
    assert "lifecycle-webhook-service.keptn-system.svc" in names
    assert set(dns_names("lifecycle-webhook-service", "keptn-system")) <= set(names)
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert base64.b64decode(certs.ca_bundle) == certs.ca_file.read_bytes()
    assert stat.S_IMODE(certs.key_file.stat().st_mode) == 0o600
    ca = x509.load_pem_x509_certificate(certs.ca_file.read_bytes())
    cert.verify_directly_issued_by(ca)
    assert certs.reused is False


def test_certificates_reused_while_valid(certs: CertificateBundle) -> None:
    before = certs.cert_file.read_bytes()
    again = ensure_certificates(
        certs.cert_file.parent,
        service="lifecycle-webhook-service",
        namespace="keptn-system",
        now=NOW + dt.timedelta(days=300),
    )
    assert again.reused is True and again.ca_bundle == certs.ca_bundle
    assert certs.cert_file.read_bytes() == before


@pytest.mark.parametrize(
    ("service", "namespace", "days"),
    [
        ("lifecycle-webhook-service", "keptn-system", 340),  # inside the renewal window
        ("other-service", "keptn-system", 1),  # names changed
    ],
)
def test_certificates_regenerated(
    certs: CertificateBundle, service: str, namespace: str, days: int
) -> None:
    now = NOW + dt.timedelta(days=days)
    again = ensure_certificates(
        certs.cert_file.parent, service=service, namespace=namespace, now=now
    )
    assert again.reused is False and again.ca_bundle != certs.ca_bundle
    assert again.not_after > now + dt.timedelta(days=300)


def test_certificates_regenerated_when_key_does_not_match(
    certs: CertificateBundle, tmp_path: Path
) -> None:
    other = ensure_certificates(tmp_path / "other", service="s", namespace="n", now=NOW)
    certs.key_file.write_bytes(other.key_file.read_bytes())
    again = ensure_certificates(
        certs.cert_file.parent,
        service="lifecycle-webhook-service",
        namespace="keptn-system",
        now=NOW,
    )
    assert again.reused is False
