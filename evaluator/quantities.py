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
_SUFFIX = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal(10) ** 3,
    "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15,
    "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
    "Ei": Decimal(2) ** 60,
}


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
