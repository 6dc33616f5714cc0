"""ServiceAccounts as a cluster keeps them: a `default` one per namespace, and pods need theirs.

- `DefaultServiceAccounts` listens to the store: every new Namespace gets the ServiceAccount
  `default` at once (the real ServiceAccount controller does it moments later).
- `ServiceAccountAdmission` is the built-in admission plugin of the same name, for pod creates:
  a pod whose `spec.serviceAccountName` does not exist in its namespace is refused with
  `pods "x" is forbidden: error looking up service account ns/sa: serviceaccount "sa" not found`.
No I/O.
"""

from __future__ import annotations

import uuid
from typing import Any

from sandbox import errors
from sandbox.gc import now_rfc3339
from sandbox.resources import ResourceType
from sandbox.store import Store, WatchEvent

__all__ = ["DefaultServiceAccounts", "ServiceAccountAdmission"]


class DefaultServiceAccounts:
    """Creates `default` in every namespace as it is created (register with `attach`)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def attach(self) -> None:
        self.store.listeners.append(self._on_event)
        for entry in list(self.store.bucket("namespaces").entries(None)):
            self.ensure(entry.name)

    def _on_event(self, key: str, event: WatchEvent) -> None:
        if key == "namespaces" and event.type == "ADDED":
            self.ensure(event.entry.name)

    def ensure(self, namespace: str) -> None:
        if self.store.get("serviceaccounts", namespace, "default") is not None:
            return
        sa = {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {
                "name": "default",
                "namespace": namespace,
                "uid": str(uuid.uuid4()),
                "creationTimestamp": now_rfc3339(),
            },
        }
        self.store.put("serviceaccounts", sa, "ADDED")


class ServiceAccountAdmission:
    """Refuses pod creates naming a ServiceAccount that does not exist."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def __call__(
        self, rt: ResourceType, operation: str, namespace: str, obj: dict[str, Any]
    ) -> None:
        if rt.kind != "Pod" or rt.group or operation != "CREATE":
            return
        spec = obj.get("spec") or {}
        account = str(spec.get("serviceAccountName") or spec.get("serviceAccount") or "default")
        if self.store.get("serviceaccounts", namespace, account) is not None:
            return
        meta = obj.get("metadata") or {}
        name = meta.get("name") or meta.get("generateName") or "Unknown"
        why = f'error looking up service account {namespace}/{account}: serviceaccount "{account}" not found'
        raise errors.forbidden("pods", "", name, why)
