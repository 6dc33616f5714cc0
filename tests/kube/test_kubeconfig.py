"""Our kubeconfig loader and both transports against real servers: the sandbox over TLS (CA,
token, tls-server-name, insecure-skip-tls-verify, exec plugins, token files) and an aiohttp
server that requires a client certificate."""

from __future__ import annotations

import base64
import datetime
import json
import ssl
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web

from lifecycle.core.model import CONFIG_MAP, NAMESPACE
from lifecycle.kube.client import KubeClient
from lifecycle.kube.credentials import KubeconfigError
from lifecycle.kube.errors import Transient, Unauthorized
from lifecycle.kube.kubeconfig import in_cluster, load_kubeconfig
from sandbox import Sandbox
from tests.support.http import serve

TRANSPORTS = pytest.mark.parametrize("light", [False, True], ids=["aiohttp", "stdlib"])


def config(server: str, user: dict[str, Any], **cluster: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "c",
        "clusters": [{"name": "k", "cluster": {"server": server, **cluster}}],
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u", "namespace": "ns"}}],
        "users": [{"name": "u", "user": user}],
    }


def write(path: Path, doc: dict[str, Any]) -> str:
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def ca_data(sb: Sandbox) -> str:
    return base64.b64encode(sb.ca_path.read_bytes()).decode()


async def names(client: KubeClient) -> set[str]:
    items, _ = await client.list(NAMESPACE)
    return {i["metadata"]["name"] for i in items}


def test_kubeconfig_files_merge_like_kubectl(tmp_path: Path) -> None:
    """$KUBECONFIG: the first file naming an entry or current-context wins; relative paths
    are relative to the file that holds them."""
    (tmp_path / "b" / ".kube").mkdir(parents=True)
    (tmp_path / "b" / ".kube" / "token").write_text("from-file\n")
    first = {
        "current-context": "c",
        "clusters": [{"name": "k", "cluster": {"server": "http://one"}}],
    }
    second = config("http://two", {"tokenFile": "token"}, **{"insecure-skip-tls-verify": True})
    second["current-context"] = "other"
    env = {"KUBECONFIG": f"{tmp_path}/none:{write(tmp_path / 'a', first)}:"
           f"{write(tmp_path / 'b' / '.kube' / 'config', second)}"}  # fmt: skip
    access = load_kubeconfig(None, env=env)
    assert access.server == "http://one" and not access.insecure
    assert access.credentials.token_file is not None
    assert access.credentials.token_file.token() == "from-file"
    home = load_kubeconfig(None, "c", env={"HOME": str(tmp_path / "b"), "KUBECONFIG": ""})
    assert home.server == "http://two" and home.insecure


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["clusters"][0]["cluster"].pop("server"), "clusters[k].cluster.server: is not set"),
        (lambda d: d.update({"current-context": "nope"}), "context 'nope' is not in contexts"),
        (
            lambda d: d["clusters"][0]["cluster"].update({"certificate-authority-data": "%%"}),
            "clusters[k].cluster.certificate-authority-data: not valid base64",
        ),
        (
            lambda d: d["clusters"][0]["cluster"].update({"certificate-authority": "ca.pem"}),
            "clusters[k].cluster.certificate-authority: file ",
        ),
        (
            lambda d: d["users"][0]["user"].update({"client-key-data": "eA=="}),
            "users[u].user.client-certificate: is not set",
        ),
        (lambda d: d["users"][0]["user"].update({"exec": {"apiVersion": "v1"}}), "user.exec.command: is not set"),
        (
            lambda d: d["users"][0]["user"].update({"auth-provider": {"name": "oidc", "config": {}}}),
            "'oidc' without a cached token is not supported",
        ),
    ],
)  # fmt: skip
def test_bad_kubeconfigs_name_the_field(tmp_path: Path, change: Any, message: str) -> None:
    doc = config("https://x", {})
    change(doc)
    with pytest.raises(KubeconfigError, match=r"kubeconfig .*") as err:
        load_kubeconfig(write(tmp_path / "config", doc))
    assert message in str(err.value)


def test_in_cluster_reads_the_service_account(tmp_path: Path) -> None:
    for name, text in (("token", "t1"), ("ca.crt", "x"), ("namespace", "keptn-system")):
        (tmp_path / name).write_text(text)
    env = {"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"}
    access = in_cluster(env, str(tmp_path))
    assert access.server == "https://[fd00::1]:443"
    assert access.credentials.token_file is not None
    with pytest.raises(KubeconfigError, match="KUBERNETES_SERVICE_HOST"):
        in_cluster({}, str(tmp_path))


@TRANSPORTS
async def test_tls_token_watch_and_server_name(tmp_path: Path, light: bool) -> None:
    """CA data + token over HTTPS; a watch streams (aiohttp); a wrong tls-server-name fails the
    handshake and insecure-skip-tls-verify lets it through."""
    async with Sandbox(node=False) as sb:
        good = config(
            sb.https_url, {"token": sb.token}, **{"certificate-authority-data": ca_data(sb)}
        )
        async with await KubeClient.from_kubeconfig(write(tmp_path / "c", good), light=light) as kc:
            assert "default" in await names(kc)
            await kc.create(CONFIG_MAP, {"metadata": {"name": "w", "namespace": "default"}})
            if not light:  # the light transport does not stream (its commands poll)
                events = kc.watch(CONFIG_MAP, "default", resource_version="0", timeout_seconds=5)
                etype, obj = await anext(events)
                assert (etype, obj["metadata"]["name"], obj["kind"]) == ("ADDED", "w", "ConfigMap")
                await events.aclose()
                assert kc.request_counts == {"list": 1, "create": 1, "watch": 1}

        good["clusters"][0]["cluster"]["tls-server-name"] = "wrong.example"
        async with await KubeClient.from_kubeconfig(write(tmp_path / "c", good), light=light) as kc:
            with pytest.raises(Transient, match=r"CERTIFICATE_VERIFY_FAILED|certificate"):
                await names(kc)
        insecure = config(sb.https_url, {"token": sb.token}, **{"insecure-skip-tls-verify": True})
        async with await KubeClient.from_kubeconfig(
            write(tmp_path / "c", insecure), light=light
        ) as kc:
            assert "default" in await names(kc)
            kc.access.credentials.token = "wrong"
            with pytest.raises(Unauthorized):
                await names(kc)


