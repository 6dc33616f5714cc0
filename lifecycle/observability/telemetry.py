"""Prometheus metrics of the lifecycle operator: KLT's names and labels, phase metrics and DORA.

Role: one :class:`Telemetry` per process owns a ``CollectorRegistry`` and every instrument (created
by its base, lifecycle.observability.instruments; labels read by telemetry_labels). Controllers
call its methods *after* a transition is committed to status (``object_started``, ``phase_ended``,
``object_finished``, ``task_finished`` ...). Every metric is documented with PromQL in docs/metrics.md.

Invariants:
* a transition is counted once: each method remembers (object, transition) in a bounded in-memory
  set and ignores a repeat (a controller retrying after a conflict, or a resync after restart);
  once an object finished, its one "finished" key stands for all its transitions (nothing
  starts or ends after the end: the machine's Finished is a flow's last action), so its
  "started" and per-phase keys are dropped;
* ``keptn_*_active`` gauges are kept incrementally (inc on start, dec on finish) -- nothing lists
  objects on a scrape (KLT does, on every scrape);
* names and labels of KLT's instruments are exactly those of KLT (lifecycle.observability.instruments).

Restart limitation: time-to-restore needs the previous failure of the same app/workload; it is kept
in memory. After a restart the caller may pass ``failed_since`` (derived from the previous version's
status) to :meth:`Telemetry.object_finished`; otherwise the first recovery after a restart is not
observed. The same holds for ``*_deploymentinterval`` (pass ``previous``).
Must not do I/O or list objects; must not import kubernetes_asyncio.
"""

from __future__ import annotations

import contextlib
import sys
from collections import OrderedDict
from collections.abc import Hashable, Mapping

from prometheus_client import CollectorRegistry

from lifecycle.core.model import KEPTN_EVALUATION, KEPTN_TASK
from lifecycle.core.phases import APP_PHASES, WORKLOAD_PHASES
from lifecycle.observability.instruments import Instruments
from lifecycle.observability.telemetry_labels import (
    TimeLike,
    VersionBody,
    app_labels_of,
    as_text,
    child_of,
    commit_time_of,
    evaluation_labels_of,
    identity_of,
    is_workload_version,
    phase_exemplar,
    scope_of,
    task_labels_of,
    to_seconds,
    wl_labels_of,
)

__all__ = ["Telemetry"]

_DEDUPE_LIMIT = 100_000
_PHASES = tuple(sys.intern(str(row.phase)) for row in (*APP_PHASES, *WORKLOAD_PHASES))


