"""The embedded Kubernetes-compatible cluster: API server plus simulated node (never imported by the operator)."""
