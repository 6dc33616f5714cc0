"""Prometheus metrics of the lifecycle operator: KLT's names and labels, phase metrics and DORA.

Role: one :class:`Telemetry` per process owns a ``CollectorRegistry`` and every instrument. Controllers
call its methods *after* a transition is committed to status (``object_started``, ``phase_ended``,
``object_finished``, ``task_finished`` ...). Every metric is documented with PromQL in docs/metrics.md.

Invariants:
* a transition is counted once: each method remembers (object, transition) in a bounded in-memory
  set and ignores a repeat (a controller retrying after a conflict, or a resync after restart);
* ``keptn_*_active`` gauges are kept incrementally (inc on start, dec on finish) -- nothing lists
  objects on a scrape (KLT does, on every scrape);
* names and labels of KLT's instruments are exactly those of KLT with OTel exporter v0.53
  (reference keptn.md §6.1) so existing dashboards work; histogram buckets are OTel's defaults with
  sub-second buckets in front, because our no-op flows finish in milliseconds.

Restart limitation: time-to-restore needs the previous failure of the same app/workload; it is kept
in memory. After a restart the caller may pass ``failed_since`` (derived from the previous version's
status) to :meth:`Telemetry.object_finished`; otherwise the first recovery after a restart is not
observed. The same holds for ``*_deploymentinterval`` (pass ``previous``).
Must not do I/O or list objects; must not import kubernetes_asyncio.
"""

from __future__ import annotations

import contextlib
import enum
from collections import OrderedDict
from collections.abc import Hashable, Mapping, Sequence
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector

from lifecycle import compactmetrics as compact
from tracing.context import parse_rfc3339_ns
from tracing.spans import newly_ended_phases

__all__ = [
    "DORA_BUCKETS",
    "DROP_REASONS",
    "DURATION_BUCKETS",
    "ObjectKind",
    "Telemetry",
    "TimeLike",
]

TimeLike = datetime | str | None

# OTel SDK default buckets (KLT) with sub-second buckets in front.
DURATION_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000,
                    7500, 10000)  # fmt: skip
# Lead time and time to restore: minutes to a month.
DORA_BUCKETS = (60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400,
                7 * 86400, 30 * 86400)  # fmt: skip
DROP_REASONS = ("queue_full", "retries_exhausted", "rejected", "disabled", "shutdown", "invalid")
"""Values of keptn_cloudevents_dropped_total's ``reason`` label (see lifecycle.cloudevents)."""

P = "keptn_deployment_"
APP_LABELS = (f"{P}app_name", f"{P}app_version", f"{P}app_namespace")
WL_LABELS = (f"{P}app_name", f"{P}workload_name", f"{P}workload_version", f"{P}workload_namespace")
TASK_LABELS = (f"{P}app_name", f"{P}app_version", f"{P}workload_name", f"{P}workload_version")
_DEDUPE_LIMIT = 100_000


class ObjectKind(enum.Enum):
    APP_VERSION = "KeptnAppVersion"
    WORKLOAD_VERSION = "KeptnWorkloadVersion"


def _get(body: Mapping[str, Any] | None, *path: str) -> Any:
    node: Any = body
    for key in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def _s(value: Any) -> str:
    return "" if value is None else str(value)


def _seconds(value: TimeLike) -> float | None:
    if isinstance(value, datetime):
        return value.timestamp()
    ns = parse_rfc3339_ns(value)
    return None if ns is None else ns / 1e9


def _kind(obj: Mapping[str, Any]) -> ObjectKind:
    if obj.get("kind") == ObjectKind.WORKLOAD_VERSION.value or "workloadName" in (
        obj.get("spec") or {}
    ):
        return ObjectKind.WORKLOAD_VERSION
    return ObjectKind.APP_VERSION


