"""The sandbox: an aiohttp API server speaking the Kubernetes protocol on 127.0.0.1.

`Sandbox` wires store, registry, verbs, admission, garbage collector, fault injection and the
optional simulated node (`sandbox.node`, imported lazily) into one process:

    async with Sandbox(crds_dir=path, node=False) as sb:
        sb.url, sb.token, sb.kubeconfig_path, sb.store

Two ports on loopback serve the same API: `sb.url` is plain HTTP (for in-process clients such
as the node agent and tests using aiohttp or kubernetes_asyncio with `host=sb.url`), and
`sb.https_url` is HTTPS with a throw-away CA (`sb.ca_path`); the kubeconfig names the HTTPS one
because kubectl (client-go) only sends a bearer token over TLS.
Every request needs `Authorization: Bearer <token>` except /version, /healthz, /livez and
/readyz (as for anonymous users on a real cluster); others get 401. `sb.token` is the admin
(system:masters); ServiceAccount tokens (TokenRequest, `sb.authn.issue`) are
authorized by RBAC (`sandbox.authapi`, `sandbox.rbac`). Admin endpoints for tests
and the node agent: `/sandbox/faults` (GET/PUT fault settings) and
`/sandbox/pods/<ns>/<pod>/log[?container=c]` (PUT replaces, POST appends the text body).
It never imports lifecycle/ and never listens beyond loopback.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
import secrets
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from sandbox.admission import WebhookAdmission
from sandbox.aggregation import Aggregator
from sandbox.authapi import AuthApi
from sandbox.authn import Authenticator
from sandbox.crdversions import CrdVersions
from sandbox.endpoints import ServiceResolver
from sandbox.escalation import EscalationCheck
from sandbox.faults import Faults, FaultSettings
from sandbox.handlers import ResourceHandlers
from sandbox.inprocess import InProcessTransport
from sandbox.persistence import SqlitePersistence
from sandbox.rbac import BOOTSTRAP
from sandbox.resources import Registry
from sandbox.routes import Routes
from sandbox.serviceaccounts import DefaultServiceAccounts, ServiceAccountAdmission
from sandbox.store import Store
from sandbox.tls import ServingCert, make_serving_cert
from sandbox.verbs import Api, WriteOptions

__all__ = ["Sandbox", "SandboxSettings", "default_crds_dir"]


_DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_PARSED: dict[Path, tuple[tuple[int, int], list[dict[str, Any]]]] = {}


def _crd_documents(path: Path) -> list[dict[str, Any]]:
    """The CRDs of a file, parsed once per process while the file is unchanged (tests start
    many sandboxes on the same deploy/crds); callers copy before changing them."""
    stat = path.stat()
    key = (stat.st_mtime_ns, stat.st_size)
    cached = _PARSED.get(path)
    if cached is None or cached[0] != key:
        docs = [
            d
            for d in yaml.load_all(path.read_text(), Loader=_LOADER)
            if isinstance(d, dict) and d.get("kind") == "CustomResourceDefinition"
        ]
        cached = _PARSED[path] = (key, docs)
    return cached[1]


def _signing_key(data_dir: Path | None) -> bytes:
    """The key ServiceAccount tokens are signed with (kept in data_dir so they survive a restart)."""
    if data_dir is None:
        return secrets.token_bytes(32)
    path = Path(data_dir) / "sa-signing.key"
    if path.exists():
        return path.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    path.write_bytes(key)
    path.chmod(0o600)
    return key


def default_crds_dir() -> Path:
    """The repository's deploy/crds directory."""
    return Path(__file__).resolve().parent.parent / "deploy" / "crds"


_NODE_CRDS = Path(__file__).resolve().parent / "crds"
"""Third-party CRDs whose controllers the simulated node plays (Argo Rollouts): always served."""


