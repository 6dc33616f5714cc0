"""Where a Service reference leads on loopback: the address a webhook call is sent to.

A `clientConfig.service` {namespace, name, port} resolves, in this order, through
1. the sandbox setting `webhook_services` (`<name>.<namespace>:<port>` or `<name>.<namespace>`
   -> `host:port`);
2. the annotation `sandbox.klt.dev/address: host:port` on the Service;
3. the Service's ready endpoints, as kube-proxy routes them: the pods of the Service's
   namespace that its `spec.selector` matches, are Ready (condition Ready=True), are not
   being deleted and have a loopback address: the pod annotation `sandbox.klt.dev/address`
   (`host:port`, or just `host` to take the port from the Service port's `targetPort`, a
   number or a named container port) or the sandbox setting `pod_addresses`
   (`<namespace>/<pod>` -> `host:port`). Calls rotate round-robin over them.
Errors name what is missing (service, port, endpoints). Reads the store, no I/O.
"""

from __future__ import annotations

import itertools
from typing import Any

from sandbox.selectors import LabelSelector
from sandbox.store import Store

__all__ = ["ADDRESS_ANNOTATION", "ServiceResolver"]

ADDRESS_ANNOTATION = "sandbox.klt.dev/address"


class ResolveError(ConnectionError):
    """A Service reference leads nowhere."""


def _ready(pod: dict[str, Any]) -> bool:
    if pod["metadata"].get("deletionTimestamp"):
        return False
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _named_port(pod: dict[str, Any], name: str) -> int | None:
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == name and port.get("containerPort"):
                return int(port["containerPort"])
    return None


class ServiceResolver:
    """Resolves Service references to `host:port` (see module docstring)."""

    def __init__(
        self,
        store: Store,
        services: dict[str, str] | None = None,
        pod_addresses: dict[str, str] | None = None,
    ) -> None:
        self.store = store
        self.services = dict(services or {})
        self.pod_addresses = dict(pod_addresses or {})
        """`<namespace>/<pod>` -> `host:port`; may be changed while the sandbox runs."""
        self._turns: dict[str, itertools.count[int]] = {}

    def resolve(self, namespace: str, name: str, port: int) -> str:
        """The `host:port` to call for Service `namespace/name` on `port`."""
        address = self.services.get(f"{name}.{namespace}:{port}") or self.services.get(
            f"{name}.{namespace}"
        )
        if address:
            return address
        entry = self.store.get("services", namespace, name)
        if entry is None:
            raise ResolveError(f'service "{name}" not found')
        svc = entry.obj
        annotated = (svc["metadata"].get("annotations") or {}).get(ADDRESS_ANNOTATION)
        if annotated:
            return str(annotated)
        addresses = self.endpoints(svc, port)
        if not addresses:
            raise ResolveError(f'no endpoints available for service "{namespace}/{name}"')
        turn = self._turns.setdefault(f"{namespace}/{name}", itertools.count())
        return addresses[next(turn) % len(addresses)]

    def endpoints(self, svc: dict[str, Any], port: int) -> list[str]:
        """Addresses of the Service's ready pods for `port`, in pod-name order."""
        spec = svc.get("spec") or {}
        target = self._target_port(svc, port)
        selector = spec.get("selector")
        if not selector:
            return []
        wanted = LabelSelector.from_object({"matchLabels": selector})
        ns = svc["metadata"].get("namespace", "")
        pods = sorted(self.store.bucket("pods").entries(ns), key=lambda e: e.name)
        out = []
        for entry in pods:
            pod = entry.obj
            if not wanted.matches(pod["metadata"].get("labels") or {}) or not _ready(pod):
                continue
            address = self._pod_address(pod, target)
            if address:
                out.append(address)
        return out

    def _target_port(self, svc: dict[str, Any], port: int) -> Any:
        ports = (svc.get("spec") or {}).get("ports") or []
        for p in ports:
            if int(p.get("port", 0)) == port:
                return p.get("targetPort", port)
        name = svc["metadata"].get("name", "")
        raise ResolveError(f'no service port {port} found for service "{name}"')

    def _pod_address(self, pod: dict[str, Any], target: Any) -> str | None:
        meta = pod["metadata"]
        address = self.pod_addresses.get(f"{meta.get('namespace', '')}/{meta['name']}")
        if address is None:
            address = (meta.get("annotations") or {}).get(ADDRESS_ANNOTATION)
        if not address:
            return None
        if ":" in address:
            return str(address)
        number = target if isinstance(target, int) else _named_port(pod, str(target))
        if number is None and str(target).isdigit():
            number = int(target)
        return f"{address}:{number}" if number is not None else None
