"""What every controller gets from the composition root: one frozen `OperatorContext`.

The composition root (lifecycle/operator/root.py) builds the client, one informer per kind (with the
indexes below), the event recorders, telemetry, tracing and the CloudEvents sender, and hands
them to each controller module's `setup(ctx) -> Controller`. Controllers read only from the
informer caches and write through `ctx.client`; they never build their own clients, informers
or registries, and they hold no module-level state.

Invariants: the informers listed in `KINDS` exist for the whole run; `ctx.config()` always
returns the settings of the last reconciled KeptnConfig (or the defaults); `ctx.now()` is the
only clock a controller reads.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar, cast

from lifecycle.core import model
from lifecycle.core.machine import MachineConfig
from lifecycle.core.meta import namespace_of
from lifecycle.core.model import ResourceKind
from lifecycle.core.runtimes import DEFAULT_DENO_IMAGE, DEFAULT_PYTHON_IMAGE
from lifecycle.core.tenancy import lookup_namespaces
from lifecycle.kube.cache import BodyT, Cache, cache_of
from lifecycle.kube.client import Body, KubeClient
from lifecycle.kube.controller import Controller, Mapper
from lifecycle.kube.events import EventRecorder
from lifecycle.kube.informer import Informer, owner_uids
from lifecycle.observability.cloudevents import CloudEventSender
from lifecycle.observability.spanmarks import SpanMarks
from lifecycle.observability.telemetry import Telemetry
from tracing.spans import SpanSink

__all__ = [
    "INDEXES",
    "KINDS",
    "ConfigHolder",
    "OperatorContext",
    "OperatorSettings",
]

K = TypeVar("K", bound=Hashable)


def _spec(*path: str) -> Callable[[Body], list[str]]:
    def index(obj: Body) -> list[str]:
        value = obj.get("spec")
        for key in path:
            value = value.get(key) if isinstance(value, Mapping) else None
        return [str(value)] if value else []

    return index


def _analysis_definition(obj: Body) -> list[str]:
    """``<namespace>/<name>`` of an Analysis's AnalysisDefinition (ref namespace or its own)."""
    ref = (model.ANALYSIS.view(obj).get("spec") or {}).get("analysisDefinition") or {}
    if not ref.get("name"):
        return []
    ns = ref.get("namespace") or namespace_of(obj)
    return [f"{ns}/{ref['name']}"]


def _metric_provider(obj: Body) -> list[str]:
    """The name of a KeptnMetric's provider (indexed even when empty)."""
    spec = model.KEPTN_METRIC.view(obj).get("spec") or {}
    return [str((spec.get("provider") or {}).get("name", ""))]


KINDS: tuple[ResourceKind, ...] = (
    *model.CRD_KINDS,
    model.POD,
    model.REPLICA_SET,
    model.STATEFUL_SET,
    model.DAEMON_SET,
    model.JOB,
    model.NAMESPACE,
)
"""Every kind the operator keeps an informer (a cache) for: the CRDs and the built-in kinds read."""

INDEXES: Mapping[ResourceKind, Mapping[str, Callable[[Body], list[str]]]] = {
    model.KEPTN_APP_VERSION: {"owner": owner_uids, "app": _spec("appName")},
    model.KEPTN_WORKLOAD: {"owner": owner_uids, "app": _spec("app")},
    model.KEPTN_WORKLOAD_VERSION: {
        "owner": owner_uids,
        "app": _spec("app"),
        "resourceReference": _spec("resourceReference", "uid"),
        "workloadName": _spec("workloadName"),
    },
    model.KEPTN_TASK: {"owner": owner_uids, "taskDefinition": _spec("taskDefinition")},
    model.KEPTN_EVALUATION: {
        "owner": owner_uids,
        "evaluationDefinition": _spec("evaluationDefinition"),
    },
    model.KEPTN_METRIC: {"provider": _metric_provider},
    model.ANALYSIS: {"analysisDefinition": _analysis_definition},
    model.POD: {"owner": owner_uids},
    model.REPLICA_SET: {"owner": owner_uids},
    model.JOB: {"owner": owner_uids},
}
"""Cache indexes, by kind: name -> function(body) -> keys. "owner" indexes ownerReference uids."""


