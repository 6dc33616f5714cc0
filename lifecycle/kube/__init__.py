"""Kubernetes I/O: the only package that imports kubernetes_asyncio."""
