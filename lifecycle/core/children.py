"""A phase's children as it reads them: a KeptnTask or a KeptnEvaluation, each by its own fields.

Role: `Child.of_task` / `Child.of_evaluation` parse the typed body of each kind once (the task's
`status.status` and `reason`, the evaluation's `overallStatus`), so the walk in
lifecycle.core.machine_steps reads one shape and never a field of the other kind.

Must not: import anything but the standard library and lifecycle's pure modules.
"""

from __future__ import annotations

from dataclasses import dataclass

from lifecycle.core.bodies import KeptnEvaluationBody, KeptnTaskBody
from lifecycle.core.meta import name_of
from lifecycle.core.phases import State

__all__ = ["Child", "text"]


def text(value: object) -> str:
    """``value`` when it is a string, else ""."""
    return value if isinstance(value, str) else ""


@dataclass(frozen=True, slots=True)
class Child:
    """A KeptnTask or KeptnEvaluation as its phase reads it (each kind's own fields)."""

    name: str
    definition: str
    check_type: str
    state: State
    times: dict[str, str]
    """startTime / endTime, those that are set."""
    message: str

    @classmethod
    def of_task(cls, task: KeptnTaskBody) -> Child:
        spec, status = task.get("spec", {}), task.get("status", {})
        definition, check = text(spec.get("taskDefinition")), text(spec.get("checkType"))
        message = text(status.get("message")) or text(status.get("reason"))
        state = State.parse(status.get("status"))
        times = _times(status.get("startTime"), status.get("endTime"))
        return cls(name_of(task), definition, check, state, times, message)

    @classmethod
    def of_evaluation(cls, evaluation: KeptnEvaluationBody) -> Child:
        spec, status = evaluation.get("spec", {}), evaluation.get("status", {})
        definition, check = text(spec.get("evaluationDefinition")), text(spec.get("checkType"))
        state = State.parse(status.get("overallStatus"))
        times = _times(status.get("startTime"), status.get("endTime"))
        return cls(
            name_of(evaluation), definition, check, state, times, text(status.get("message"))
        )


def _times(start: object, end: object) -> dict[str, str]:
    return {k: v for k, v in (("startTime", start), ("endTime", end)) if isinstance(v, str) and v}