def _identity(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return _s(meta.get("uid")) or f"{_s(meta.get('namespace'))}/{_s(meta.get('name'))}"


def _commit_time(obj: Mapping[str, Any]) -> float | None:
    # commitTime comes from KeptnAppContext metadata or the workload's keptn.sh/metadata
    # annotation ("commitTime=2024-01-01T10:00:00Z,..."); RFC3339 or unix seconds.
    for source in (
        _get(obj, "spec", "metadata"),
        _get(obj, "status", "appContextMetadata"),
    ):
        raw = (source or {}).get("commitTime") if isinstance(source, Mapping) else None
        if raw is None:
            continue
        try:
            return float(raw)
        except (TypeError, ValueError):
            seconds = _seconds(str(raw))
            if seconds is not None:
                return seconds
    return None


class Telemetry:
    """All operator metrics on one registry; methods are called once per committed transition."""

    def __init__(self, registry: CollectorRegistry, *, process_metrics: bool = True) -> None:
        self.registry = registry
        if process_metrics:
            ProcessCollector(registry=registry)
            PlatformCollector(registry=registry)

        # compact series (lifecycle.compactmetrics): a series per workload and phase must
        # cost bytes, not a lock per bucket; the exposition is prometheus_client's
        def counter(name: str, doc: str, labels: Sequence[str] = ()) -> compact.Counter:
            return compact.Counter(name, doc, labels, registry)

        def gauge(name: str, doc: str, labels: Sequence[str] = ()) -> compact.Gauge:
            return compact.Gauge(name, doc, labels, registry)

        def histogram(
            name: str, doc: str, labels: Sequence[str], buckets: Sequence[float] = DURATION_BUCKETS
        ) -> compact.Histogram:
            return compact.Histogram(name, doc, labels, registry, buckets)

        app_s = [*APP_LABELS, f"{P}app_status"]
        wl_s = [*WL_LABELS, f"{P}workload_status"]
        task = [*TASK_LABELS, f"{P}task_name", f"{P}task_type"]
        ev = [*TASK_LABELS, f"{P}evaluation_name", f"{P}evaluation_type"]
        app_prev = [
            f"{P}app_name",
            f"{P}app_namespace",
            f"{P}app_version",
            f"{P}app_previousversion",
        ]
        wl_prev = [*(f"{P}{k}" for k in ("app_name", "workload_name", "workload_namespace")),
                   f"{P}workload_version", f"{P}workload_previousversion"]  # fmt: skip
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
            "keptn_dora_lead_time_seconds", "DORA: commitTime to deployed.", scope, DORA_BUCKETS
        )
        self.dora_time_to_restore = histogram(
            "keptn_dora_time_to_restore_seconds",
            "DORA: failure to next success.",
            scope,
            DORA_BUCKETS,
        )
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
            (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )  # fmt: skip
        self.workqueue_depth = gauge("keptn_workqueue_depth", "Keys queued.", ["controller"])
        self._seen: OrderedDict[Hashable, None] = OrderedDict()
        self._last_failure: dict[tuple[str, str, str], float] = {}
        self._last_end: dict[tuple[str, str, str, str], float] = {}

    # --- bookkeeping ----------------------------------------------------------------------------

    def _first(self, key: Hashable) -> bool:
        """True the first time ``key`` is seen; bounded so a long-running operator stays small."""
        if key in self._seen:
            return False
        self._seen[key] = None
        if len(self._seen) > _DEDUPE_LIMIT:
            self._seen.popitem(last=False)
        return True

    @staticmethod
    def _app_labels(obj: Mapping[str, Any]) -> tuple[str, str, str]:
        return (
            _s(_get(obj, "spec", "appName")),
            _s(_get(obj, "spec", "version")),
            _s(_get(obj, "metadata", "namespace")),
        )

    @staticmethod
    def _wl_labels(obj: Mapping[str, Any]) -> tuple[str, str, str, str]:
        return (
            _s(_get(obj, "spec", "app")),
            _s(_get(obj, "spec", "workloadName")),
            _s(_get(obj, "spec", "version")),
            _s(_get(obj, "metadata", "namespace")),
        )

    @staticmethod
    def _scope(obj: Mapping[str, Any]) -> tuple[str, str, str]:
        namespace = _s(_get(obj, "metadata", "namespace"))
        if _kind(obj) is ObjectKind.WORKLOAD_VERSION:
            return namespace, _s(_get(obj, "spec", "app")), _s(_get(obj, "spec", "workloadName"))
        return namespace, _s(_get(obj, "spec", "appName")), ""

    # --- operator -------------------------------------------------------------------------------

    def operator_started(self) -> None:
        """Once per process start (``keptn_lifecycle_active_total``)."""
        self.lifecycle_active.inc()

    def reconcile_finished(self, controller: str, result: str, seconds: float) -> None:
        """One reconcile ended; result is e.g. ok, requeue, error."""
        self.reconcile_total.labels(controller, result).inc()
        self.reconcile_duration.labels(controller).observe(seconds)

    def set_queue_depth(self, controller: str, depth: int) -> None:
        self.workqueue_depth.labels(controller).set(depth)

    # --- app and workload versions --------------------------------------------------------------

    def object_started(self, obj: Mapping[str, Any]) -> bool:
        """An AppVersion/WorkloadVersion got its startTime; returns False on a repeat."""
        if not self._first(("started", _identity(obj))):
            return False
        # Outcome counters start at 0 here so that increase() sees the first finish: a series
        # born at 1 shows no increase in Prometheus, which hides rare events like DORA's.
        for result in ("succeeded", "failed"):
            self.dora_deployments.labels(*self._scope(obj), result)
        if _kind(obj) is ObjectKind.WORKLOAD_VERSION:
            labels = self._wl_labels(obj)
            self.deployment_active.labels(*labels).inc()
            for state in ("Succeeded", "Failed"):
                self.deployment_count.labels(*labels, state)
        else:
            app_labels = self._app_labels(obj)
            self.app_active.labels(*app_labels).inc()
            for state in ("Succeeded", "Failed"):
                self.app_count.labels(*app_labels, state)
        return True

    def phase_ended(
        self,
        obj: Mapping[str, Any],
        phase: str,
        state: str,
        start: TimeLike,
        end: TimeLike,
    ) -> bool:
        """A phase of ``obj`` ended with ``state`` (Succeeded/Failed/Warning/Deprecated)."""
        if not self._first(("phase", _identity(obj), phase)):
            return False
        namespace, app, workload = self._scope(obj)
        begin, finish = _seconds(start), _seconds(end)
        if begin is not None and finish is not None:
            self.phase_duration.labels(phase, state, namespace, app, workload).observe(
                max(0.0, finish - begin)
            )
        errored = self.phase_errored.labels(phase, namespace, app, workload)  # 0 until one fails
        if state == "Failed":
            errored.inc()
        if phase == "PromotionTasks" and _kind(obj) is ObjectKind.APP_VERSION:
            self.promotion_count.labels(*self._app_labels(obj), state).inc()
        return True

    def object_finished(
        self,
        obj: Mapping[str, Any],
        *,
        previous: Mapping[str, Any] | None = None,
        failed_since: TimeLike = None,
    ) -> bool:
        """An AppVersion/WorkloadVersion got its endTime (status.status final).

        ``previous`` is the predecessor version's body (for ``*_deploymentinterval``);
        ``failed_since`` the end of the last failed deployment if known from status (for
        time-to-restore across restarts). Returns False on a repeat.
        """
        if not self._first(("finished", _identity(obj))):
            return False
        is_wl = _kind(obj) is ObjectKind.WORKLOAD_VERSION
        state = _s(_get(obj, "status", "status"))
        start = _seconds(_get(obj, "status", "startTime"))
        end = _seconds(_get(obj, "status", "endTime"))
        duration = None if start is None or end is None else max(0.0, end - start)
        prev_version = _s(_get(obj, "spec", "previousVersion"))
        namespace, app, workload = self._scope(obj)
        if is_wl:
            wl = self._wl_labels(obj)
            self.deployment_active.labels(*wl).dec()
            self.deployment_count.labels(*wl, state).inc()
            labels: tuple[str, ...] = (wl[0], wl[1], wl[3], wl[2], prev_version)
            if duration is not None:
                self.deployment_duration.labels(*wl, state).observe(duration)
                self.deployment_deploymentduration.labels(*labels).set(duration)
            interval_gauge = self.deployment_deploymentinterval
        else:
            av = self._app_labels(obj)
            self.app_active.labels(*av).dec()
            self.app_count.labels(*av, state).inc()
            labels = (av[0], av[2], av[1], prev_version)
            if duration is not None:
                self.app_duration.labels(*av, state).observe(duration)
                self.app_deploymentduration.labels(*labels).set(duration)
            interval_gauge = self.app_deploymentinterval
        version = _s(_get(obj, "spec", "version"))
        if end is not None:
            prev_end = _seconds(_get(previous, "status", "endTime")) if previous else None
            if prev_end is None and prev_version:
                prev_end = self._last_end.get((namespace, app, workload, prev_version))
            if prev_end is not None:
                interval_gauge.labels(*labels).set(max(0.0, end - prev_end))
            self._last_end[(namespace, app, workload, version)] = end
        self._dora(obj, state, end, failed_since)
        return True

    def _dora(self, obj: Mapping[str, Any], state: str, end: float | None, since: TimeLike) -> None:
        scope = self._scope(obj)
        result = {"Succeeded": "succeeded", "Failed": "failed", "Warning": "failed"}.get(state)
        if result is None:  # Deprecated/Unknown: superseded, not a deployment outcome
            return
        self.dora_deployments.labels(*scope, result).inc()
        if end is None:
            return
        if result == "failed":
            # The first failure of a streak starts the outage; later failures do not reset it.
            self._last_failure.setdefault(scope, end)
            return
        failed_at = self._last_failure.pop(scope, None)
        failed_at = failed_at if failed_at is not None else _seconds(since)
        if failed_at is not None:
            self.dora_time_to_restore.labels(*scope).observe(max(0.0, end - failed_at))
        commit = _commit_time(obj)
        if commit is not None:
            self.dora_lead_time.labels(*scope).observe(max(0.0, end - commit))

    def observe(
        self,
        before: Mapping[str, Any] | None,
        after: Mapping[str, Any],
        *,
        previous: Mapping[str, Any] | None = None,
        failed_since: TimeLike = None,
    ) -> None:
        """Count what a committed status change did, for any of the four kinds.

        Call after each successful status patch with the old and new body. ``before=None`` is
        first sight (the initial list after a restart): an unfinished object re-enters the
        ``*_active`` gauges, and whatever had already ended is remembered as counted.
        """
        status = after.get("status") or {}
        kind = after.get("kind")
        if kind in ("KeptnTask", "KeptnEvaluation"):
            child = "task" if kind == "KeptnTask" else "evaluation"
            started = bool(status.get("startTime")) and not _get(before, "status", "startTime")
            ended = bool(status.get("endTime")) and not _get(before, "status", "endTime")
            if before is None and ended:
                self._first((child, "started", _identity(after)))
                self._first((child, "finished", _identity(after)))
                return
            labels = (self._task_labels if child == "task" else self._evaluation_labels)(after)
            if started:
                self._child(child, after, labels, done=False)
            if ended and before is not None:
                self._child(child, after, labels, done=True)
            return
        carriers = status.get("phaseTraceIDs") or {}
        if before is None:
            identity = _identity(after)
            for phase, carrier in carriers.items():
                if isinstance(carrier, Mapping) and carrier.get("endTime"):
                    self._first(("phase", identity, phase))
            if status.get("endTime"):
                self._first(("started", identity))
                self._first(("finished", identity))
            elif status.get("startTime"):
                self.object_started(after)
            return
        if status.get("startTime") and not _get(before, "status", "startTime"):
            self.object_started(after)
        for phase in newly_ended_phases(before, after):
            carrier = carriers.get(phase) or {}
            if phase != "root":
                state = _s(carrier.get("state"))
                self.phase_ended(
                    after, phase, state, carrier.get("startTime"), carrier.get("endTime")
                )
        if status.get("endTime") and not _get(before, "status", "endTime"):
            self.object_finished(after, previous=previous, failed_since=failed_since)

    # --- tasks and evaluations ------------------------------------------------------------------

    @staticmethod
    def _task_labels(task: Mapping[str, Any]) -> tuple[str, ...]:
        ctx = _get(task, "spec", "context") or {}
        return (
            _s(ctx.get("appName")),
            _s(ctx.get("appVersion")),
            _s(ctx.get("workloadName")),
            _s(ctx.get("workloadVersion")),
            _s(_get(task, "metadata", "name")),
            _s(ctx.get("taskType") or _get(task, "spec", "checkType")),
        )

    @staticmethod
    def _evaluation_labels(ev: Mapping[str, Any]) -> tuple[str, ...]:
        spec = ev.get("spec") or {}
        return (
            _s(spec.get("appName")),
            _s(spec.get("appVersion")),
            _s(spec.get("workload")),
            _s(spec.get("workloadVersion")),
            _s(_get(ev, "metadata", "name")),
            _s(spec.get("checkType")),
        )

    def _child(
        self, kind: str, body: Mapping[str, Any], labels: tuple[str, ...], done: bool
    ) -> bool:
        active, count, duration, field = {
            "task": (self.task_active, self.task_count, self.task_duration, "status"),
            "evaluation": (
                self.evaluation_active, self.evaluation_count, self.evaluation_duration,
                "overallStatus",
            ),
        }[kind]  # fmt: skip
        if not self._first((kind, "finished" if done else "started", _identity(body))):
            return False
        if not done:
            active.labels(*labels).inc()
            return True
        active.labels(*labels).dec()
        state = _s(_get(body, "status", field))
        count.labels(*labels, state).inc()
        start = _seconds(_get(body, "status", "startTime"))
        end = _seconds(_get(body, "status", "endTime"))
        if start is not None and end is not None:
            duration.labels(*labels, state).observe(max(0.0, end - start))
        return True

    def task_started(self, task: Mapping[str, Any]) -> bool:
        """A KeptnTask got its startTime (its Job was created)."""
        return self._child("task", task, self._task_labels(task), done=False)

    def task_finished(self, task: Mapping[str, Any]) -> bool:
        """A KeptnTask reached a final status.status."""
        return self._child("task", task, self._task_labels(task), done=True)

    def evaluation_started(self, ev: Mapping[str, Any]) -> bool:
        """A KeptnEvaluation got its startTime."""
        return self._child("evaluation", ev, self._evaluation_labels(ev), done=False)

    def evaluation_finished(self, ev: Mapping[str, Any]) -> bool:
        """A KeptnEvaluation reached a final status.overallStatus."""
        return self._child("evaluation", ev, self._evaluation_labels(ev), done=True)

    # --- CloudEvents and KeptnMetrics -----------------------------------------------------------

    def cloudevent_sent(self) -> None:
        self.cloudevents_sent.inc()

    def cloudevent_failed(self) -> None:
        """One delivery attempt failed (it may still be retried)."""
        self.cloudevents_failed.inc()

    def cloudevent_dropped(self, reason: str) -> None:
        """An event was given up; ``reason`` is one of DROP_REASONS."""
        self.cloudevents_dropped.labels(reason).inc()

    def set_cloudevent_queue(self, length: int) -> None:
        self.cloudevents_queue.set(length)

    def set_metric_value(self, namespace: str, name: str, value: float) -> None:
        """A KeptnMetric's status.value changed."""
        self.metric_value.labels(namespace, name).set(value)

    def remove_metric_value(self, namespace: str, name: str) -> None:
        """A KeptnMetric was deleted: drop its series (no error if it never had one)."""
        with contextlib.suppress(KeyError):
            self.metric_value.remove(namespace, name)
