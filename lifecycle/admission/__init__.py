"""Admission: the pod mutator, the validating and conversion webhooks, their registration."""
