"""Keptn v1 quality gates (slo.yaml): the criteria strings.

A criterion is `<op><sign><amount><%>` (peers.md §3.3): `<600` is fixed, `<=+10%` and `>-5` are
relative to a baseline of previous results (a `Criterion` of evaluator.objectives). `klt convert
slo` reads every criterion here. Pure: stdlib only.
"""

from __future__ import annotations

import re

from evaluator.objectives import Comparison, Criterion, ObjectiveError

__all__ = ["parse_criterion"]

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
