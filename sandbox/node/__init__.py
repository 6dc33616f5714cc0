"""The simulated node of the sandbox: controllers, scheduler, kubelet and container runtime.

It runs beside the sandbox API server and talks to it only through its HTTP API (the
Kubernetes API plus the sandbox's log endpoint), so it never depends on the server's internals
and the same node could drive any API server. The sandbox hands it an in-process transport
(`sandbox.inprocess`): the same requests through the same app, without sockets. It must not import lifecycle, kubernetes_asyncio, or any sandbox
module outside sandbox.node.

    handle = await start_node(api_url, token, NodeSettings(pod_start_delay=0))
    await handle.wait_synced()
    ...
    await handle.stop()
"""

from sandbox.node.node import NodeHandle, start_node
from sandbox.node.runtime import DURATION_ANNOTATION, OUTCOME_ANNOTATION
from sandbox.node.settings import NODE_NAME, NodeSettings, Outcome

__all__ = [
    "DURATION_ANNOTATION",
    "NODE_NAME",
    "OUTCOME_ANNOTATION",
    "NodeHandle",
    "NodeSettings",
    "Outcome",
    "start_node",
]
