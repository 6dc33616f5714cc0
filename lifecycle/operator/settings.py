"""Flags and environment of `klt operator` -> the settings objects of the composition root.

Role: `add_arguments(parser)` declares every flag (with the KLT environment variable it falls
back to); `from_args(args, env)` builds one frozen `RunSettings`. Flag beats environment beats
default. Nothing here starts anything or touches the network.

Environment (KLT's names): POD_NAMESPACE (Keptn namespace), PROMOTION_TASKS_ENABLED,
FUNCTION_RUNNER_IMAGE, PYTHON_RUNNER_IMAGE, OTEL_COLLECTOR_URL, CERT_MANAGER_ENABLED, KUBECONFIG.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from lifecycle.flow.context import OperatorSettings
from lifecycle.operator.server import ServerConfig

__all__ = ["RunSettings", "add_arguments", "from_args"]


@dataclass(frozen=True, slots=True)
class RunSettings:
    """Everything the composition root needs besides the cluster itself."""

    operator: OperatorSettings = field(default_factory=OperatorSettings)
    """The controllers' own settings (Keptn namespace, scope, workers, runner images)."""
    server: ServerConfig = field(default_factory=ServerConfig)
    """Listener ports (0 = pick a free one; tests and the demo use 0)."""
    kubeconfig: str | None = None
    """Path of a kubeconfig; None = $KUBECONFIG or ~/.kube/config (unless in_cluster)."""
    in_cluster: bool = False
    """Use the pod's service account instead of a kubeconfig."""
    log_format: str = "text"
    """text or json (one JSON object per line)."""
    log_level: str = "INFO"
    cert_dir: Path = Path("/tmp/k8s-webhook-server/serving-certs")
    """Where the webhook's CA, certificate and key live (generated when missing or expiring)."""
    manage_certs: bool = True
    """Keep the webhook certificate in the Secret keptn-certs shared by every replica and write
    its CA into both webhook configurations (CERT_MANAGER_ENABLED, KLT's switch). False: read
    tls.crt/tls.key mounted into cert_dir by cert-manager.io, whose cainjector writes the
    caBundle (the cert-manager.io/inject-ca-from annotation)."""
    cert_poll: float = 60.0
    """Seconds between checks of the certificate (rotation, a peer's rotation, new files)."""
    webhook_service: str = "lifecycle-webhook-service"
    """Service name in the certificate's DNS names and the deploy/ webhook configurations."""
    webhook_url_host: str | None = None
    """Dev/sandbox: register the webhook configurations with url https://<host>:<port>/...;
    None = in-cluster: only patch the caBundle of the configurations deploy/ installed."""
    webhooks: bool = True
    """Serve and register the admission webhooks at all."""
    leader_elect: bool = True
    """Campaign for the Lease; only the leader runs controllers (webhooks run everywhere)."""
    lease_name: str = "6b866dd9.keptn.sh"
    """KLT's leader election id."""
    lease_duration: float = 15.0
    """Seconds a follower waits after the Lease's last change before taking it (client-go's
    default): the takeover time after a leader dies without releasing it."""
    renew_deadline: float = 10.0
    """Seconds a leader keeps acting without a successful renewal before it steps down (fenced by
    a local timer); must be below lease_duration, so it stops before anyone may take over."""
    retry_period: float = 2.0
    """Seconds between a candidate's tries and between the leader's renewals."""
    leader_identity: str | None = None
    """Holder identity on the Lease; None = hostname + random suffix. A stable one ($POD_NAME)
    lets a restarted container take its own Lease back at once instead of waiting it out."""
    otel_url: str | None = None
    """Span exporter URL (tracing.setup.parse_target); overrides KeptnConfig.spec.OTelCollectorUrl."""
    trace_file: str | None = None
    """Write spans as JSON lines to this file (overrides otel_url)."""

    @property
    def span_target(self) -> str | None:
        """The fixed exporter URL from flags, or None to follow the KeptnConfig."""
        if self.trace_file:
            return f"file://{Path(self.trace_file).resolve()}"
        return self.otel_url or None


