"""A KeptnAppContext that arrives late still reaches the phases its AppVersion has not started.

Role: KLT copies the same-name KeptnAppContext into a KeptnAppVersion only when the AppVersion
is created; the settle window (lifecycle.core.windows) covers contexts applied together
with their app. A context created or changed later (a separate `kubectl apply`, a slow GitOps
sync) is taken into the unfinished AppVersion for every phase that has not started yet (no
`status.phaseTraceIDs` entry): its task and evaluation lists, and `metadata`/`spanLinks` while
the AppVersion has not started at all. A Normal `AppContextTakenIn` Event on the AppVersion
names the fields. Phases that already ran keep what they ran with: a new revision re-runs them.

Invariants: the spec patch is conditional on the resourceVersion the decision was made from, so
an AppVersion that started a phase meanwhile is never given lists that phase will not run
(Conflict: the next reconcile decides again). Must not: touch completed AppVersions.
"""

from __future__ import annotations

import contextlib

from lifecycle.core import model
from lifecycle.core.actions import EmitEvent, EventType
from lifecycle.core.bodies import KeptnAppContextSpec, KeptnAppVersionBody
from lifecycle.core.meta import metadata_of
from lifecycle.core.phases import APP_PHASES, Phase
from lifecycle.flow.context import OperatorContext
from lifecycle.flow.objects import emit, is_completed
from lifecycle.kube.errors import Conflict, NotFound

__all__ = ["INTAKE_REASON", "take_in_context", "wanted_patch"]

INTAKE_REASON = "AppContextTakenIn"

_PHASE_OF_FIELD = {  # the spec lists of the phases of tasks and evaluations
    row.spec_field: row.phase for row in APP_PHASES if row.check_type and row.spec_field
}
_BEFORE_START = ("metadata", "spanLinks")


def wanted_patch(
    app_version: KeptnAppVersionBody, context_spec: KeptnAppContextSpec
) -> dict[str, object]:
    """The AppVersion spec fields the context changes, for phases that have not started."""
    if is_completed(app_version):
        return {}
    spec, status = app_version.get("spec", {}), app_version.get("status", {})
    started = set(status.get("phaseTraceIDs") or {})
    fields = [f for f, phase in _PHASE_OF_FIELD.items() if str(phase) not in started]
    if not status.get("startTime"):
        fields += _BEFORE_START
    empty: dict[str, object] = {"metadata": {}}
    return {
        f: value
        for f in fields
        if (value := context_spec.get(f)) is not None and value != spec.get(f, empty.get(f, []))
    }


async def take_in_context(
    ctx: OperatorContext,
    component: str,
    app_version: KeptnAppVersionBody,
    context_spec: KeptnAppContextSpec,
) -> bool:
    """Patch the late context into the AppVersion; True when it was taken in."""
    patch = wanted_patch(app_version, context_spec)
    if not patch:
        return False
    meta = metadata_of(app_version)
    body = {"metadata": {"resourceVersion": meta.get("resourceVersion")}, "spec": patch}
    with contextlib.suppress(Conflict, NotFound):  # it moved on: the next reconcile decides
        updated = await ctx.client.patch(
            model.KEPTN_APP_VERSION, str(meta.get("name")), body, str(meta.get("namespace"))
        )
        text = f"took in KeptnAppContext {', '.join(sorted(patch))} for the phases not started"
        key = f"{INTAKE_REASON}/{metadata_of(updated).get('resourceVersion', '')}"
        emit(
            ctx,
            component,
            updated,
            EmitEvent(INTAKE_REASON, EventType.NORMAL, Phase.CREATE_APP_VERSION, text, key),
        )
        return True
    return False
