"""The embedded Kubernetes-compatible cluster: API server plus simulated node (never imported by the operator).

`from sandbox import Sandbox, SandboxSettings` (loaded lazily so `sandbox.node` stays light).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sandbox.server import Sandbox, SandboxSettings

__all__ = ["Sandbox", "SandboxSettings"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from sandbox import server

        return getattr(server, name)
    raise AttributeError(f"module 'sandbox' has no attribute {name!r}")
