"""Wiring helpers of the composition root: controller discovery, recorders, reconcile metrics.

Role: `load_setups` imports the controller modules and returns their `setup`; `Recorders` makes
an EventRecorder for any component on first use; `instrument` adds keptn_reconcile_* and
keptn_workqueue_depth to a Controller. Must not: hold state beyond the objects it returns.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from lifecycle.flow.context import OperatorContext
from lifecycle.kube.controller import Controller, ObjectKey
from lifecycle.kube.events import EventRecorder
from lifecycle.observability.telemetry import Telemetry

__all__ = ["Recorders", "instrument", "load_setups"]

Setup = Callable[[OperatorContext], Controller[ObjectKey]]


class Recorders(dict[str, EventRecorder]):
    """Recorders by component; an unknown component gets one on first use."""

    def __init__(self, make: Callable[[str], EventRecorder]) -> None:
        super().__init__()
        self._make = make

    def __missing__(self, component: str) -> EventRecorder:
        recorder = self[component] = self._make(component)
        return recorder


def load_setups(modules: tuple[str, ...]) -> list[Setup]:
    """The `setup` function of each controller module, in order."""
    return [importlib.import_module(name).setup for name in modules]


def instrument(controller: Controller[ObjectKey], telemetry: Telemetry) -> None:
    """keptn_reconcile_* and keptn_workqueue_depth for every controller, via its observer hook."""

    def observed(name: str, outcome: str, seconds: float) -> None:
        telemetry.reconcile_finished(name, "ok" if outcome == "success" else outcome, seconds)
        telemetry.set_queue_depth(name, len(controller.queue))

    controller.observer = observed