@dataclass(frozen=True, slots=True)
class SandboxSettings:
    """How a sandbox runs. Every field has a default that suits a local run."""

    host: str = "127.0.0.1"
    port: int = 0
    """Plain-HTTP TCP port; 0 picks a free one (see `Sandbox.url`)."""
    https_port: int = 0
    """HTTPS TCP port named in the kubeconfig; 0 picks a free one (see `Sandbox.https_url`)."""
    token: str | None = None
    """Bearer token clients must send; None generates a random one."""
    kubeconfig_path: Path | None = None
    """Where the kubeconfig is written; None writes it to a temporary directory."""
    crds_dir: Path | None = None
    """CRD YAML files loaded at start; None means the repo's deploy/crds (if present)."""
    extra_crds: tuple[Path, ...] = ()
    """More CRD files or directories to load at start (tests use their own fixtures)."""
    data_dir: Path | None = None
    """SQLite persistence directory; None keeps everything in memory."""
    history: int = 1000
    """Watch events kept per resource; older resourceVersions get 410 Gone."""
    bookmark_interval: float = 5.0
    """Seconds between BOOKMARK events on idle watches that allow them."""
    pod_start_delay: float = 0.5
    """Passed to the simulated node: seconds from ungated to Running."""
    node: bool = True
    """Start `sandbox.node` if that module exists."""
    node_settings: Any = None
    """Settings object handed to `sandbox.node.start_node` (default: built from pod_start_delay)."""
    faults: FaultSettings = field(default_factory=FaultSettings)
    webhook_services: dict[str, str] = field(default_factory=dict)
    """Service references of webhook configurations -> `host:port` on loopback, keyed
    `<name>.<namespace>:<port>` (or `<name>.<namespace>` for any port). See `sandbox.endpoints`."""
    pod_addresses: dict[str, str] = field(default_factory=dict)
    """Pods (`<namespace>/<pod>`) -> `host:port`, for Services that route to their ready pods
    (also changeable at run time: `sb.admission.resolver.pod_addresses`)."""


