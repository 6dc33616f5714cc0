"""keptn_certificate_expiry_timestamp_seconds follows the certificate the operator serves:
set at start, and again when a peer rotates the Secret keptn-certs or cert-manager.io renews
the mounted files (lifecycle/operator/certsecret.py polls, root reloads)."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from lifecycle.core import model
from lifecycle.kube import KubeClient
from lifecycle.operator.certs import dns_names, generate_pems, write_serving
from lifecycle.operator.root import Operator
from sandbox.server import Sandbox
from tests.e2e.flow.conftest import operator_settings
from tests.operator.test_certsecret import NS, keeper
from tests.support.waiting import eventually

GAUGE = "keptn_certificate_expiry_timestamp_seconds"


def expiry(operator: Operator) -> float | None:
    return operator.registry.get_sample_value(GAUGE, {"certificate": "webhook"})


async def until_expiry(operator: Operator, want: dt.datetime) -> None:
    await eventually(lambda: expiry(operator) == want.timestamp(), within=10)


async def test_gauge_follows_a_peers_rotation_of_the_secret(tmp_path: Path) -> None:
    sb = await Sandbox.start(node=False)
    kube = KubeClient.for_url(sb.url, token=sb.token)
    try:
        async with Operator(operator_settings(sb, tmp_path, cert_poll=0.1), client=kube) as op:
            first = expiry(op)  # the certificate made at start: a year
            later = dt.datetime.now(dt.UTC) + dt.timedelta(days=340)
            assert first is not None and first > later.timestamp() - 40 * 86400
            peer = keeper(kube, tmp_path / "peer", later)
            await peer.ensure()  # rotates: valid until later + 365 days
            assert peer.bundle is not None and peer.bundle.not_after.timestamp() > first
            await until_expiry(op, peer.bundle.not_after)
    finally:
        await kube.close()
        await sb.stop()


async def test_gauge_follows_cert_manager_renewing_the_mounted_files(tmp_path: Path) -> None:
    sb = await Sandbox.start(node=False)
    kube = KubeClient.for_url(sb.url, token=sb.token)
    names = dns_names("lifecycle-webhook-service", NS)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    mounted = tmp_path / "mounted"
    try:
        await kube.create(model.NAMESPACE, {"metadata": {"name": NS}})
        write_serving(mounted, generate_pems(names, now, dt.timedelta(days=1)))
        settings = operator_settings(
            sb, tmp_path, webhook_url_host=None, manage_certs=False, cert_dir=mounted,
            cert_poll=0.1,
        )  # fmt: skip
        async with Operator(settings, client=kube) as op:
            assert expiry(op) == (now + dt.timedelta(days=1)).timestamp()
            await asyncio.sleep(0.02)  # a later mtime than the first files
            write_serving(mounted, generate_pems(names, now, dt.timedelta(days=90)))
            await until_expiry(op, now + dt.timedelta(days=90))
    finally:
        await kube.close()
        await sb.stop()
