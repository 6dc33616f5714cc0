"""Observability: metrics, CloudEvents, span marks and logs of the operator."""
