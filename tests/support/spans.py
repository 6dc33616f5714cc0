"""Every finished span of a version at once (the operator exports them one by one as they end)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan

from tracing.spans import build_phase_span

__all__ = ["build_version_spans"]


def build_version_spans(
    body: Mapping[str, Any],
    *,
    resource: Resource | None = None,
    previous_root: Mapping[str, Any] | str | None = None,
) -> list[ReadableSpan]:
    """Every finished span of a version (root and phases) in phaseTraceIDs order."""
    carriers = (body.get("status") or {}).get("phaseTraceIDs") or {}
    spans = [
        build_phase_span(body, phase, resource=resource, previous_root=previous_root)
        for phase in carriers
        if phase != "parent"
    ]
    return [span for span in spans if span is not None]