@TRANSPORTS
async def test_exec_plugin_runs_again_after_a_401(tmp_path: Path, light: bool) -> None:
    """The plugin's first token is stale: the 401 makes the client run it again and retry."""
    async with Sandbox(node=False) as sb:
        calls = tmp_path / "calls"
        plugin = tmp_path / "plugin.py"
        plugin.write_text(
            "import json, os, pathlib\n"
            f"calls = pathlib.Path({str(calls)!r})\n"
            "n = len(calls.read_text()) if calls.exists() else 0\n"
            "calls.write_text('x' * (n + 1))\n"
            "info = json.loads(os.environ['KUBERNETES_EXEC_INFO'])\n"
            f"token = {sb.token!r} if n else 'stale'\n"
            "print(json.dumps({'apiVersion': info['apiVersion'], 'kind': 'ExecCredential',\n"
            "  'status': {'token': token + os.environ['SUFFIX'],\n"
            "             'expirationTimestamp': '2999-01-01T00:00:00Z'}}))\n"
        )
        user = {
            "exec": {
                "apiVersion": "client.authentication.k8s.io/v1",
                "command": sys.executable,
                "args": [str(plugin)],
                "env": [{"name": "SUFFIX", "value": ""}],
                "interactiveMode": "Never",
            }
        }
        doc = config(sb.https_url, user, **{"certificate-authority-data": ca_data(sb)})
        async with await KubeClient.from_kubeconfig(write(tmp_path / "c", doc), light=light) as kc:
            assert "default" in await names(kc)
            assert "default" in await names(kc)
        assert calls.read_text() == "xx"  # stale token, then the good one (cached after)


async def test_a_missing_plugin_names_its_install_hint(tmp_path: Path) -> None:
    exec_ = {"apiVersion": "client.authentication.k8s.io/v1", "command": str(tmp_path / "none"),
             "installHint": "install it with: apt-get install none"}  # fmt: skip
    doc = config("https://127.0.0.1:1", {"exec": exec_})
    async with await KubeClient.from_kubeconfig(write(tmp_path / "c", doc), light=True) as kc:
        with pytest.raises(KubeconfigError, match=r"users\[u\]\.user\.exec\.command: .*apt-get"):
            await names(kc)


@TRANSPORTS
async def test_token_file_is_read_again_after_a_401(tmp_path: Path, light: bool) -> None:
    async with Sandbox(node=False) as sb:
        token = tmp_path / "token"
        token.write_text("rotated-away")
        doc = config(
            sb.https_url, {"tokenFile": str(token)}, **{"certificate-authority-data": ca_data(sb)}
        )
        async with await KubeClient.from_kubeconfig(write(tmp_path / "c", doc), light=light) as kc:
            with pytest.raises(Unauthorized):
                await names(kc)
            token.write_text(sb.token)
            assert "default" in await names(kc)


def _pki(tmp_path: Path) -> tuple[ssl.SSLContext, bytes, bytes, bytes]:
    """A server context that requires a client certificate, and the client's CA/cert/key PEMs."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    from sandbox.tls import make_serving_cert

    serving = make_serving_cert(tmp_path / "server")
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "client-ca")])

    def cert(subject: x509.Name, key: Any, ca: bool) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        return builder.sign(ca_key, hashes.SHA256())

    client_key = ec.generate_private_key(ec.SECP256R1())
    client = cert(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "admin")]), client_key, False)
    pem = serialization.Encoding.PEM
    server = serving.server_context()
    server.verify_mode = ssl.CERT_REQUIRED
    server.load_verify_locations(cadata=cert(ca_name, ca_key, True).public_bytes(pem).decode())
    key_pem = client_key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return server, serving.ca_pem, client.public_bytes(pem), key_pem


@TRANSPORTS
async def test_client_certificate_data(tmp_path: Path, light: bool) -> None:
    """client-certificate-data/client-key-data reach a server that requires a client certificate."""
    server_ctx, ca, cert, key = _pki(tmp_path)
    seen: list[str] = []

    async def namespaces(request: web.Request) -> web.Response:
        peer = request.transport.get_extra_info("peercert") if request.transport else None
        seen.append(json.dumps(peer))
        return web.json_response({"kind": "NamespaceList", "metadata": {}, "items": []})

    app = web.Application()
    app.router.add_get("/api/v1/namespaces", namespaces)
    b64 = lambda data: base64.b64encode(data).decode()  # noqa: E731
    async with serve(app, server_ctx) as url:
        user = {"client-certificate-data": b64(cert), "client-key-data": b64(key)}
        doc = config(url, user, **{"certificate-authority-data": b64(ca)})
        async with await KubeClient.from_kubeconfig(write(tmp_path / "c", doc), light=light) as kc:
            assert await names(kc) == set()
        del user["client-key-data"], user["client-certificate-data"]
        async with await KubeClient.from_kubeconfig(write(tmp_path / "c", doc), light=light) as kc:
            with pytest.raises(Transient):
                await names(kc)
    assert len(seen) == 1 and "admin" in seen[0]
