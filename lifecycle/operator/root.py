"""The composition root of `klt operator`: builds every part once and wires them together.

Role: from `RunSettings` build the KubeClient (kubeconfig or in-cluster), one Informer per kind of
`context.KINDS` with `context.INDEXES`, an EventRecorder per KLT component (each feeding the
CloudEvents sender), Telemetry on a fresh CollectorRegistry, Tracing, the ConfigHolder (the
KeptnConfig controller writes it; listeners retarget tracing and CloudEvents), the controllers
(the `setup(ctx)` of each module of `components.CONTROLLER_MODULES`), the HTTP server (/metrics
and probes plain, webhooks TLS with certificates from the Secret keptn-certs shared by every
replica, lifecycle.operator.certsecret) and leader election on a Lease.

    async with Operator(RunSettings(kubeconfig=path, webhook_url_host="127.0.0.1")) as op:
        await op.wait_ready()     # caches synced, listeners bound, webhooks registered
        await op.wait_leading()   # controllers running
        op.ports, op.client, op.telemetry, op.registry, op.context

Invariants: webhooks and informers run on every replica; controllers run only on the Lease
holder (or always with leader_elect=False) and only after every informer listed once; losing
the Lease stops the controllers and makes `run()` (lifecycle.operator.main) exit non-zero (the pod restarts, as with
controller-runtime). `stop()` releases the Lease, drains events and spans, and closes the client.
Must not: hold flow logic (controllers do) or import sandbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Mapping
from typing import Any

from opentelemetry.sdk.trace.export import SpanExporter
from prometheus_client import CollectorRegistry

from lifecycle.admission.conversion_registration import register_conversion
from lifecycle.admission.registration import (
    KubeAdmissionStore,
    register_webhooks,
    retry_transient,
)
from lifecycle.admission.webhook import PodMutator
from lifecycle.controllers.config import apply_config
from lifecycle.controllers.metric import metric_routes
from lifecycle.core import model
from lifecycle.core.secrets import install_log_scrubbing
from lifecycle.flow.argo import rollouts_served
from lifecycle.flow.context import (
    ConfigHolder,
    OperatorContext,
)
from lifecycle.kube.client import KubeClient
from lifecycle.kube.controller import Controller, ObjectKey
from lifecycle.kube.errors import AlreadyExists, KubeError, NotFound
from lifecycle.kube.events import EventRecorder
from lifecycle.kube.informer import Informer
from lifecycle.kube.leader import LeaderElector
from lifecycle.observability.cloudevents import CloudEventSender
from lifecycle.observability.kltgauges import KeptnMetricGauges
from lifecycle.observability.spanmarks import SpanMarks
from lifecycle.observability.telemetry import Telemetry
from lifecycle.observability.telemetry_ops import webhook_middleware
from lifecycle.operator.certs import CertificateBundle
from lifecycle.operator.certsecret import CertKeeper, FileCerts
from lifecycle.operator.components import CONTROLLER_MODULES, build_informers
from lifecycle.operator.custommetrics import custom_metrics_routes
from lifecycle.operator.server import OperatorServer, server_ssl_context
from lifecycle.operator.settings import RunSettings
from lifecycle.operator.wiring import Recorders, instrument, load_setups
from tracing.setup import ExporterKind, Tracing, parse_target

__all__ = ["Operator"]

log = logging.getLogger(__name__)


class Operator:
    """The running operator; `start()`/`stop()` or `async with`."""

    def __init__(
        self,
        settings: RunSettings | None = None,
        *,
        client: KubeClient | None = None,
        span_exporter: SpanExporter | None = None,
        identity: str | None = None,
    ) -> None:
        """`client` overrides the settings' kubeconfig; `span_exporter` the tracing URL (tests)."""
        install_log_scrubbing()  # secret values never reach a log line
        self.settings = settings or RunSettings()
        self._given_client = client
        self._span_exporter = span_exporter
        self._identity = identity or self.settings.leader_identity
        self.registry = CollectorRegistry()
        self.telemetry = Telemetry(self.registry)
        # A span file is written synchronously (no batch to lose; the span marks below cover
        # the transition being committed); network exporters stay batched.
        target = self.settings.span_target
        to_file = target is not None and parse_target(target).kind is ExporterKind.FILE
        self._batched = span_exporter is None and not to_file
        self.tracing = Tracing(target, exporter=span_exporter, batch=self._batched)
        self.holder = ConfigHolder()
        self.cloudevents = CloudEventSender(None, self.telemetry)
        self.controllers: list[Controller[ObjectKey]] = []
        self.informers: dict[model.ResourceKind, Informer] = {}
        self.ports: dict[str, int] = {}
        self.lost_leadership = asyncio.Event()
        self._client: KubeClient | None = None
        self.marks: SpanMarks | None = None
        self._ctx: OperatorContext | None = None
        self._server: OperatorServer | None = None
        self._mutator: PodMutator | None = None
        self._ssl: ssl.SSLContext | None = None
        self._elector: LeaderElector | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._ready = asyncio.Event()
        self._leading = asyncio.Event()
        self._background: set[asyncio.Task[Any]] = set()

    # -- accessors ----------------------------------------------------------------------

    @property
    def client(self) -> KubeClient:
        assert self._client is not None, "operator not started"
        return self._client

    @property
    def context(self) -> OperatorContext:
        assert self._ctx is not None, "operator not started"
        return self._ctx

    @property
    def ready(self) -> bool:
        """Every informer listed once and the listeners are bound."""
        return self._ready.is_set()

    @property
    def leading(self) -> bool:
        """This replica runs the controllers now."""
        return self._leading.is_set()

    async def wait_ready(self) -> None:
        """Wait until every informer listed once (wrap in `asyncio.timeout` to bound it)."""
        await self._ready.wait()

    async def wait_leading(self) -> None:
        """Wait until this replica runs the controllers (wrap in `asyncio.timeout`)."""
        await self._leading.wait()

    # -- lifecycle ----------------------------------------------------------------------

    async def __aenter__(self) -> Operator:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    async def _make_client(self) -> KubeClient:
        if self._given_client is not None:
            return self._given_client
        if self.settings.in_cluster:
            return await KubeClient.in_cluster()
        return await KubeClient.from_kubeconfig(self.settings.kubeconfig)

    async def start(self) -> None:
        """Build and start everything; returns once listening (readiness follows in the background)."""
        s = self.settings
        op = s.operator
        client = self._client = await self._make_client()
        if self._span_exporter is None:
            # A batch, or the span of a transition being committed, can die with the process:
            # mark what was delivered (a span file: written and flushed), re-export the rest
            # after a restart (at least once). Only an exporter given by a test skips the marks.
            self.marks = SpanMarks(
                client=client,
                sink=self.tracing,
                may_act=lambda: self._elector is None or self._elector.is_leader,
            )
        rollouts = await rollouts_served(client, op.watch_namespace)  # optional: Argo Rollouts
        self.informers = build_informers(client, op.watch_namespace, rollouts=rollouts)

        def make_recorder(component: str) -> EventRecorder:
            recorder = EventRecorder(client, component)
            recorder.subscribe(self._to_cloudevents)
            return recorder

        recorders = Recorders(make_recorder)  # one per event source (component), on first use
        self._ctx = OperatorContext(
            client=client,
            informers=self.informers,
            recorders=recorders,
            telemetry=self.telemetry,
            spans=self.tracing,
            cloudevents=self.cloudevents,
            settings=op,
            holder=self.holder,
            marks=self.marks,
        )
        # KLT's unlabelled per-KeptnMetric gauges, beside keptn_metric_value
        self.registry.register(KeptnMetricGauges(self._ctx.cache(model.KEPTN_METRIC)))
        # the defaults until a KeptnConfig is reconciled, with the operator's promotion flag
        apply_config(self.holder, None, promotion_tasks_enabled=op.promotion_tasks_enabled)
        self.holder.listeners.append(self._config_changed)
        for setup in load_setups(CONTROLLER_MODULES):
            controller = setup(self._ctx)
            instrument(controller, self.telemetry)
            self.controllers.append(controller)
        self.telemetry.operator_started()
        await self.cloudevents.start()
        for informer in self.informers.values():
            informer.start()
        certs: CertKeeper | FileCerts | None = None
        mutator = None
        if s.webhooks:  # the certificate Secret lives in the Keptn namespace
            await self._ensure_namespace(op.keptn_namespace)
            certs = self._make_certs(client)
            await retry_transient(certs.ensure, "webhook certificate")
            assert certs.bundle is not None
            self._ssl = server_ssl_context(str(certs.bundle.cert_file), str(certs.bundle.key_file))
            self.telemetry.ops.set_certificate_expiry("webhook", certs.bundle.not_after)
            store = KubeAdmissionStore(client, self.informers, recorders["keptn/webhook"])
            mutator = self._mutator = PodMutator(
                store=store, tracer=self.tracing.provider.get_tracer("keptn/webhook")
            )
        self._server = OperatorServer(
            config=s.server,
            registry=self.registry,
            ready=lambda: self.ready,
            mutator=mutator,
            ssl_context=self._ssl,
            extra_routes=metric_routes(self._ctx),
            webhook_routes=custom_metrics_routes(self._ctx),
            webhook_middlewares=[webhook_middleware(self.telemetry.ops)],
        )
        await self._server.start()
        self.ports = dict(self._server.ports)
        if certs is not None and certs.bundle is not None:
            await self._register(certs.bundle)
            self._tasks.append(
                asyncio.create_task(certs.run(self._certs_changed), name="operator-certs")
            )
        self._tasks.append(asyncio.create_task(self._become_ready(), name="operator-ready"))
        if s.leader_elect:
            self._elector = LeaderElector(
                client,
                name=s.lease_name,
                namespace=op.keptn_namespace,
                identity=self._identity,
                lease_duration=s.lease_duration,
                renew_deadline=s.renew_deadline,
                retry_period=s.retry_period,
            )
            leading = self._elector.run(self._lead, self._lost)
            self._tasks.append(asyncio.create_task(leading, name="operator-leader"))
        else:
            self._tasks.append(asyncio.create_task(self._lead(), name="operator-controllers"))

    async def _ensure_namespace(self, name: str) -> None:
        """Dev/sandbox convenience; in-cluster the namespace exists, so nothing is created."""

        async def ensure() -> None:
            try:
                await self.client.get(model.NAMESPACE, name)
            except NotFound:
                with contextlib.suppress(AlreadyExists):
                    await self.client.create(model.NAMESPACE, {"metadata": {"name": name}})

        with contextlib.suppress(KubeError):  # e.g. 403: the certificate Secret will say why
            await retry_transient(ensure, f"namespace {name}")

    def _make_certs(self, client: KubeClient) -> CertKeeper | FileCerts:
        s = self.settings
        if not s.manage_certs:
            return FileCerts(s.cert_dir, poll=s.cert_poll)
        return CertKeeper(
            client,
            namespace=s.operator.keptn_namespace,
            service=s.webhook_service,
            directory=s.cert_dir,
            poll=s.cert_poll,
        )

    async def _register(self, bundle: CertificateBundle) -> None:
        """Write our CA into the webhook configurations (not when cert-manager.io injects it)."""
        s = self.settings
        if not s.manage_certs:
            return
        url_base = (
            f"https://{s.webhook_url_host}:{self.ports['webhook']}" if s.webhook_url_host else None
        )
        for register in (register_webhooks, register_conversion):
            await register(
                self.client,
                ca_bundle=bundle.ca_bundle,
                url_base=url_base,
                keptn_namespace=s.operator.keptn_namespace,
            )

    async def _certs_changed(self, bundle: CertificateBundle) -> None:
        """A rotated certificate (ours or a peer's): serve it from now on, then trust its CA."""
        if self._ssl is not None:
            self._ssl.load_cert_chain(str(bundle.cert_file), str(bundle.key_file))
        self.telemetry.ops.set_certificate_expiry("webhook", bundle.not_after)
        await self._register(bundle)

    async def _become_ready(self) -> None:
        await asyncio.gather(*(i.wait_synced() for i in self.informers.values()))
        self._ready.set()
        log.info("caches synced: ready")

    async def _lead(self) -> None:
        await self._ready.wait()
        for controller in self.controllers:
            controller.start()
        self._leading.set()
        self.telemetry.ops.set_leader(True)
        log.info("leading: %d controllers running", len(self.controllers))
        try:
            await asyncio.Event().wait()
        finally:
            self._leading.clear()
            self.telemetry.ops.set_leader(False)
            await asyncio.gather(*(c.stop(grace=2.0) for c in self.controllers))

    def _to_cloudevents(self, event: Mapping[str, object], obj: Mapping[str, object]) -> None:
        self.cloudevents.submit(event, obj)  # False (no endpoint, queue full) is counted there

    async def _lost(self) -> None:
        self.lost_leadership.set()

    def _config_changed(self, holder: ConfigHolder) -> None:
        self.cloudevents.set_endpoint(holder.cloud_events_endpoint or None)
        if self.settings.span_target is None and self._span_exporter is None:
            task = asyncio.ensure_future(
                asyncio.to_thread(self.tracing.reconfigure, holder.otel_collector_url or None)
            )
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def stop(self) -> None:
        """Stop controllers (releasing the Lease), listeners and informers; drain events and spans."""
        for task in reversed(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        if self._server is not None:
            await self._server.stop()
            self._server = None
        if self._mutator is not None:  # KeptnWorkloads still being written after their answers
            await self._mutator.drain(5.0)
        for informer in self.informers.values():
            await informer.stop()
        if self._ctx is not None:
            for recorder in list(self._ctx.recorders.values()):
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(recorder.flush(), 5.0)
        await self.cloudevents.stop()
        for task in list(self._background):
            with contextlib.suppress(Exception):
                await task
        # Deliver the last batch, let its confirmations reach the loop, write their marks,
        # and only then close the client: a span delivered at shutdown must not stay unmarked
        # (the next process would export it again).
        await asyncio.to_thread(self.tracing.force_flush)
        for _ in range(3):
            await asyncio.sleep(0)
        if self.marks is not None:
            await self.marks.close()
        await asyncio.to_thread(self.tracing.shutdown)
        if self._client is not None and self._given_client is None:
            await self._client.close()
        self._client = None
