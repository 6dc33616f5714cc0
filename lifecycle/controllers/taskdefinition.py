"""KeptnTaskDefinition controller: inline code -> the ``keptnfn-<definition>`` ConfigMap.

Role: for a deno/python definition with ``inline.code`` it creates the ConfigMap (data key
``code``, owned by the definition, body from ``lifecycle.core.runtimes.function_config_map``) or
updates it when the code changed, and records the name in ``status.function.configMap``; for
``configMapRef`` it records the user's ConfigMap name (as KLT). Validation is the admission
webhook's; this controller never rejects a definition.

Invariants: one GET of the ConfigMap per reconcile of a definition with inline code, a write only
when the ConfigMap is missing or its code differs (``flow.codemaps.ensure_code``, which the task
controller uses for its copies too), a status patch only when the recorded name changes. Failures emit ``ReconcileTaskFailed`` (KLT: "could not create/update configmap") and are
retried with backoff. The ConfigMap goes away with its owner (garbage collection), never here.
"""

from __future__ import annotations

from lifecycle.core import model
from lifecycle.core.bodies import KeptnTaskDefinitionBody
from lifecycle.core.kubebodies import ConfigMapBody
from lifecycle.core.meta import name_of, namespace_of
from lifecycle.core.phases import LONG_NAMES, Phase
from lifecycle.core.runtimes import function_config_map
from lifecycle.flow.children import ChildShell
from lifecycle.flow.codemaps import ensure_code
from lifecycle.flow.context import OperatorContext
from lifecycle.kube import Controller, ObjectKey, Result, format_message, self_key

__all__ = ["COMPONENT", "setup"]

COMPONENT = "keptntaskdefinition-controller"


def _recorded_name(definition: KeptnTaskDefinitionBody) -> str:
    spec = definition.get("spec") or {}
    for runtime in (spec.get("deno"), spec.get("python")):
        ref = ((runtime or {}).get("configMapRef") or {}).get("name")
        if ref:
            return ref
    return ""


def setup(ctx: OperatorContext) -> Controller[ObjectKey]:
    """The KeptnTaskDefinition controller (woken by definitions and their ConfigMaps' owners)."""
    definitions = ctx.informer(model.KEPTN_TASK_DEFINITION)
    shell = ChildShell(ctx, model.KEPTN_TASK_DEFINITION, COMPONENT, conditional=False)

    def failed(definition: KeptnTaskDefinitionBody, config_map: ConfigMapBody, text: str) -> None:
        where = {"namespace": namespace_of(config_map), "name": name_of(config_map)}
        ctx.recorder(COMPONENT).emit(
            {**config_map, "apiVersion": "v1", "kind": "ConfigMap"},
            "Warning",
            "ReconcileTaskFailed",
            format_message(
                LONG_NAMES[Phase.RECONCILE_TASK],
                text,
                **where,
                version="",
            ),
            annotations={
                **where,
                "phase": Phase.RECONCILE_TASK.value,
                "taskDefinitionName": name_of(definition),
            },
        )

    async def reconcile(key: ObjectKey) -> Result:
        definition = ctx.cache(model.KEPTN_TASK_DEFINITION).get(key.namespace, key.name)
        if definition is None:
            return Result()
        wanted = function_config_map(definition)
        name = _recorded_name(definition)
        if wanted is not None:
            await ensure_code(
                ctx.client, wanted, failed=lambda text: failed(definition, wanted, text)
            )
            name = str(wanted["metadata"]["name"])
        if name:
            await shell.write(definition, {"function": {"configMap": name}})
        return Result()

    controller: Controller[ObjectKey] = Controller(
        "keptntaskdefinition", reconcile, ctx.settings.workers
    )
    controller.watch(definitions, self_key)
    # ConfigMaps have no informer: one edited or deleted by hand is restored on the definition's
    # next event (or resync), not at once.
    return controller
