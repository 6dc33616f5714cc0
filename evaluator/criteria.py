"""Keptn v1 quality gates (slo.yaml): criteria strings and the objectives they score.

A criterion is `<op><sign><amount><%>` (peers.md §3.3): `<600` is fixed, `<=+10%` and `>-5` are
relative to a baseline of previous results (a `Criterion` of evaluator.objectives). An objective
has pass and warning blocks, OR between blocks and AND within; it scores as lighthouse-service
did (peers.md §3.4). A relative criterion without a baseline passes ("the first evaluation always
passes relative checks"). Pure: stdlib only. The operator scores KLT Analyses with
evaluator.scoring; no operator path calls this module (its tests pin Keptn v1's rules).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from evaluator.objectives import Baseline, Check, Comparison, Criterion, ObjectiveError
from evaluator.scoring import SHARE, ObjectiveResult, ObjectiveStatus

__all__ = ["V1Objective", "check_criteria_blocks", "evaluate_v1_objective", "parse_criterion"]

_CRITERION = re.compile(r"^(<=|>=|<|>|=)([+-]?)(\d*\.?\d*)(%?)$")


def parse_criterion(text: str) -> Criterion:
    """Parse a v1 criteria string such as `<=+10%`, `>-5`, `<600`, `<=10%` (= +10%)."""
    compact = "".join(text.split())
    match = _CRITERION.match(compact)
    if match is None or match.group(3) in ("", "."):
        raise ObjectiveError(f"invalid criterion {text!r}")
    op, sign, number, pct = match.groups()
    amount = float(number) * (-1 if sign == "-" else 1)
    return Criterion(Comparison(op), amount, bool(pct), bool(sign or pct), compact)


def check_criteria_blocks(
    blocks: Sequence[Sequence[str]], value: float, baseline: Baseline | None
) -> tuple[bool, list[Check]]:
    """v1 pass/warning blocks: OR between blocks, AND within; every criterion is recorded."""
    checks: list[list[Check]] = [
        [parse_criterion(text).check(value, baseline, no_baseline=True) for text in block]
        for block in blocks
    ]
    met = any(all(c.fulfilled for c in block) for block in checks)
    return met, [c for block in checks for c in block]


@dataclass(frozen=True, slots=True)
class V1Objective:
    """A Keptn v1 slo.yaml objective: pass / warning criteria blocks; no pass = info."""

    name: str
    pass_blocks: Sequence[Sequence[str]] = ()
    warning_blocks: Sequence[Sequence[str]] = ()
    weight: int = 1
    key: bool = False

    @property
    def target(self) -> str:
        """`pass [<=+10%, <600]; warning [<=800]`."""

        def show(blocks: Sequence[Sequence[str]]) -> str:
            return " or ".join("[" + ", ".join(b) + "]" for b in blocks)

        parts = [f"pass {show(self.pass_blocks)}"] if self.pass_blocks else []
        parts += [f"warning {show(self.warning_blocks)}"] if self.warning_blocks else []
        return "; ".join(parts)


def evaluate_v1_objective(
    objective: V1Objective, value: float | None, baseline: Baseline | None
) -> ObjectiveResult:
    """Score one v1 objective as lighthouse-service did (peers.md §3.4)."""
    weight = float(objective.weight or 1)  # v1: weight 0 or missing becomes 1
    name, key, target = objective.name, objective.key, objective.target
    if not objective.pass_blocks:
        return ObjectiveResult(
            name, ObjectiveStatus.INFO, 0.0, 0.0, False, value, target, "info: no pass criteria"
        )
    if value is None or math.isnan(value):
        return ObjectiveResult(
            name, ObjectiveStatus.FAIL, 0.0, weight, key, None, target, "fail: no value"
        )
    passed, checks = check_criteria_blocks(objective.pass_blocks, value, baseline)
    warned, warn_checks = check_criteria_blocks(objective.warning_blocks, value, baseline)
    misses = "; ".join(c.reason for c in checks if not c.fulfilled)
    if passed:
        status, why = ObjectiveStatus.PASS, "pass criteria met"
    elif objective.warning_blocks and warned:
        status, why = ObjectiveStatus.WARNING, f"warning criteria met; {misses}"
    else:
        status, why = ObjectiveStatus.FAIL, misses
    return ObjectiveResult(
        name=name,
        status=status,
        score=weight * SHARE.get(status, 0.0),
        weight=weight,
        key=key,
        value=value,
        target=target,
        reason=f"{status}: {why}",
        checks=(*checks, *warn_checks),
    )
