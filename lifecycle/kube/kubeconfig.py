"""Where the API server is and how to reach it: kubeconfig files (kubectl's rules) and in-cluster.

Role: turn a kubeconfig, the pod's service account, or a bare URL into a `ClusterAccess`: the
server URL, the TLS settings (CA, client certificate, insecure-skip-tls-verify,
tls-server-name), a proxy and the `Credentials` that make the Authorization header. Both
transports (aiohttp for the operator, the standard library for `klt status`/`klt trace`) take
it, so the CLI starts without importing an HTTP library. The context's namespace is not read
(klt's commands take -n or list every namespace).

What a kubeconfig may hold (as kubectl reads it):
- files: the explicit path only; else every existing file of ``$KUBECONFIG`` merged (the
  first file to name a cluster/context/user, or to set current-context, wins); else
  ~/.kube/config. Relative paths in a file are relative to that file's directory.
- cluster: ``server``, ``certificate-authority[-data]``, ``insecure-skip-tls-verify``,
  ``tls-server-name``, ``proxy-url``.
- user: ``client-certificate[-data]``/``client-key[-data]``, ``token``, ``tokenFile``
  (re-read every minute), ``username``/``password``, ``exec`` (client.authentication.k8s.io
  credential plugins: token or client certificate, cached until it expires, run again on 401),
  ``auth-provider`` only through the token it caches (``id-token``/``access-token``).

Invariants: imports the standard library and PyYAML only (no HTTP library); bad input raises
`KubeconfigError` naming the file and the field. Secrets are never put in messages.
"""

from __future__ import annotations

import base64
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lifecycle.kube.credentials import Credentials, ExecPlugin, KubeconfigError, TokenFile

__all__ = ["ClusterAccess", "KubeconfigError", "in_cluster", "load_kubeconfig"]

Node = dict[str, Any]
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


@dataclass(slots=True)
class ClusterAccess:
    """One API server and the means to talk to it."""

    server: str
    credentials: Credentials = field(default_factory=Credentials)
    ca_file: str | None = None
    ca_data: str | None = None
    """PEM text."""
    cert: tuple[str | bytes, str | bytes] | None = None
    """Client certificate and key: file paths (str) or PEM bytes."""
    insecure: bool = False
    tls_server_name: str | None = None
    proxy_url: str | None = None
    _ssl: ssl.SSLContext | None = field(default=None, repr=False)

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context for an https server (built once; None for plain http)."""
        if not self.server.startswith("https:"):
            return None
        if self._ssl is None:
            ctx = ssl.create_default_context(cafile=self.ca_file, cadata=self.ca_data)
            if self.insecure:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            if self.cert is not None:
                load_cert_chain(ctx, *self.cert)
            self.credentials.tls = ctx
            self._ssl = ctx
        return self._ssl


def load_cert_chain(ctx: ssl.SSLContext, cert: str | bytes, key: str | bytes) -> None:
    """Load a client certificate from files or PEM bytes (through 0600 temporary files,
    removed at once: the ssl module reads certificates from files only)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="klt-tls-") as tmp:
        files = []
        for name, value in (("cert.pem", cert), ("key.pem", key)):
            if isinstance(value, bytes):
                fd, path = tempfile.mkstemp(suffix=name, dir=tmp)  # mode 0600
                with open(fd, "wb") as f:
                    f.write(value)
                value = path
            files.append(value)
        ctx.load_cert_chain(*files)


# --- in-cluster ------------------------------------------------------------------------------------


def in_cluster(
    env: Mapping[str, str] | None = None, root: str = SERVICE_ACCOUNT_DIR
) -> ClusterAccess:
    """The pod's service account: KUBERNETES_SERVICE_HOST/PORT, its token (re-read every
    minute: bound tokens rotate) and CA."""
    env = os.environ if env is None else env
    host, port = env.get("KUBERNETES_SERVICE_HOST"), env.get("KUBERNETES_SERVICE_PORT")
    if not host or not port:
        raise KubeconfigError(
            "not in a cluster: KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT are not set"
        )
    if ":" in host:
        host = f"[{host}]"
    token, ca = os.path.join(root, "token"), os.path.join(root, "ca.crt")
    for path in (token, ca):
        if not os.path.isfile(path):
            raise KubeconfigError(f"not in a cluster: {path} does not exist")
    return ClusterAccess(
        server=f"https://{host}:{port}",
        credentials=Credentials(token_file=TokenFile(token)),
        ca_file=ca,
    )


# --- kubeconfig files ------------------------------------------------------------------------------


def kubeconfig_files(path: str | None, env: Mapping[str, str] | None = None) -> list[str]:
    """The files to merge, in kubectl's order (missing ones skipped)."""
    env = os.environ if env is None else env
    if path:
        return [os.path.expanduser(path)]
    listed = [os.path.expanduser(p) for p in env.get("KUBECONFIG", "").split(os.pathsep) if p]
    if listed:
        return [p for p in listed if os.path.isfile(p)]
    home = env.get("HOME") or str(Path.home())
    return [os.path.join(home, ".kube", "config")]


def _read(path: str) -> Node:
    import yaml

    try:
        with open(path, "rb") as f:
            doc = yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except FileNotFoundError as exc:
        raise KubeconfigError(f"kubeconfig {path} does not exist") from exc
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise KubeconfigError(f"kubeconfig {path}: not a mapping")
    return doc


