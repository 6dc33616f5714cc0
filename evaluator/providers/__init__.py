"""Metric providers: prometheus (thanos, cortex), datadog, dynatrace, dql, elastic."""
