"""KeptnConfig controller: the last reconciled KeptnConfig becomes the operator's live settings.

Role: translate a KeptnConfig (options.keptn.sh/v1alpha1) of the operator's own namespace
(``--keptn-namespace``; one elsewhere is ignored and logged, lifecycle.core.tenancy) into the ConfigHolder:
the machine's MachineConfig (blockDeployment, observabilityTimeout, definitionWaitSeconds, plus
the operator's promotion-tasks flag), the OTel collector URL, the CloudEvents endpoint and the
app-creation window; then `holder.changed()` tells the listeners (tracing, CloudEvents sender)
that the composition root registered. When the last KeptnConfig is deleted the defaults return.
A bad value (an unparsable duration) keeps the default for that field and is logged.
Must not: touch the API (reads the cache only).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from evaluator.durations import parse_duration
from lifecycle.core import model
from lifecycle.core.bodies import KeptnConfigBody
from lifecycle.core.machine import MachineConfig
from lifecycle.core.meta import metadata_of
from lifecycle.core.tenancy import config_allowed
from lifecycle.flow.context import ConfigHolder, OperatorContext
from lifecycle.kube.controller import Controller, ObjectKey, Result, self_key

__all__ = ["apply_config", "setup"]

log = logging.getLogger(__name__)


def _seconds(value: object, default: float) -> float:
    return float(value) if isinstance(value, int | float) and value >= 0 else default


def apply_config(
    holder: ConfigHolder, config: KeptnConfigBody | None, *, promotion_tasks_enabled: bool
) -> None:
    """Write a KeptnConfig (None: the defaults) into `holder` and notify its listeners."""
    spec = (config or {}).get("spec") or {}
    defaults = MachineConfig()
    timeout = defaults.observability_timeout
    if isinstance(spec.get("observabilityTimeout"), str):
        try:
            timeout = parse_duration(spec["observabilityTimeout"])
        except ValueError:
            log.warning("KeptnConfig: bad observabilityTimeout %r", spec["observabilityTimeout"])
    block = spec.get("blockDeployment")
    holder.machine = MachineConfig(
        block_deployment=block if isinstance(block, bool) else True,
        observability_timeout=timeout,
        definition_wait=timedelta(
            seconds=_seconds(
                spec.get("definitionWaitSeconds"), defaults.definition_wait.total_seconds()
            )
        ),
        promotion_tasks_enabled=promotion_tasks_enabled,
    )
    holder.otel_collector_url = str(spec.get("OTelCollectorUrl") or "")
    holder.cloud_events_endpoint = str(spec.get("cloudEventsEndpoint") or "")
    holder.app_creation_request_timeout_seconds = _seconds(
        spec.get("keptnAppCreationRequestTimeoutSeconds"), 30.0
    )
    holder.changed()


def setup(ctx: OperatorContext) -> Controller[ObjectKey]:
    """The KeptnConfig controller (not started); one worker, so configs apply in event order."""
    store = ctx.cache(model.KEPTN_CONFIG)
    keptn_namespace = ctx.settings.keptn_namespace

    async def reconcile(key: ObjectKey) -> Result | None:
        config = store.get(key.namespace, key.name)
        if not config_allowed(key.namespace, keptn_namespace):
            if config is not None:
                log.warning(
                    "KeptnConfig %s/%s ignored: KeptnConfig is read only from %s",
                    key.namespace,
                    key.name,
                    keptn_namespace,
                )
            return None
        if config is None:  # the newest remaining one, else the defaults
            config = max(
                store.list(keptn_namespace),
                key=lambda c: metadata_of(c).get("creationTimestamp", ""),
                default=None,
            )
        apply_config(
            ctx.holder, config, promotion_tasks_enabled=ctx.settings.promotion_tasks_enabled
        )
        return None

    controller: Controller[ObjectKey] = Controller("keptnconfig", reconcile, 1)
    controller.watch(ctx.informer(model.KEPTN_CONFIG), self_key)
    return controller