def _merge(paths: list[str]) -> tuple[object, dict[str, dict[str, tuple[Node, str]]]]:
    """The current-context of the first file setting it; named entries with their file."""
    current = None
    named: dict[str, dict[str, tuple[Node, str]]] = {"clusters": {}, "contexts": {}, "users": {}}
    for path in paths:
        doc = _read(path)
        current = current or doc.get("current-context")
        for section, entries in named.items():
            for i, entry in enumerate(doc.get(section) or ()):
                if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                    raise KubeconfigError(f"kubeconfig {path}: {section}[{i}] has no name")
                entries.setdefault(entry["name"], (entry, path))
    return current, named


def _entry(
    named: dict[str, dict[str, tuple[Node, str]]], section: str, name: str, where: str
) -> _Fields:
    body_key = section[:-1]  # clusters -> cluster
    found = named[section].get(name)
    if found is None:
        raise KubeconfigError(f"{where}: {body_key} {name!r} is not in {section}")
    entry, path = found
    body = entry.get(body_key) or {}
    if not isinstance(body, dict):
        raise KubeconfigError(f"kubeconfig {path}: {section}[{name}].{body_key}: not a mapping")
    return _Fields(body, path, f"{section}[{name}].{body_key}")


class _Fields:
    """Reads the fields of one cluster/user entry, naming them in errors."""

    def __init__(self, body: Node, path: str, where: str) -> None:
        self.body, self.path, self.where = body, path, where
        self.base = os.path.dirname(os.path.abspath(path))

    def name(self, key: str) -> str:
        return f"kubeconfig {self.path}: {self.where}.{key}"

    def text(self, key: str) -> str | None:
        value = self.body.get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise KubeconfigError(f"{self.name(key)}: must be a string")
        return value

    def file(self, key: str) -> str | None:
        value = self.text(key)
        if value is None:
            return None
        full = os.path.join(self.base, os.path.expanduser(value))
        if not os.path.isfile(full):
            raise KubeconfigError(f"{self.name(key)}: file {full} does not exist")
        return full

    def file_or_data(self, key: str) -> str | bytes | None:
        """`key`-data decoded, else the path of the file `key` names."""
        data = self.text(f"{key}-data")
        if data is None:
            return self.file(key)
        try:
            return base64.b64decode(data, validate=True)
        except ValueError as exc:
            raise KubeconfigError(f"{self.name(f'{key}-data')}: not valid base64") from exc


def load_kubeconfig(
    path: str | None = None, context: str | None = None, env: Mapping[str, str] | None = None
) -> ClusterAccess:
    """The ClusterAccess of `context` (default: current-context) of the kubeconfig(s)."""
    paths = kubeconfig_files(path, env)
    if not paths:
        raise KubeconfigError("no kubeconfig: none of $KUBECONFIG exists")
    current, named = _merge(paths)
    where = "kubeconfig " + ", ".join(paths)
    name = context or current
    if not name:
        raise KubeconfigError(f"{where}: current-context is not set")
    ctx = _entry(named, "contexts", str(name), where).body
    cluster_name = ctx.get("cluster")
    if not cluster_name:
        raise KubeconfigError(f"{where}: contexts[{name}].context.cluster is not set")
    c = _entry(named, "clusters", str(cluster_name), where)
    server = c.text("server")
    if not server:
        raise KubeconfigError(f"{c.name('server')}: is not set")
    ca = c.file_or_data("certificate-authority")
    access = ClusterAccess(
        server=server.rstrip("/"),
        ca_file=ca if isinstance(ca, str) else None,
        ca_data=ca.decode() if isinstance(ca, bytes) else None,
        insecure=bool(c.body.get("insecure-skip-tls-verify")),
        tls_server_name=c.text("tls-server-name"),
        proxy_url=c.text("proxy-url"),
    )
    user_name = ctx.get("user")
    if user_name:
        _user(access, _entry(named, "users", str(user_name), where))
    return access


def _user(access: ClusterAccess, u: _Fields) -> None:
    """Fill the credentials and client certificate of `access` from a user entry."""
    cert, key = u.file_or_data("client-certificate"), u.file_or_data("client-key")
    if (cert is None) != (key is None):
        missing = "client-key" if key is None else "client-certificate"
        raise KubeconfigError(f"{u.name(missing)}: is not set (both or neither are needed)")
    if cert is not None and key is not None:
        access.cert = (cert, key)
    creds = access.credentials
    creds.token = u.text("token")
    token_file = u.file("tokenFile")
    if token_file and not creds.token:
        creds.token_file = TokenFile(token_file)
    username, password = u.text("username"), u.text("password")
    if username and password:
        creds.basic = (username, password)
    if isinstance(u.body.get("exec"), dict):
        creds.exec = ExecPlugin.from_config(u.body["exec"], u.name("exec"), access.server)
    provider = u.body.get("auth-provider")
    if isinstance(provider, dict) and not (creds.token or creds.exec):
        config = provider.get("config") or {}
        cached = config.get("id-token") or config.get("access-token")
        if not cached:
            raise KubeconfigError(
                f"{u.name('auth-provider')}: {provider.get('name')!r} without a cached token "
                "is not supported; use an exec credential plugin (e.g. kubelogin)"
            )
        creds.token = str(cached)
