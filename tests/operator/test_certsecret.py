"""The webhook certificate shared through the Secret keptn-certs (lifecycle/operator/certsecret.py).

Against the sandbox over real HTTP: replicas racing to create it end up with one certificate;
a rotation keeps the previous CA trusted and is picked up by the other replica; key files are
0600 even over a stale temp file; the CA key is never written; cert-manager's files are served
and reloaded.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import ssl
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from lifecycle.admission.registration import MUTATING, VALIDATING, webhook_configurations
from lifecycle.core import model
from lifecycle.kube import KubeClient
from lifecycle.operator.certs import dns_names, generate_pems, write_serving
from lifecycle.operator.certsecret import SECRET_NAME, CertKeeper, FileCerts
from lifecycle.operator.root import Operator
from sandbox.server import Sandbox
from tests.e2e.flow.conftest import operator_settings

NS = "keptn-system"
NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.fixture
async def client() -> AsyncIterator[KubeClient]:
    sb = await Sandbox.start(node=False)
    kube = KubeClient.for_url(sb.url, token=sb.token)
    await kube.create(model.NAMESPACE, {"metadata": {"name": NS}})
    try:
        yield kube
    finally:
        await kube.close()
        await sb.stop()


def keeper(client: KubeClient, directory: Path, now: dt.datetime = NOW) -> CertKeeper:
    return CertKeeper(
        client,
        namespace=NS,
        service="lifecycle-webhook-service",
        directory=directory,
        now=lambda: now,
        poll=0.05,
    )


def cas(bundle_b64: str) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(base64.b64decode(bundle_b64))


async def test_replicas_racing_share_one_certificate(client: KubeClient, tmp_path: Path) -> None:
    replicas = [keeper(client, tmp_path / f"r{i}") for i in range(4)]
    await asyncio.gather(*(r.ensure() for r in replicas))
    served = {(tmp_path / f"r{i}" / "tls.crt").read_bytes() for i in range(4)}
    assert len(served) == 1  # every replica serves the winner's certificate
    bundles = {r.bundle.ca_bundle for r in replicas if r.bundle}
    assert len(bundles) == 1
    secret = await client.get(model.SECRET, SECRET_NAME, NS)
    assert secret["type"] == "kubernetes.io/tls"
    assert base64.b64decode(secret["data"]["tls.crt"]) in served
    for i in range(4):
        names = sorted(p.name for p in (tmp_path / f"r{i}").iterdir())
        assert names == ["ca.crt", "tls.crt", "tls.key"]  # no CA key anywhere
        assert stat.S_IMODE((tmp_path / f"r{i}" / "tls.key").stat().st_mode) == 0o600


async def test_rotation_keeps_the_old_ca_trusted_and_reaches_the_peer(
    client: KubeClient, tmp_path: Path
) -> None:
    first = keeper(client, tmp_path / "a")
    await first.ensure()
    assert first.bundle is not None
    old_ca = cas(first.bundle.ca_bundle)
    # 340 days later the certificate (365 days) is within renew_before (30 days): rotate
    later = keeper(client, tmp_path / "b", NOW + dt.timedelta(days=340))
    assert await later.ensure()
    assert later.bundle is not None
    rotated = cas(later.bundle.ca_bundle)
    assert len(rotated) == 2 and rotated[1] == old_ca[0]
    leaf = x509.load_pem_x509_certificate((tmp_path / "b" / "tls.crt").read_bytes())
    assert leaf.issuer == rotated[0].subject
    # the first replica picks the rotated Secret up at its next poll
    changed: asyncio.Queue[str] = asyncio.Queue()

    async def on_change(bundle: object) -> None:
        await changed.put("changed")

    task = asyncio.create_task(first.run(on_change))
    try:
        async with asyncio.timeout(5):
            await changed.get()
    finally:
        task.cancel()
    assert (tmp_path / "a" / "tls.crt").read_bytes() == (tmp_path / "b" / "tls.crt").read_bytes()


async def test_key_file_is_0600_over_a_stale_temp_file(tmp_path: Path) -> None:
    tmp_path.joinpath(".tls.key.tmp").write_bytes(b"stale")
    tmp_path.joinpath(".tls.key.tmp").chmod(0o644)
    pems = generate_pems(dns_names("svc", "ns"), NOW, dt.timedelta(days=1))
    bundle = write_serving(tmp_path, pems)
    assert stat.S_IMODE(bundle.key_file.stat().st_mode) == 0o600


async def test_cert_manager_files_are_served_and_reloaded(tmp_path: Path) -> None:
    names = dns_names("lifecycle-webhook-service", NS)
    write_serving(tmp_path, generate_pems(names, NOW, dt.timedelta(days=1)))
    files = FileCerts(tmp_path, poll=0.05)
    assert await files.ensure() and files.bundle is not None
    assert not await files.ensure()  # unchanged files: nothing to reload
    renewed: asyncio.Queue[bytes] = asyncio.Queue()

    async def on_change(bundle: object) -> None:
        await renewed.put((tmp_path / "tls.crt").read_bytes())

    task = asyncio.create_task(files.run(on_change))
    try:
        await asyncio.sleep(0.02)
        pems = generate_pems(names, NOW, dt.timedelta(days=2))
        write_serving(tmp_path, pems)
        async with asyncio.timeout(5):
            assert await renewed.get() == pems.cert
    finally:
        task.cancel()


async def test_operator_with_cert_manager_leaves_the_ca_bundle_alone(tmp_path: Path) -> None:
    """CERT_MANAGER_ENABLED=false: the mounted files are served; no Secret, no caBundle write."""
    sb = await Sandbox.start(node=False)
    kube = KubeClient.for_url(sb.url, token=sb.token)
    try:
        await kube.create(model.NAMESPACE, {"metadata": {"name": NS}})
        for body in webhook_configurations(ca_bundle="Q0E=", url_base=None, keptn_namespace=NS):
            await kube.create(MUTATING if body["kind"] == MUTATING.kind else VALIDATING, body)
        pems = generate_pems(dns_names("lifecycle-webhook-service", NS), NOW, dt.timedelta(days=1))
        write_serving(tmp_path / "mounted", pems)
        settings = operator_settings(
            sb, tmp_path, webhook_url_host=None, manage_certs=False, cert_dir=tmp_path / "mounted"
        )
        async with Operator(settings, client=kube) as operator:
            port = operator.ports["webhook"]
            _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=_trusting())
            served = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
            writer.close()
        assert served == x509.load_pem_x509_certificate(pems.cert).public_bytes(Encoding.DER)
        mutating = await kube.get(MUTATING, "lifecycle-mutating-webhook-configuration")
        assert {h["clientConfig"]["caBundle"] for h in mutating["webhooks"]} == {"Q0E="}
        secrets, _ = await kube.list(model.SECRET, NS)
        assert SECRET_NAME not in {s["metadata"]["name"] for s in secrets}
    finally:
        await kube.close()
        await sb.stop()


def _trusting() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


async def test_a_deleted_secret_is_recreated_still_trusting_what_is_served(
    client: KubeClient, tmp_path: Path
) -> None:
    first, second = keeper(client, tmp_path / "a"), keeper(client, tmp_path / "b")
    await first.ensure()
    await second.ensure()
    assert first.bundle is not None
    served = cas(first.bundle.ca_bundle)[0]
    await client.delete(model.SECRET, SECRET_NAME, NS)
    assert await first.ensure()  # recreated with a new CA ...
    assert first.bundle is not None
    bundle = cas(first.bundle.ca_bundle)
    assert bundle[0] != served and bundle[1] == served  # ... and the one the peer serves
    assert await second.ensure()
    assert (tmp_path / "a" / "tls.crt").read_bytes() == (tmp_path / "b" / "tls.crt").read_bytes()


async def test_a_running_operator_serves_a_peers_rotation_and_trusts_it(tmp_path: Path) -> None:
    """Reload end to end: the live TLS listener and both caBundles follow the rotated Secret."""
    sb = await Sandbox.start(node=False)
    kube = KubeClient.for_url(sb.url, token=sb.token)
    try:
        settings = operator_settings(sb, tmp_path, cert_poll=0.1)
        async with Operator(settings, client=kube) as operator:
            port = operator.ports["webhook"]
            before = await _served(port)
            peer = keeper(kube, tmp_path / "peer", dt.datetime.now(dt.UTC) + dt.timedelta(days=340))
            await peer.ensure()  # a peer replica rotates the Secret
            rotated = (tmp_path / "peer" / "tls.crt").read_bytes()
            want = x509.load_pem_x509_certificate(rotated).public_bytes(Encoding.DER)
            assert want != before
            assert peer.bundle is not None
            async with asyncio.timeout(10):
                while True:
                    if await _served(port) == want and await _bundles(kube) == {
                        peer.bundle.ca_bundle
                    }:
                        break
                    await asyncio.sleep(0.05)
    finally:
        await kube.close()
        await sb.stop()


async def _served(port: int) -> bytes:
    _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=_trusting())
    der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    writer.close()
    return bytes(der)


async def _bundles(kube: KubeClient) -> set[str]:
    """The caBundles of both webhook configurations."""
    found = set()
    for kind, name in (
        (MUTATING, "lifecycle-mutating-webhook-configuration"),
        (VALIDATING, "lifecycle-validating-webhook-configuration"),
    ):
        config = await kube.get(kind, name)
        found |= {h["clientConfig"]["caBundle"] for h in config["webhooks"]}
    return found
