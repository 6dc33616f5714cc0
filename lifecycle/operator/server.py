"""The operator's HTTP surface: admission webhooks over TLS, metrics and probes over plain HTTP.

Role: ``create_app`` builds an aiohttp application from the parts it is given (a Prometheus
registry -> ``/metrics``; a readiness callable -> ``/healthz`` and ``/readyz``; a ``PodMutator`` ->
``/mutate-v1-pod``; validators -> ``/validate-*``; extra route tables such as the evaluator's
``/api/v1/metrics/{namespace}/{name}``). ``OperatorServer`` runs three listeners by default, as
KLT does: webhooks on 9443 with TLS, metrics on 2222 (KLT's ``KEPTN_DORA_METRICS_PORT``), probes on
8081; listeners that share a port share one application. Port 0 binds an ephemeral port (tests);
``ports`` tells what was bound.

Invariants: ``/metrics`` answers in the Prometheus text format, or OpenMetrics when the scraper's
Accept header asks for it; ``/readyz`` is 503 until ``ready()`` is true (informers synced) and
``/healthz`` is 200 while the loop runs. A malformed AdmissionReview gets 400; an unexpected error
in a webhook handler gets 500, which the API server treats per ``failurePolicy`` (Ignore).

Must not: hold module-level state, know how certificates are made (it is given an SSLContext), or
depend on the Kubernetes client library.
"""

from __future__ import annotations

import functools
import json
import logging
import ssl
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from lifecycle.admission.conversion import CONVERT_PATH, answer_review
from lifecycle.admission.validators import VALIDATORS, Validator
from lifecycle.admission.webhook import PodMutator, validate_review

__all__ = ["OperatorServer", "ServerConfig", "create_app", "server_ssl_context"]

_log = logging.getLogger(__name__)
MUTATE_POD_PATH: Final = "/mutate-v1-pod"
MAX_REVIEW_BYTES: Final = 8 * 1024 * 1024
"""Body limit of every listener: an AdmissionReview carries the object (up to the API server's
~1.5 MiB request limit; twice that on UPDATE, with oldObject) plus JSON escaping. aiohttp's
default of 1 MiB answered 413 and, under failurePolicy Ignore, admitted large pods ungated."""


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """Where the operator listens."""

    host: str = "0.0.0.0"
    """Address of every listener; ``127.0.0.1`` for the sandbox and tests."""
    webhook_port: int = 9443
    """TLS port of the admission webhooks (KLT 9443); the Service maps 443 to it."""
    metrics_port: int = 2222
    """Plain-HTTP port of ``/metrics`` and extra routes (KLT's DORA metrics port)."""
    probe_port: int = 8081
    """Plain-HTTP port of ``/healthz`` and ``/readyz`` (KLT 8081); may equal metrics_port."""


def server_ssl_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    """A TLS server context for the webhook listener (TLS 1.2+)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    return context


Answer = Callable[[Mapping[str, object]], Awaitable[Mapping[str, object]]]
"""A webhook: the review's JSON object in (typed by the webhook, lifecycle.admission.review),
the review's answer out."""


def _review_handler(answer: Answer) -> Handler:
    """An AdmissionReview endpoint: ``answer``'s review, or 400 for a malformed one."""

    async def handle(request: web.Request) -> web.Response:
        try:
            review = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise web.HTTPBadRequest(text=f"invalid JSON: {exc}") from exc
        if not isinstance(review, Mapping):
            raise web.HTTPBadRequest(text="an AdmissionReview must be a JSON object")
        try:
            body = await answer(review)
        except ValueError as exc:
            raise web.HTTPBadRequest(text=str(exc)) from exc
        return web.json_response(body)

    return handle


async def _validate(validator: Validator, review: Mapping[str, object]) -> Mapping[str, object]:
    return validate_review(review, validator)


