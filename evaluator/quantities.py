"""Kubernetes Quantities (`"3m"`, `"1.5k"`, `"2Ki"`, `"1e3"`) as floats.

AnalysisDefinition operator values are `resource.Quantity` (int or string), compared by KLT
as `AsApproximateFloat64()`. Pure: stdlib only, exact decimal arithmetic until the final
float; anything that is not a quantity raises QuantityError (a ValueError) with the text of
apimachinery's `resource.ErrFormatWrong`. The one quantity parser of the project: the evaluator's
objectives and the operator's AnalysisDefinition webhook both use it.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

__all__ = ["FORMAT_WRONG", "QuantityError", "parse_quantity"]


class QuantityError(ValueError):
    """A value that is not a Kubernetes quantity."""


#: apimachinery's resource.ErrFormatWrong, the text Go shows for any malformed quantity.
FORMAT_WRONG = (
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)


_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))([eE][+-]?\d+|[KMGTPE]i|[numkMGTPE])?$")
# SI suffixes n u m (none) k M G T P E step by 1000, binary ones Ki Mi Gi Ti Pi Ei by 1024.
_SUFFIX = {suffix: Decimal(1000) ** p for p, suffix in enumerate("num kMGTPE", -3) if suffix != " "}
_SUFFIX |= {suffix + "i": Decimal(1024) ** p for p, suffix in enumerate("KMGTPE", 1)}


def parse_quantity(raw: object) -> float:
    """A Kubernetes Quantity (`"3m"`, `"1.5k"`, `"2Ki"`, `"1e3"`, or a plain number) as float."""
    if isinstance(raw, bool):
        raise QuantityError(f"{FORMAT_WRONG}: {raw!r}")
    if isinstance(raw, int | float):
        if math.isnan(raw):
            raise QuantityError(f"{FORMAT_WRONG}: NaN")
        return float(raw)
    if not isinstance(raw, str):
        raise QuantityError(f"{FORMAT_WRONG}: {raw!r}")
    match = _QUANTITY.match(raw.strip())
    if match is None:
        raise QuantityError(f"{FORMAT_WRONG}: {raw!r}")
    number, suffix = match.groups()
    try:
        amount = Decimal(number)
        if suffix in _SUFFIX:  # before the exponent test: "E" and "Ei" are exa/exbi
            amount = amount * _SUFFIX[suffix]
        elif suffix:
            amount = amount * Decimal(10) ** int(suffix[1:])
    except InvalidOperation:  # pragma: no cover - the regex admits only valid decimals
        raise QuantityError(f"{FORMAT_WRONG}: {raw!r}") from None
    return float(amount)