class Telemetry(Instruments):
    """All operator metrics on one registry; methods are called once per committed transition."""

    def __init__(self, registry: CollectorRegistry, *, process_metrics: bool = True) -> None:
        super().__init__(registry, process_metrics=process_metrics)
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

    def _ended(self, kind: str, identity: str) -> bool:
        """True once ``identity`` finished: its earlier transitions cannot come again."""
        return (kind, "finished", identity) in self._seen

    def _finished(self, kind: str, identity: str, *steps: Hashable) -> bool:
        """``_first`` of the finish; the first time, the object's other keys are dropped."""
        if not self._first((kind, "finished", identity)):
            return False
        for step in ("started", *steps):
            self._seen.pop((kind, step, identity), None)
        return True

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

    def object_started(self, obj: VersionBody) -> bool:
        """An AppVersion/WorkloadVersion got its startTime; returns False on a repeat."""
        identity = identity_of(obj)
        if self._ended("version", identity) or not self._first(("version", "started", identity)):
            return False
        labels: tuple[str, ...]
        if is_workload_version(obj):
            active, count, labels = self.deployment_active, self.deployment_count, wl_labels_of(obj)
        else:
            active, count, labels = self.app_active, self.app_count, app_labels_of(obj)
        active.labels(*labels).inc()
        # Outcome counters start at 0 here so that increase() sees the first finish: a series
        # born at 1 shows no increase in Prometheus, which hides rare events like DORA's.
        for state in ("Succeeded", "Failed"):
            self.dora_deployments.labels(*scope_of(obj), state)
            count.labels(*labels, state)
        return True

    def phase_ended(
        self,
        obj: VersionBody,
        phase: str,
        state: str,
        start: TimeLike,
        end: TimeLike,
    ) -> bool:
        """A phase of ``obj`` ended with ``state`` (Succeeded/Failed/Warning/Deprecated)."""
        phase = sys.intern(phase)  # kept in the dedupe key: one string per phase name
        identity = identity_of(obj)
        if self._ended("version", identity) or not self._first(("version", phase, identity)):
            return False
        namespace, app, workload = scope_of(obj)
        begin, finish = to_seconds(start), to_seconds(end)
        if begin is not None and finish is not None:
            self.phase_duration.labels(phase, state, namespace, app, workload).observe(
                max(0.0, finish - begin), exemplar=phase_exemplar(obj, phase)
            )
        errored = self.phase_errored.labels(phase, namespace, app, workload)  # 0 until one fails
        if state == "Failed":
            errored.inc()
        if phase == "PromotionTasks" and not is_workload_version(obj):
            self.promotion_count.labels(*app_labels_of(obj), state).inc()
        return True

    def object_finished(
        self,
        obj: VersionBody,
        *,
        previous: VersionBody | None = None,
        failed_since: TimeLike = None,
    ) -> bool:
        """An AppVersion/WorkloadVersion got its endTime (status.status final).

        ``previous`` is the predecessor version's body (for ``*_deploymentinterval``);
        ``failed_since`` the end of the last failed deployment if known from status (for
        time-to-restore across restarts). Returns False on a repeat.
        """
        if not self._finished("version", identity_of(obj), *_PHASES):
            return False
        status, spec = obj.get("status", {}), obj.get("spec", {})
        state = as_text(status.get("status"))
        start, end = to_seconds(status.get("startTime")), to_seconds(status.get("endTime"))
        duration = None if start is None or end is None else max(0.0, end - start)
        prev_version = as_text(spec.get("previousVersion"))
        namespace, app, workload = scope_of(obj)
        if is_workload_version(obj):
            wl = wl_labels_of(obj)
            self.deployment_active.labels(*wl).dec()
            self.deployment_count.labels(*wl, state).inc()
            labels: tuple[str, ...] = (wl[0], wl[1], wl[3], wl[2], prev_version)
            if duration is not None:
                self.deployment_duration.labels(*wl, state).observe(duration)
                self.deployment_deploymentduration.labels(*labels).set(duration)
            interval_gauge = self.deployment_deploymentinterval
        else:
            av = app_labels_of(obj)
            self.app_active.labels(*av).dec()
            self.app_count.labels(*av, state).inc()
            labels = (av[0], av[2], av[1], prev_version)
            if duration is not None:
                self.app_duration.labels(*av, state).observe(duration)
                self.app_deploymentduration.labels(*labels).set(duration)
            interval_gauge = self.app_deploymentinterval
        version = as_text(spec.get("version"))
        if end is not None:
            prev_status = previous.get("status", {}) if previous else {}
            prev_end = to_seconds(prev_status.get("endTime"))
            if prev_end is None and prev_version:
                prev_end = self._last_end.get((namespace, app, workload, prev_version))
            if prev_end is not None:
                interval_gauge.labels(*labels).set(max(0.0, end - prev_end))
            self._last_end[(namespace, app, workload, version)] = end
        self._dora(obj, state, end, failed_since)
        return True

    def _dora(self, obj: VersionBody, state: str, end: float | None, since: TimeLike) -> None:
        scope = scope_of(obj)
        # KLT state names as on the phase metrics; Warning: a failure the flow went on after
        result = {"Succeeded": "Succeeded", "Failed": "Failed", "Warning": "Failed"}.get(state)
        if result is None:  # Deprecated/Unknown: superseded, not a deployment outcome
            return
        self.dora_deployments.labels(*scope, result).inc()
        if end is None:
            return
        if result == "Failed":
            # The first failure of a streak starts the outage; later failures do not reset it.
            self._last_failure.setdefault(scope, end)
            return
        failed_at = self._last_failure.pop(scope, None)
        failed_at = failed_at if failed_at is not None else to_seconds(since)
        if failed_at is not None:
            self.dora_time_to_restore.labels(*scope).observe(max(0.0, end - failed_at))
        commit = commit_time_of(obj)
        if commit is not None:
            self.dora_lead_time.labels(*scope).observe(max(0.0, end - commit))

    # --- tasks and evaluations ------------------------------------------------------------------

    def _child(self, kind: str, body: Mapping[str, object], done: bool) -> bool:
        labels: tuple[str, ...]
        if kind == "task":
            task = KEPTN_TASK.view(body)
            labels, state = task_labels_of(task), task.get("status", {}).get("status")
            active, count, duration = self.task_active, self.task_count, self.task_duration
        else:
            ev = KEPTN_EVALUATION.view(body)
            labels, state = evaluation_labels_of(ev), ev.get("status", {}).get("overallStatus")
            active, count, duration = (
                self.evaluation_active, self.evaluation_count, self.evaluation_duration
            )  # fmt: skip
        identity = identity_of(body)
        if done:
            if not self._finished(kind, identity):
                return False
        elif self._ended(kind, identity) or not self._first((kind, "started", identity)):
            return False
        if not done:
            active.labels(*labels).inc()
            return True
        active.labels(*labels).dec()
        count.labels(*labels, as_text(state)).inc()
        times = child_of(body).get("status", {})
        start, end = to_seconds(times.get("startTime")), to_seconds(times.get("endTime"))
        if start is not None and end is not None:
            duration.labels(*labels, as_text(state)).observe(max(0.0, end - start))
        return True

    def task_started(self, task: Mapping[str, object]) -> bool:
        """A KeptnTask got its startTime (its Job was created)."""
        return self._child("task", task, done=False)

    def task_finished(self, task: Mapping[str, object]) -> bool:
        """A KeptnTask reached a final status.status."""
        return self._child("task", task, done=True)

    def evaluation_started(self, ev: Mapping[str, object]) -> bool:
        """A KeptnEvaluation got its startTime."""
        return self._child("evaluation", ev, done=False)

    def evaluation_finished(self, ev: Mapping[str, object]) -> bool:
        """A KeptnEvaluation reached a final status.overallStatus."""
        return self._child("evaluation", ev, done=True)

    # --- KeptnMetrics (the CloudEvents sender counts on the instruments itself) ---

    def set_metric_value(self, namespace: str, name: str, value: float) -> None:
        """A KeptnMetric's status.value changed."""
        self.metric_value.labels(namespace, name).set(value)

    def remove_metric_value(self, namespace: str, name: str) -> None:
        """A KeptnMetric was deleted: drop its series (no error if it never had one)."""
        with contextlib.suppress(KeyError):
            self.metric_value.remove(namespace, name)
