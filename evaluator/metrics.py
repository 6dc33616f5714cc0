"""`keptn_analysis_result` and `keptn_objective_result` on a caller's CollectorRegistry.

Same names and labels as KLT's metrics-operator (reference/keptn.md §6.2), set when an
Analysis completes: the achieved percentage, and each objective's raw value. The operator
owns the registry; this module only registers two gauges on it and never touches the
default registry.
"""

from __future__ import annotations

from datetime import datetime

from prometheus_client import CollectorRegistry, Gauge

from evaluator.analysis import AnalysisOutcome

__all__ = ["AnalysisMetrics"]


def _stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


class AnalysisMetrics:
    """The two Analysis gauges, registered on `registry`."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.analysis = Gauge(
            "keptn_analysis_result",
            "Result of an Analysis: the achieved percentage of the maximum score",
            ["name", "namespace", "from", "to"],
            registry=registry,
        )
        self.objective = Gauge(
            "keptn_objective_result",
            "Result of an Analysis objective: its measured value",
            [
                "name",
                "namespace",
                "analysis_name",
                "analysis_namespace",
                "key_objective",
                "weight",
                "from",
                "to",
            ],
            registry=registry,
        )

    def record(
        self,
        *,
        name: str,
        namespace: str,
        start: datetime,
        end: datetime,
        outcome: AnalysisOutcome,
    ) -> None:
        """Set both gauges for a completed Analysis `namespace/name`."""
        frm, to = _stamp(start), _stamp(end)
        self.analysis.labels(name, namespace, frm, to).set(outcome.score.percentage)
        stored = outcome.stored_values
        for result in outcome.score.objectives:
            if result.value is None:
                continue
            reference = stored[result.name]["objectiveReference"] if result.name in stored else {}
            self.objective.labels(
                reference.get("name", result.name),
                reference.get("namespace", namespace),
                name,
                namespace,
                str(result.key).lower(),
                format(result.weight, "g"),
                frm,
                to,
            ).set(result.value)
