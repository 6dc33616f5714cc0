"""Say why an object cannot progress: a Warning Event next to the status reason, once per reason.

Controllers call ``report`` wherever an object waits or fails for a reason outside itself -- a
missing or refused reference, a provider or Secret error -- after (or while) writing the same text
into its status (``errMsg``, ``message``, ``status.reason``...). The Event is keyed by the reason
and the text, so a retry loop repeating the same cause writes it once; a new cause writes a new one.
The recorder scrubs secret values from the text (evaluator.redact).
"""

from __future__ import annotations

import hashlib
from typing import Any, Final

from lifecycle.flow.context import OperatorContext

__all__ = ["ANALYSIS_COMPONENT", "METRIC_COMPONENT", "report"]

ANALYSIS_COMPONENT: Final = "analysis-controller"
METRIC_COMPONENT: Final = "keptnmetric-controller"


def report(
    ctx: OperatorContext, component: str, obj: dict[str, Any], reason: str, message: str
) -> None:
    """A Warning Event ``reason``/``message`` on ``obj``, written once per distinct text."""
    digest = hashlib.sha256(f"{reason}\n{message}".encode()).hexdigest()[:12]
    ctx.recorder(component).emit(obj, "Warning", reason, message, key=f"{reason}-{digest}")
