"""When a KeptnAppVersion's decision is written: fewer status writes, no warning for a race.

AppDeploy folds the states of the app's WorkloadVersions into ``status.workloadStatus``; written
as decided, an app of five was patched about nine times and warned ``ReconcileWorkloadNotFound``
for each WorkloadVersion the cache did not hold yet (the AppVersion often comes before its
workloads' pods reach the webhook). ``AppVersionPacing.pace``, between ``decide()`` and the
executor:
- holds a decision that changes only the items (and the aggregate, while not final) for up to
  ``ITEMS_WINDOW`` (KLT refreshes them on its 5 s AppDeploy poll); any other change (a phase, a
  final aggregate, an Event) is written at once and carries the items with it;
- for ``WORKLOADS_GRACE`` after creation, leaves a WorkloadVersion the cache lacks out of the
  items, unwarned: its creation wakes the AppVersion. Past it, KLT's Event as decided, once.
State: the items' due time per AppVersion, dropped by the next write and by ``forget``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Final

from lifecycle.core import model
from lifecycle.core.actions import EmitEvent
from lifecycle.core.bodies import KeptnAppVersionBody, WorkloadStatus
from lifecycle.core.machine import Decision
from lifecycle.core.naming import workload_name, workload_version_name
from lifecycle.core.phases import State
from lifecycle.core.windows import created
from lifecycle.flow.objects import VersionBody
from lifecycle.kube.controller import ObjectKey, key_of

__all__ = ["ITEMS_WINDOW", "WORKLOADS_GRACE", "AppVersionPacing"]

ITEMS_WINDOW: Final = timedelta(seconds=1)
"""Longest a WorkloadVersion's new state waits to be written into the AppVersion's items (short:
once the WorkloadVersions settle, e.g. all waiting on long tasks, its timer is soon spent)."""

WORKLOADS_GRACE: Final = timedelta(seconds=30)
"""How long after its creation an AppVersion waits quietly for its WorkloadVersions to appear."""

_ITEMS: Final = "workloadStatus"
_OVERALL: Final = "workloadOverallStatus"
_NOT_FOUND: Final = "ReconcileWorkloadNotFound"


class AppVersionPacing:
    """Decides, per AppVersion decision, whether to carry it out now or look again later."""

    def __init__(self) -> None:
        self._due: dict[ObjectKey, datetime] = {}

    def forget(self, key: ObjectKey) -> None:
        self._due.pop(key, None)

    def pace(self, obj: VersionBody, decision: Decision, now: datetime) -> Decision | datetime:
        """The decision to carry out now, or the time to reconcile again instead (AppVersions
        only: the KeptnAppVersion controller's executor is the one given a pacing)."""
        decision = _quiet_missing(model.KEPTN_APP_VERSION.view(obj), decision, now)
        key = key_of(obj)
        if decision.actions or not _items_only(decision.status):
            self._due.pop(key, None)  # written now, with the items
            return decision
        if not decision.status:
            return decision
        due = self._due.setdefault(key, now + ITEMS_WINDOW)
        if now < due:
            return min(due, decision.requeue_at or due)
        del self._due[key]
        return decision


def _items_only(status: Mapping[str, object]) -> bool:
    """Only the items changed, and the aggregate, if at all, to a state that is not final."""
    overall = status.get(_OVERALL)
    return not set(status) - {_ITEMS, _OVERALL} and (
        overall is None or not State.parse(overall).is_completed
    )


def _quiet_missing(obj: KeptnAppVersionBody, decision: Decision, now: datetime) -> Decision:
    """The decision without the not-found warnings and items while the grace lasts."""
    missing = {
        action.key.removeprefix(_NOT_FOUND + "/")
        for action in decision.actions
        if isinstance(action, EmitEvent) and action.reason == _NOT_FOUND
    }
    grace_end = created(obj, now) + WORKLOADS_GRACE
    if not missing or now >= grace_end:
        return decision
    actions = tuple(
        a for a in decision.actions if not (isinstance(a, EmitEvent) and a.reason == _NOT_FOUND)
    )
    status = dict(decision.status)
    if _ITEMS in status:
        app = (obj.get("spec") or {}).get("appName", "")
        items = [i for i in status[_ITEMS] if _version_name(app, i) not in missing]
        if items == ((obj.get("status") or {}).get(_ITEMS) or []):
            del status[_ITEMS]
        else:
            status[_ITEMS] = items
    requeue = min(grace_end, decision.requeue_at or grace_end)
    return dataclasses.replace(decision, status=status, actions=actions, requeue_at=requeue)


def _version_name(app: str, item: WorkloadStatus) -> str:
    ref: Mapping[str, object] = item.get("workload") or {}
    return workload_version_name(
        workload_name(app, str(ref.get("name", ""))), str(ref.get("version", ""))
    )
