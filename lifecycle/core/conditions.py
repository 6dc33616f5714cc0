"""``status.conditions`` of every resource the operator writes status to (kstatus-compatible).

Role: derive the standard condition list (``type``, ``status``, ``reason``, ``message``,
``observedGeneration``, ``lastTransitionTime``) from the status fields a controller is about to
write, so ``kubectl wait --for=condition=Ready``, Argo CD (deploy/argocd/health.lua) and Flux's
kstatus read the outcome without knowing KLT's states. Controllers call :func:`with_conditions`
on the fields of a status write; it adds ``conditions`` only when they change.

Conditions (kstatus: https://github.com/kubernetes-sigs/cli-utils/blob/master/pkg/kstatus):

* ``Ready`` (normal-true): True once the object is done and good -- a version or child
  Succeeded (Warning counts: the flow went on), an app/workload has its current version, a
  definition its ConfigMap, a metric its value, an analysis passed;
* ``Progressing`` (True while work remains) and its kstatus twin ``Reconciling``
  (abnormal-true: True only while the controller still works on it);
* ``Failed`` (True when the outcome is a failure) and its kstatus twin ``Stalled`` (True only
  for a final failure: nothing will change without a new spec).

kstatus then reads: Reconciling True -> InProgress, Stalled True -> Failed, otherwise Current.
``lastTransitionTime`` changes only when a condition's ``status`` changes (reason and message
may change under the same time). Pure: no I/O; the caller passes ``now``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from lifecycle.core.bodies import JSON, Condition
from lifecycle.core.kubebodies import AnyBody
from lifecycle.core.meta import metadata_of

__all__ = ["TYPES", "Outcome", "conditions", "outcome", "with_conditions"]

TYPES = ("Ready", "Progressing", "Reconciling", "Failed", "Stalled")
"""Every condition type written, in this order."""

_VERSION_KINDS = frozenset({"KeptnAppVersion", "KeptnWorkloadVersion"})
_FINAL_FAIL = frozenset({"Failed"})
_DONE_GOOD = frozenset({"Succeeded", "Warning"})


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a status says, before it becomes conditions."""

    state: str
    """"Ready", "Progressing", "Failed" (final), "Error" (failing, retried) or "Inactive"."""
    reason: str
    """CamelCase reason copied to every condition."""
    message: str


def _state_outcome(state: str, phase: str, what: str) -> Outcome:
    if state in _DONE_GOOD:
        return Outcome("Ready", state, f"{what} {state.lower()}")
    if state in _FINAL_FAIL:
        where = f" in phase {phase}" if phase else ""
        return Outcome("Failed", "Failed", f"{what} failed{where}")
    if state == "Deprecated":
        return Outcome("Inactive", "Deprecated", f"{what} was superseded by a newer one")
    reason = phase or state or "Pending"
    return Outcome("Progressing", reason, f"{what} is {(state or 'Pending').lower()}"
                   + (f" (phase {phase})" if phase else ""))  # fmt: skip


def outcome(kind: str, obj: AnyBody, status: Mapping[str, object]) -> Outcome | None:
    """The outcome of ``obj`` with ``status``; None for a kind without conditions."""
    if kind in _VERSION_KINDS:
        phase = str(status.get("currentPhase") or "")
        return _state_outcome(str(status.get("status") or ""), phase, kind.removeprefix("Keptn"))
    if kind == "KeptnTask":
        return _state_outcome(str(status.get("status") or ""), "", "task")
    if kind == "KeptnEvaluation":
        return _state_outcome(str(status.get("overallStatus") or ""), "", "evaluation")
    if kind in ("KeptnApp", "KeptnWorkload"):
        current = status.get("currentVersion")
        wanted = (obj.get("spec") or {}).get("version")
        if current and current == wanted:
            return Outcome("Ready", "VersionCreated", f"version {current} is the current version")
        return Outcome("Progressing", "CreatingVersion", f"creating version {wanted}")
    if kind == "KeptnTaskDefinition":
        function = status.get("function")
        if isinstance(function, Mapping) and function.get("configMap"):
            return Outcome("Ready", "ConfigMapWritten", "function ConfigMap written")
        return Outcome("Progressing", "WritingConfigMap", "writing the function ConfigMap")
    if kind == "KeptnMetric":
        if status.get("errMsg"):
            return Outcome("Error", "FetchFailed", str(status["errMsg"]).strip()[:512])
        if status.get("value") not in (None, ""):
            return Outcome("Ready", "ValueFetched", f"value {status['value']}")
        return Outcome("Progressing", "Fetching", "fetching the first value")
    if kind == "Analysis":
        if status.get("state") != "Completed":
            return Outcome("Progressing", str(status.get("state") or "Pending"), "analysing")
        if status.get("pass") or status.get("warning"):
            result = "passed with a warning" if status.get("warning") else "passed"
            return Outcome("Ready", "Passed", f"analysis {result}")
        return Outcome("Failed", "NotPassed", "analysis did not pass")
    return None


def _wanted(result: Outcome) -> dict[str, bool]:
    state = result.state
    return {
        "Ready": state == "Ready",
        "Progressing": state in ("Progressing", "Error"),
        "Reconciling": state in ("Progressing", "Error"),
        "Failed": state in ("Failed", "Error"),
        "Stalled": state == "Failed",
    }


def _timestamp(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def conditions(
    result: Outcome, generation: int, previous: object, now: datetime
) -> list[Condition]:
    """The condition list for ``result``; a condition keeps its time unless its status flips."""
    old = {
        c.get("type"): c for c in (previous if isinstance(previous, list) else [])
        if isinstance(c, Mapping)
    }  # fmt: skip
    out: list[Condition] = []
    for type_, true in _wanted(result).items():
        status: Literal["True", "False"] = "True" if true else "False"
        before = old.get(type_) or {}
        since = before.get("lastTransitionTime") if before.get("status") == status else None
        out.append(
            {
                "type": type_,
                "status": status,
                "reason": result.reason or "Unknown",
                "message": result.message,
                "observedGeneration": generation,
                "lastTransitionTime": since or _timestamp(now),
            }
        )
    return out


def with_conditions(kind: str, obj: AnyBody, fields: Mapping[str, object], now: datetime) -> JSON:
    """``fields`` (a status merge patch of ``obj``) plus ``conditions`` if they change.

    ``fields`` is merged over ``obj``'s status one level deep (how every caller writes); a
    field set to None is removed. Returns a new dict; ``fields`` itself is not modified.
    """
    merged = {**(obj.get("status") or {}), **fields}
    merged = {k: v for k, v in merged.items() if v is not None}
    result = outcome(kind, obj, merged)
    if result is None:
        return dict(fields)
    generation = int(metadata_of(obj).get("generation") or 0)
    previous = merged.get("conditions")
    wanted = conditions(result, generation, previous, now)
    if wanted == previous:
        return dict(fields)
    return {**fields, "conditions": wanted}
