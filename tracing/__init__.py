"""Spans from durable status: tracer setup, span building, attributes."""
