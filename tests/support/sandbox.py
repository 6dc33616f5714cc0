"""The sandbox starter of the integration, reliability and end-to-end lanes.

``start_sandbox`` starts the embedded API server with its simulated node (pods start
``pod_start_delay`` s after their gate is gone) and, when ``namespace`` is given, creates that
namespace with KLT's opt-in annotation. The caller stops the sandbox.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lifecycle.core import model
from lifecycle.kube import KubeClient
from sandbox.node import NodeSettings, Outcome
from sandbox.server import Sandbox

__all__ = ["OPT_IN", "sa_token", "start_sandbox"]

OPT_IN = {"keptn.sh/lifecycle-toolkit": "enabled"}
"""KLT's namespace annotation: the pod webhook acts on this namespace's workloads."""


async def start_sandbox(
    tmp_path: Path,
    *,
    namespace: str | None = None,
    pod_start_delay: float = 0.02,
    default_outcome: Outcome = Outcome.RUN,
    bookmark_interval: float | None = None,
    **node: Any,
) -> Sandbox:
    """The sandbox with its node (work dir under ``tmp_path``), ``namespace`` opted in if given."""
    settings = NodeSettings(
        pod_start_delay=pod_start_delay,
        default_outcome=default_outcome,
        work_dir=tmp_path / "node",
        **node,
    )
    overrides: dict[str, Any] = {"node_settings": settings}
    if bookmark_interval is not None:
        overrides["bookmark_interval"] = bookmark_interval
    sb = await Sandbox.start(**overrides)
    if namespace is not None:
        client = KubeClient.for_url(sb.url, token=sb.token)
        try:
            body = {"metadata": {"name": namespace, "annotations": dict(OPT_IN)}}
            await client.create(model.NAMESPACE, body)
        finally:
            await client.close()
    return sb


def sa_token(sb: Sandbox, namespace: str, name: str) -> str:
    """A day-long token of an existing ServiceAccount, as TokenRequest issues it (RBAC applies)."""
    return sb.authn.issue(namespace, name, expiration_seconds=86400)[0]
