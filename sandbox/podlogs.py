"""`pods/log`: container output the node agent stored, served like the kubelet would.

The node agent hands output to the store (`Store.set_pod_log` / `append_pod_log`, or over
HTTP `PUT|POST /sandbox/pods/<ns>/<pod>/log?container=c`). Reading honours `container`
(required when the pod has several, as the real server insists), `tailLines`, and `follow`:
a followed log streams what is appended until the pod ends (Succeeded/Failed), is deleted or
the client goes away; it wakes on log and pod changes, never polls. A pod still Pending with
no output answers 400 "waiting to start", as kubectl users know it.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web

from sandbox import errors
from sandbox.store import Store

__all__ = ["serve_log"]

_DONE = ("Succeeded", "Failed")


def _tail(text: str, lines: str | None) -> str:
    if not lines:
        return text
    n = int(lines)
    return "".join(text.splitlines(keepends=True)[-n:]) if n > 0 else ""


async def serve_log(
    request: web.Request, store: Store, namespace: str, name: str
) -> web.StreamResponse:
    """Answer GET .../pods/<name>/log (see the module docstring)."""
    pod = store.get("pods", namespace, name)
    if pod is None:
        raise errors.not_found("pods", "", name)
    q = request.query
    container = q.get("container", "")
    containers = [c.get("name") for c in (pod.obj.get("spec") or {}).get("containers") or []]
    if container and container not in containers:
        raise errors.bad_request(f"container {container} is not valid for pod {name}")
    if not container and len(containers) > 1:
        choices = " ".join(str(c) for c in containers)
        raise errors.bad_request(
            f"a container name must be specified for pod {name}, choose one of: [{choices}]"
        )
    text = store.pod_log(namespace, name, container)
    if text is None:
        if (pod.obj.get("status") or {}).get("phase", "Pending") == "Pending":
            shown = container or (containers[0] if containers else "")
            raise errors.bad_request(
                f'container "{shown}" in pod "{name}" is waiting to start: ContainerCreating'
            )
        text = ""
    if q.get("follow") not in ("1", "true", "True"):
        return web.Response(text=_tail(text, q.get("tailLines")), content_type="text/plain")
    resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    first = _tail(text, q.get("tailLines"))
    if first:
        await resp.write(first.encode())
    sent = len(text)
    wake = asyncio.Event()
    waiters = store.log_waiters.setdefault((namespace, name), set())
    waiters.add(wake)
    try:
        while True:
            current = store.get("pods", namespace, name)
            text = store.pod_log(namespace, name, container) or ""
            if len(text) > sent:
                await resp.write(text[sent:].encode())
            sent = len(text)
            phase = (current.obj.get("status") or {}).get("phase") if current else None
            if current is None or phase in _DONE:
                break
            wake.clear()
            with contextlib.suppress(TimeoutError):
                # the timeout only re-checks a client that went away without a write failing
                await asyncio.wait_for(wake.wait(), 30)
            if request.transport is None or request.transport.is_closing():
                break
    except ConnectionResetError:
        pass
    finally:
        waiters.discard(wake)
        if not waiters:
            store.log_waiters.pop((namespace, name), None)
    return resp
