"""The instruments of the operator's metrics: KLT's names and labels, and ours, on one registry.

Role: :class:`Instruments` creates every counter, gauge and histogram once per registry;
lifecycle.observability.telemetry (:class:`Telemetry`, a subclass) decides when each is counted.
Every metric is documented with PromQL in docs/metrics.md.

Invariants: names and labels of KLT's instruments are exactly those of KLT with OTel exporter
v0.53 (reference keptn.md §6.1); histogram buckets are OTel's defaults with sub-second buckets
in front, because our no-op flows finish in milliseconds.
Must not: count anything itself, do I/O, or import kubernetes_asyncio.
"""

from __future__ import annotations

import functools

from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector

from lifecycle.observability.compact import Counter, Gauge, Histogram
from lifecycle.observability.telemetry_ops import OpsMetrics

__all__ = ["DORA_BUCKETS", "DROP_REASONS", "DURATION_BUCKETS", "Instruments"]

# OTel SDK default buckets (KLT) with sub-second buckets in front.
DURATION_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000,
                    7500, 10000)  # fmt: skip
# Lead time and time to restore: minutes to a month.
DORA_BUCKETS = (60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400,
                7 * 86400, 30 * 86400)  # fmt: skip
DROP_REASONS = ("queue_full", "retries_exhausted", "rejected", "disabled", "shutdown", "invalid")
"""Values of keptn_cloudevents_dropped_total's ``reason`` label (see lifecycle.observability.cloudevents)."""

P = "keptn_deployment_"
APP_LABELS = (f"{P}app_name", f"{P}app_version", f"{P}app_namespace")
WL_LABELS = (f"{P}app_name", f"{P}workload_name", f"{P}workload_version", f"{P}workload_namespace")
TASK_LABELS = (f"{P}app_name", f"{P}app_version", f"{P}workload_name", f"{P}workload_version")


class Instruments:
    """Every instrument of the operator on one registry (attributes named after the metrics)."""

    def __init__(self, registry: CollectorRegistry, *, process_metrics: bool = True) -> None:
        self.registry = registry
        if process_metrics:
            ProcessCollector(registry=registry)
            PlatformCollector(registry=registry)

        # compact series (lifecycle.observability.compact): a series per workload and phase
        # must cost bytes, not a lock per bucket; the exposition is prometheus_client's
        counter = functools.partial(Counter, registry=registry)
        gauge = functools.partial(Gauge, registry=registry)
        histogram = functools.partial(Histogram, registry=registry, buckets=DURATION_BUCKETS)
        app_s = [*APP_LABELS, f"{P}app_status"]
        wl_s = [*WL_LABELS, f"{P}workload_status"]
        task = [*TASK_LABELS, f"{P}task_name", f"{P}task_type"]
        ev = [*TASK_LABELS, f"{P}evaluation_name", f"{P}evaluation_type"]
        app_prev = [f"{P}{k}" for k in ("app_name", "app_namespace", "app_version")]
        app_prev.append(f"{P}app_previousversion")
        wl_prev = [f"{P}{k}" for k in ("app_name", "workload_name", "workload_namespace")]
        wl_prev += [f"{P}workload_version", f"{P}workload_previousversion"]
        scope = ["namespace", "app", "workload"]
        # KLT's instruments (names/labels as OTel exporter v0.53 renders them).
        self.lifecycle_active = counter("keptn_lifecycle_active", "Operator starts.")
        self.app_count = counter("keptn_app_count", "Finished app versions.", app_s)
        self.app_duration = histogram("keptn_app_duration_seconds", "App version duration.", app_s)
        self.deployment_count = counter(
            "keptn_deployment_count", "Finished workload versions.", wl_s
        )
        self.deployment_duration = histogram(
            "keptn_deployment_duration_seconds", "Workload version duration.", wl_s
        )
        task_s, ev_s = [*task, f"{P}task_status"], [*ev, f"{P}evaluation_status"]
        self.task_count = counter("keptn_task_count", "Finished tasks.", task_s)
        self.task_duration = histogram("keptn_task_duration_seconds", "Task duration.", task_s)
        self.evaluation_count = counter("keptn_evaluation_count", "Finished evaluations.", ev_s)
        self.evaluation_duration = histogram(
            "keptn_evaluation_duration_seconds", "Evaluation duration.", ev_s
        )
        self.promotion_count = counter("keptn_promotion_count", "Ended promotion phases.", app_s)
        self.app_active = gauge("keptn_app_active", "Running app versions.", APP_LABELS)
        self.deployment_active = gauge(
            "keptn_deployment_active", "Running workload versions.", WL_LABELS
        )
        self.task_active = gauge("keptn_task_active", "Running tasks.", task)
        self.evaluation_active = gauge("keptn_evaluation_active", "Running evaluations.", ev)
        self.app_deploymentduration = gauge(
            "keptn_app_deploymentduration", "Seconds from start to end of an app version.", app_prev
        )
        self.deployment_deploymentduration = gauge(
            "keptn_deployment_deploymentduration", "Seconds start to end of a workload version.",
            wl_prev,
        )  # fmt: skip
        self.app_deploymentinterval = gauge(
            "keptn_app_deploymentinterval",
            "Seconds since the previous app version ended.",
            app_prev,
        )
        self.deployment_deploymentinterval = gauge(
            "keptn_deployment_deploymentinterval", "Seconds since the previous workload version ended.",
            wl_prev,
        )  # fmt: skip
        # Ours: alerting, DORA, CloudEvents, KeptnMetrics, controller health.
        self.phase_duration = histogram(
            "keptn_phase_duration_seconds", "Ended phases by result.", ["phase", "result", *scope]
        )
        self.phase_errored = counter(
            "keptn_phase_errored", "Phases ended Failed.", ["phase", *scope]
        )
        self.dora_deployments = counter(
            "keptn_dora_deployments", "DORA: finished deployments by result.", [*scope, "result"]
        )
        self.dora_lead_time = histogram(
            "keptn_dora_lead_time_seconds",
            "DORA: commitTime to deployed.",
            scope,
            buckets=DORA_BUCKETS,
        )
        self.dora_time_to_restore = histogram(
            "keptn_dora_time_to_restore_seconds", "DORA: failure to next success.", scope,
            buckets=DORA_BUCKETS,
        )  # fmt: skip
        self.cloudevents_sent = counter("keptn_cloudevents_sent", "CloudEvents delivered.")
        self.cloudevents_failed = counter("keptn_cloudevents_failed", "Failed delivery attempts.")
        self.cloudevents_dropped = counter(
            "keptn_cloudevents_dropped", "CloudEvents given up on.", ["reason"]
        )
        # Known reasons start at 0, so the dashboard's per-reason panel and rate() have a
        # series before the first drop (a labelled counter is otherwise absent until then).
        for reason in DROP_REASONS:
            self.cloudevents_dropped.labels(reason)
        self.cloudevents_queue = gauge("keptn_cloudevents_queue_length", "CloudEvents queued.")
        self.metric_value = gauge("keptn_metric_value", "KeptnMetric value.", ["namespace", "name"])
        self.reconcile_total = counter(
            "keptn_reconcile", "Reconciles by controller and result.", ["controller", "result"]
        )
        self.reconcile_duration = histogram(
            "keptn_reconcile_duration_seconds", "Reconcile duration.", ["controller"],
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )  # fmt: skip
        self.workqueue_depth = gauge("keptn_workqueue_depth", "Keys queued.", ["controller"])
        self.ops = OpsMetrics(registry)
        """Webhook, leader, certificate and provider metrics (lifecycle.observability.telemetry_ops)."""