@dataclass(frozen=True, slots=True)
class OperatorSettings:
    """The operator's own flags (not the KeptnConfig, which can change at run time)."""

    keptn_namespace: str = "keptn-system"
    """POD_NAMESPACE: fallback namespace for task/evaluation definitions and metrics."""
    watch_namespace: str | None = None
    """Only watch this namespace (None: cluster-wide)."""
    workers: int = 4
    """Concurrent reconciles per controller."""
    deno_runner_image: str = DEFAULT_DENO_IMAGE
    """FUNCTION_RUNNER_IMAGE: image of deno tasks."""
    python_runner_image: str = DEFAULT_PYTHON_IMAGE
    """PYTHON_RUNNER_IMAGE: image of python tasks."""
    promotion_tasks_enabled: bool = False
    """PROMOTION_TASKS_ENABLED: run the AppVersion's PromotionTasks phase."""
    max_concurrent_jobs: int = 50
    """--max-jobs: task Jobs running at once; more tasks wait (lifecycle/controllers/jobslots)."""
    max_provider_queries: int = 10
    """--max-provider-queries: concurrent queries per metric provider (targetServer)."""


@dataclass(slots=True)
class ConfigHolder:
    """The current KeptnConfig as the machine's settings plus the integration endpoints.

    Written only by the KeptnConfig controller; read by everyone through `OperatorContext.config()`.
    """

    machine: MachineConfig = field(default_factory=MachineConfig)
    otel_collector_url: str = ""
    cloud_events_endpoint: str = ""
    app_creation_request_timeout_seconds: float = 30.0
    listeners: list[Callable[[ConfigHolder], None]] = field(default_factory=list)

    def changed(self) -> None:
        """Tell the listeners (tracing, CloudEvents sender) the config changed."""
        for fn in self.listeners:
            fn(self)


@dataclass(frozen=True, slots=True)
class OperatorContext:
    """Everything a controller's `setup(ctx)` may use."""

    client: KubeClient
    informers: Mapping[ResourceKind, Informer]
    recorders: Mapping[str, EventRecorder]
    """By component name (keptnappversion-controller, keptntask-controller, ... keptn/webhook)."""
    telemetry: Telemetry
    spans: SpanSink
    cloudevents: CloudEventSender
    settings: OperatorSettings
    holder: ConfigHolder
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    marks: SpanMarks | None = None
    """Durable span export (lifecycle.observability.spanmarks): spans built from status are handed
    here, exported once and marked in the object; None exports straight to `spans` (tests)."""

    def informer(self, kind: ResourceKind) -> Informer:
        return self.informers[kind]

    def cache(self, kind: ResourceKind[BodyT]) -> Cache[BodyT]:
        """The informer cache of ``kind``, typed as its bodies (lifecycle.core.bodies)."""
        return cache_of(self.informers[kind].store, kind)

    def watch(
        self,
        controller: Controller[K],
        kind: ResourceKind[BodyT],
        mapper: Callable[[str, BodyT, BodyT | None], Iterable[K]],
    ) -> None:
        """``controller.watch`` of the informer of ``kind``, ``mapper`` typed as its bodies."""
        controller.watch(self.informers[kind], cast("Mapper[K]", mapper))

    def recorder(self, component: str) -> EventRecorder:
        return self.recorders[component]

    def config(self) -> MachineConfig:
        return self.holder.machine

    def now(self) -> datetime:
        return self.clock()

    def find_here_or_keptn(
        self, kind: ResourceKind[BodyT], namespace: str, name: str
    ) -> BodyT | None:
        """``name`` of ``kind`` from the cache: in ``namespace``, else in the Keptn namespace."""
        store = self.cache(kind)
        for ns in lookup_namespaces(namespace, self.settings.keptn_namespace):
            if (found := store.get(ns, name)) is not None:
                return found
        return None