def _switch(flag: bool | None, value: str | None, default: bool) -> bool:
    """The flag when given, else the environment variable's ``value`` when set, else ``default``."""
    if flag is not None:
        return bool(flag)
    if not value:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the flags of `klt operator`."""
    a = parser.add_argument
    a("--kubeconfig", help="kubeconfig path (default $KUBECONFIG or ~/.kube/config)")
    a("--in-cluster", action="store_true", help="use the pod's service account")
    a("--namespace", help="only watch this namespace (default: all)")
    a("--keptn-namespace", help="the Keptn namespace (default $POD_NAMESPACE or keptn-system)")
    a("--workers", type=int, default=4, help="concurrent reconciles per controller")
    a("--max-jobs", type=int, default=50, help="task Jobs running at once (default 50)")
    a(
        "--max-provider-queries",
        type=int,
        default=10,
        help="concurrent queries per metric provider (default 10)",
    )
    a("--log-format", choices=("text", "json"), default="text")
    a("--log-level", default="INFO")
    a("--metrics-port", type=int, default=2222, help="plain HTTP /metrics (0: any free port)")
    a("--probe-port", type=int, default=8081, help="plain HTTP /healthz /readyz (0: any free port)")
    a("--webhook-port", type=int, default=9443, help="TLS admission webhooks (0: any free port)")
    a("--bind", default="0.0.0.0", help="address of every listener")
    a("--cert-dir", default="/tmp/k8s-webhook-server/serving-certs")
    a("--webhook-service", default="lifecycle-webhook-service")
    a(
        "--manage-certs",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="keep the webhook certificate in the Secret keptn-certs and the caBundle in sync "
        "(default $CERT_MANAGER_ENABLED, true); --no-manage-certs: cert-manager.io mounts it",
    )
    a("--cert-poll-interval", type=float, default=60.0, help="certificate checks, seconds")
    a(
        "--webhook-url-host",
        help="dev/sandbox: register webhooks with url https://HOST:PORT (e.g. 127.0.0.1)",
    )
    a("--no-webhooks", action="store_true", help="neither serve nor register admission webhooks")
    a(
        "--leader-elect",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="only the Lease holder runs controllers (default on)",
    )
    a("--leader-identity", help="holder identity on the Lease (default $POD_NAME, else random)")
    a("--lease-duration", type=float, default=15.0, help="Lease duration, seconds (default 15)")
    a(
        "--renew-deadline",
        type=float,
        default=10.0,
        help="a leader unable to renew this long steps down, seconds (default 10)",
    )
    a("--retry-period", type=float, default=2.0, help="Lease retry/renew period (default 2)")
    a("--otel-url", help="span exporter: host:4317, http(s)://host:4318, console, file:///path")
    a("--trace-file", help="write spans as JSON lines to this file")
    a(
        "--promotion-tasks",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="run the PromotionTasks phase (default $PROMOTION_TASKS_ENABLED)",
    )


def from_args(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> RunSettings:
    """Build the settings from parsed flags and the environment."""
    env = os.environ if env is None else env
    defaults = OperatorSettings()
    host = args.webhook_url_host
    bind = (
        "127.0.0.1" if host in ("127.0.0.1", "localhost") and args.bind == "0.0.0.0" else args.bind
    )
    return RunSettings(
        operator=OperatorSettings(
            keptn_namespace=args.keptn_namespace
            or env.get("POD_NAMESPACE")
            or defaults.keptn_namespace,
            watch_namespace=args.namespace or None,
            workers=max(1, int(args.workers)),
            deno_runner_image=env.get("FUNCTION_RUNNER_IMAGE") or defaults.deno_runner_image,
            python_runner_image=env.get("PYTHON_RUNNER_IMAGE") or defaults.python_runner_image,
            promotion_tasks_enabled=_switch(
                args.promotion_tasks,
                env.get("PROMOTION_TASKS_ENABLED"),
                defaults.promotion_tasks_enabled,
            ),
            max_concurrent_jobs=max(1, int(args.max_jobs)),
            max_provider_queries=max(1, int(args.max_provider_queries)),
        ),
        server=ServerConfig(
            host=bind,
            webhook_port=args.webhook_port,
            metrics_port=args.metrics_port,
            probe_port=args.probe_port,
        ),
        kubeconfig=args.kubeconfig or None,
        in_cluster=bool(args.in_cluster),
        log_format=args.log_format,
        log_level=str(args.log_level).upper(),
        cert_dir=Path(args.cert_dir),
        manage_certs=_switch(args.manage_certs, env.get("CERT_MANAGER_ENABLED"), True),
        cert_poll=float(args.cert_poll_interval),
        webhook_service=args.webhook_service,
        webhook_url_host=host or None,
        webhooks=not args.no_webhooks,
        leader_elect=bool(args.leader_elect),
        leader_identity=args.leader_identity or env.get("POD_NAME") or None,
        lease_duration=float(args.lease_duration),
        renew_deadline=float(args.renew_deadline),
        retry_period=float(args.retry_period),
        otel_url=args.otel_url or env.get("OTEL_COLLECTOR_URL") or None,
        trace_file=args.trace_file or None,
    )