def create_app(
    *,
    registry: CollectorRegistry | None = None,
    ready: Callable[[], bool] | None = None,
    mutator: PodMutator | None = None,
    validators: Mapping[str, Validator] | None = None,
    extra_routes: Iterable[web.AbstractRouteDef] = (),
    middlewares: Iterable[Middleware] = (),
) -> web.Application:
    """An application serving the routes of the parts given (None leaves a part out)."""
    app = web.Application(middlewares=list(middlewares), client_max_size=MAX_REVIEW_BYTES)
    if registry is not None:

        async def metrics(request: web.Request) -> web.Response:
            encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
            return web.Response(body=encoder(registry), headers={"Content-Type": content_type})

        app.router.add_get("/metrics", metrics)
    if ready is not None:

        async def healthz(request: web.Request) -> web.Response:
            return web.Response(text="ok")

        async def readyz(request: web.Request) -> web.Response:
            if ready():
                return web.Response(text="ok")
            return web.Response(status=503, text="not ready: caches not synced")

        app.router.add_get("/healthz", healthz)
        app.router.add_get("/readyz", readyz)
    if mutator is not None:
        app.router.add_post(MUTATE_POD_PATH, _review_handler(mutator.review))
    for path, validator in (validators or {}).items():
        app.router.add_post(path, _review_handler(functools.partial(_validate, validator)))
    app.router.add_routes(extra_routes)
    return app


class OperatorServer:
    """Runs the webhook (TLS), metrics and probe listeners; ``start`` then ``stop``."""

    def __init__(
        self,
        *,
        config: ServerConfig,
        registry: CollectorRegistry,
        ready: Callable[[], bool],
        mutator: PodMutator | None,
        ssl_context: ssl.SSLContext | None,
        extra_routes: Iterable[web.AbstractRouteDef] = (),
        webhook_routes: Iterable[web.AbstractRouteDef] = (),
        webhook_middlewares: Iterable[Middleware] = (),
    ) -> None:
        """`extra_routes` go to the metrics listener; `webhook_routes` (the custom metrics
        API) to the TLS listener, beside the admission and conversion webhooks;
        `webhook_middlewares` wrap the TLS listener only (request metrics)."""
        self._config = config
        self._runners: list[tuple[str, web.AppRunner]] = []
        self._apps: list[tuple[str, int, web.Application, ssl.SSLContext | None]] = []
        if ssl_context is not None:
            webhooks = create_app(
                mutator=mutator,
                validators=VALIDATORS,
                ready=ready,
                extra_routes=[
                    web.post(CONVERT_PATH, _review_handler(answer_review)),
                    *webhook_routes,
                ],
                middlewares=webhook_middlewares,
            )
            self._apps.append(("webhook", config.webhook_port, webhooks, ssl_context))
        self._shared = config.probe_port == config.metrics_port and config.metrics_port != 0
        metrics = create_app(
            registry=registry, ready=ready if self._shared else None, extra_routes=extra_routes
        )
        self._apps.append(("metrics", config.metrics_port, metrics, None))
        if not self._shared:
            self._apps.append(("probes", config.probe_port, create_app(ready=ready), None))
        self.ports: dict[str, int] = {}

    async def start(self) -> None:
        """Bind every listener; ``ports`` maps webhook/metrics/probes to the bound port."""
        for name, port, app, context in self._apps:
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            self._runners.append((name, runner))
            site = web.TCPSite(runner, self._config.host, port, ssl_context=context)
            await site.start()
            addresses = runner.addresses  # one site per runner: its bound (host, port, ...)
            self.ports[name] = int(addresses[0][1]) if addresses else port
            tls = " (TLS)" if context else ""
            _log.info("listening: %s on %s:%d%s", name, self._config.host, self.ports[name], tls)
        if self._shared:
            self.ports["probes"] = self.ports["metrics"]

    async def stop(self) -> None:
        """Close every listener."""
        for _, runner in reversed(self._runners):
            await runner.cleanup()
        self._runners.clear()
