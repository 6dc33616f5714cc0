"""Metric queries and verdicts: objectives, SLO scoring and metric providers."""