class Sandbox:
    """One running sandbox API server (use `async with` or `start()`/`stop()`)."""

    def __init__(self, settings: SandboxSettings | None = None, **overrides: Any) -> None:
        settings = settings or SandboxSettings()
        if overrides:
            settings = dataclasses.replace(settings, **overrides)
        self.settings = settings
        self.token = settings.token or secrets.token_urlsafe(24)
        persistence = SqlitePersistence(settings.data_dir) if settings.data_dir else None
        self.store = Store(history=settings.history, persistence=persistence)
        self.registry = Registry.with_builtins()
        self.faults = Faults(settings.faults)
        resolver = ServiceResolver(self.store, settings.webhook_services, settings.pod_addresses)
        self.admission = WebhookAdmission(self.store, resolver)
        self.authn = Authenticator(self.store, self.token, _signing_key(settings.data_dir))
        self.auth = AuthApi(self.store, self.authn)
        self.api = Api(self.store, self.registry, self.admission)
        self.api.guards.append(EscalationCheck(self.auth.authz))
        self.api.plugins.append(ServiceAccountAdmission(self.store))
        DefaultServiceAccounts(self.store).attach()
        self.handlers = ResourceHandlers(
            api=self.api,
            faults=self.faults,
            bookmark_interval=settings.bookmark_interval,
            crd=CrdVersions(self.registry, self.admission),
        )
        self.aggregator = Aggregator(self.store, self.registry, self.admission)
        self.port = settings.port
        self.https_port = 0
        self.url = ""
        self.https_url = ""
        self.ca_path = Path()
        self.cert: ServingCert | None = None
        self.kubeconfig_path = settings.kubeconfig_path or Path()
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._runner: web.AppRunner | None = None
        self._app: web.Application | None = None
        self.node: Any = None

    # ---- lifecycle
    @classmethod
    async def start(cls, settings: SandboxSettings | None = None, **overrides: Any) -> Sandbox:
        sb = cls(settings, **overrides)
        await sb._start()
        return sb

    async def __aenter__(self) -> Sandbox:
        await self._start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    async def _start(self) -> None:
        try:
            await self._start_parts()
        except BaseException:
            # a failed start (bad CRD file, busy port, node error) leaves nothing running
            await self.stop()
            raise

    async def _start_parts(self) -> None:
        self._restore_crds()
        await self._bootstrap()
        app = Routes(
            auth=self.auth,
            registry=self.registry,
            store=self.store,
            faults=self.faults,
            resources=self.handlers,
            address=lambda: f"{self.settings.host}:{self.port}",
        ).build_app()
        app.middlewares.append(self.aggregator.middleware)
        self._app = app
        # handler_cancellation: a client that goes away cancels its request, so an idle watch
        # whose client disconnected is dropped at once instead of at its timeout.
        self._runner = web.AppRunner(
            app, access_log=None, shutdown_timeout=1.0, handler_cancellation=True
        )
        await self._runner.setup()
        self._tmp = tempfile.TemporaryDirectory(prefix="klt-sandbox-")
        tmp = Path(self._tmp.name)
        self.cert = make_serving_cert(tmp / "pki")
        self.ca_path = self.cert.ca_path
        self.port = await self._listen(self.settings.port, None)
        self.https_port = await self._listen(self.settings.https_port, self.cert.server_context())
        self.url = f"http://{self.settings.host}:{self.port}"
        self.https_url = f"https://{self.settings.host}:{self.https_port}"
        kubeconfig = self.settings.kubeconfig_path or tmp / "kubeconfig"
        self.kubeconfig_path = self.write_kubeconfig(kubeconfig, token=self.token)
        if self.settings.node:
            await self._start_node(app)

    async def _listen(self, port: int, ssl_context: Any) -> int:
        assert self._runner is not None
        site = web.TCPSite(self._runner, self.settings.host, port, ssl_context=ssl_context)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        return int(sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Stop the node, close every watch, stop serving and flush persistence."""
        if self.node is not None:
            with contextlib.suppress(Exception):
                await self.node.stop()
            self.node = None
        self.store.close_watchers()
        await self.admission.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.store.persistence is not None:
            self.store.persistence.close()
            self.store.persistence = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    async def _start_node(self, app: web.Application) -> None:
        from sandbox.node import NodeSettings, start_node  # the node is loaded only when used

        settings = self.settings
        node_settings = settings.node_settings or NodeSettings(
            pod_start_delay=settings.pod_start_delay
        )
        # the node's requests take the in-process path through the same app (no sockets)
        self.node = await start_node(self.url, self.token, node_settings, InProcessTransport(app))

    def write_kubeconfig(self, path: Path, *, token: str, namespace: str = "default") -> Path:
        """Write a kubeconfig for this sandbox that authenticates with `token` (e.g. an SA's)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(self._kubeconfig(namespace, token)))
        path.chmod(0o600)
        return path

    def _kubeconfig(self, namespace: str, token: str) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "sandbox",
                    "cluster": {
                        "server": self.https_url,
                        "certificate-authority-data": base64.b64encode(
                            self.cert.ca_pem if self.cert else b""
                        ).decode(),
                    },
                }
            ],
            "users": [{"name": "sandbox", "user": {"token": token}}],
            "contexts": [
                {
                    "name": "sandbox",
                    "context": {"cluster": "sandbox", "user": "sandbox", "namespace": namespace},
                }
            ],
            "current-context": "sandbox",
            "preferences": {},
        }

    # ---- initial content
    def _restore_crds(self) -> None:
        """Serve the CRDs already in a persisted store."""
        for entry in self.store.bucket("customresourcedefinitions.apiextensions.k8s.io").entries(
            None
        ):
            self.registry.set_crd(entry.obj)

    async def _bootstrap(self) -> None:
        ns_type = self.registry.lookup("", "v1", "namespaces")
        assert ns_type is not None
        for name in _DEFAULT_NAMESPACES:
            if self.store.get("namespaces", "", name) is None:
                await self.api.create(ns_type, "", {"metadata": {"name": name}})
        for obj in BOOTSTRAP:
            rt = self.registry.by_kind(obj["apiVersion"], obj["kind"])
            assert rt is not None
            if self.store.get(rt.store_key, "", obj["metadata"]["name"]) is None:
                await self.api.create(rt, "", json.loads(json.dumps(obj)))
        paths: list[Path] = []
        crds_dir = self.settings.crds_dir or default_crds_dir()  # a Path is never false
        for source in (crds_dir, *self.settings.extra_crds, _NODE_CRDS):
            if source.is_dir():
                paths.extend(
                    sorted(p for p in source.rglob("*") if p.suffix in (".yaml", ".yml", ".json"))
                )
            elif source.is_file():
                paths.append(source)
        for path in paths:
            for doc in _crd_documents(path):
                await self.apply_crd(doc)

    async def apply_crd(self, crd: dict[str, Any]) -> None:
        """Create or replace a CRD (and start serving its resources)."""
        rt = self.registry.lookup("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        assert rt is not None
        name = crd["metadata"]["name"]
        existing = self.store.get(rt.store_key, "", name)
        body = json.loads(json.dumps(crd))
        if existing is None:
            await self.api.create(rt, "", body)
        else:
            body["metadata"]["resourceVersion"] = str(existing.rv)
            await self.api.update(rt, "", name, body, "", WriteOptions())

    # ---- HTTP
