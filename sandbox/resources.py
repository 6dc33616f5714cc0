"""The kinds the sandbox serves: a table of built-in resources plus those defined by CRDs.

A `ResourceType` says how one group/version/plural is served: kind, scope, subresources,
short names, printer columns and (for custom resources) the openAPIV3Schema. The registry maps
URL parts to types and produces discovery documents. Storage is keyed by group and plural, not
version, so every served version of a CRD sees the same objects, kept in the CRD's storage
version (`sandbox.crdversions` converts them). This module holds no objects and does no I/O.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["BUILTINS", "Registry", "ResourceType", "resource_types_from_crd", "version_priority"]

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True, slots=True)
class ResourceType:
    """How one resource (group, version, plural) is served."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    singular: str = ""
    short_names: tuple[str, ...] = ()
    has_status: bool = False
    """Whether a `/status` subresource exists (spec and status writes are then kept apart)."""
    subresources: tuple[str, ...] = ()
    """Extra subresources served besides status (e.g. `log` for pods)."""
    categories: tuple[str, ...] = ()
    schema: dict[str, Any] | None = None
    """openAPIV3Schema of a custom resource, used for validation, defaulting and pruning."""
    printer_columns: tuple[dict[str, Any], ...] = ()
    custom: bool = False
    verbs: tuple[str, ...] = ALL_VERBS
    stored_as: str = ""
    """Another resource's store key when this one is a view of it (events.k8s.io/v1 Events are
    core/v1 Events, as in kube-apiserver); `sandbox.conversion` translates the bodies."""
    storage_version: str = ""
    """For custom resources: the CRD's storage version (objects are stored converted to it)."""
    conversion: dict[str, Any] | None = None
    """For custom resources: the CRD's `spec.conversion` (strategy None or Webhook)."""

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def store_key(self) -> str:
        """The storage key: the same for every version of a group/plural."""
        if self.stored_as:
            return self.stored_as
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    @property
    def strategic(self) -> bool:
        """Built-in kinds accept strategic merge patches; custom resources do not."""
        return not self.custom

    def api_resources(self) -> list[dict[str, Any]]:
        """The APIResourceList entries (the resource and its subresources)."""
        main: dict[str, Any] = {
            "name": self.plural,
            "singularName": self.singular or self.kind.lower(),
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": list(self.verbs),
        }
        if self.short_names:
            main["shortNames"] = list(self.short_names)
        if self.categories:
            main["categories"] = list(self.categories)
        out = [main]
        if self.has_status:
            out.append(
                {
                    "name": f"{self.plural}/status",
                    "singularName": "",
                    "namespaced": self.namespaced,
                    "kind": self.kind,
                    "verbs": ["get", "patch", "update"],
                }
            )
        for sub in self.subresources:
            entry: dict[str, Any] = {
                "name": f"{self.plural}/{sub}",
                "singularName": "",
                "namespaced": self.namespaced,
                "kind": "Pod" if sub == "log" else self.kind,
                "verbs": ["get"],
            }
            if sub == "binding":
                entry.update(kind="Binding", verbs=["create"])
            if sub == "token":
                entry.update(
                    group="authentication.k8s.io",
                    version="v1",
                    kind="TokenRequest",
                    verbs=["create"],
                )
            if sub == "scale":
                entry.update(
                    group="autoscaling",
                    version="v1",
                    kind="Scale",
                    verbs=["get", "patch", "update"],
                )
            out.append(entry)
        return out


def _b(
    group: str,
    version: str,
    plural: str,
    kind: str,
    namespaced: bool = True,
    short: tuple[str, ...] = (),
    status: bool = False,
    subs: tuple[str, ...] = (),
    categories: tuple[str, ...] = (),
) -> ResourceType:
    return ResourceType(
        group=group,
        version=version,
        plural=plural,
        kind=kind,
        namespaced=namespaced,
        singular=kind.lower(),
        short_names=short,
        has_status=status,
        subresources=subs,
        categories=categories,
    )


_REVIEWS = (
    ("authorization.k8s.io", "selfsubjectaccessreviews", "SelfSubjectAccessReview", False),
    ("authorization.k8s.io", "subjectaccessreviews", "SubjectAccessReview", False),
    ("authorization.k8s.io", "localsubjectaccessreviews", "LocalSubjectAccessReview", True),
    ("authorization.k8s.io", "selfsubjectrulesreviews", "SelfSubjectRulesReview", False),
    ("authentication.k8s.io", "tokenreviews", "TokenReview", False),
    ("authentication.k8s.io", "selfsubjectreviews", "SelfSubjectReview", False),
)
"""Create-only review kinds (served by `sandbox.authapi`, never stored)."""

BUILTINS: tuple[ResourceType, ...] = (
    _b("", "v1", "namespaces", "Namespace", False, ("ns",), status=True),
    _b(
        "",
        "v1",
        "pods",
        "Pod",
        short=("po",),
        status=True,
        subs=("log", "binding"),
        categories=("all",),
    ),
    _b("", "v1", "events", "Event", short=("ev",)),
    _b("", "v1", "configmaps", "ConfigMap", short=("cm",)),
    _b("", "v1", "secrets", "Secret"),
    _b("", "v1", "services", "Service", short=("svc",), status=True, categories=("all",)),
    _b("", "v1", "serviceaccounts", "ServiceAccount", short=("sa",), subs=("token",)),
    _b("", "v1", "nodes", "Node", False, ("no",), status=True),
    dataclasses.replace(
        _b("events.k8s.io", "v1", "events", "Event", short=("ev",)), stored_as="events"
    ),
    *(
        _b(
            "apps",
            "v1",
            plural,
            kind,
            short=(short,),
            status=True,
            subs=("scale",),
            categories=("all",),
        )
        for plural, kind, short in (
            ("deployments", "Deployment", "deploy"),
            ("replicasets", "ReplicaSet", "rs"),
            ("statefulsets", "StatefulSet", "sts"),
        )
    ),
    _b("apps", "v1", "daemonsets", "DaemonSet", short=("ds",), status=True, categories=("all",)),
    _b("batch", "v1", "jobs", "Job", status=True, categories=("all",)),
    _b("coordination.k8s.io", "v1", "leases", "Lease"),
    _b("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", short=("netpol",)),
    _b("rbac.authorization.k8s.io", "v1", "roles", "Role"),
    _b("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
    _b("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    _b("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    _b(
        "admissionregistration.k8s.io",
        "v1",
        "mutatingwebhookconfigurations",
        "MutatingWebhookConfiguration",
        False,
    ),
    _b(
        "admissionregistration.k8s.io",
        "v1",
        "validatingwebhookconfigurations",
        "ValidatingWebhookConfiguration",
        False,
    ),
    *(
        dataclasses.replace(_b(group, "v1", plural, kind, namespaced), verbs=("create",))
        for group, plural, kind, namespaced in _REVIEWS
    ),
    _b(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        False,
        ("crd", "crds"),
        status=True,
    ),
)


def resource_types_from_crd(crd: dict[str, Any]) -> list[ResourceType]:
    """The served versions of a CustomResourceDefinition, as resource types."""
    spec = crd.get("spec", {})
    names = spec.get("names", {})
    storage = next((v["name"] for v in spec.get("versions", []) if v.get("storage")), "")
    out = []
    for ver in spec.get("versions", []):
        if not ver.get("served", True):
            continue
        subresources = ver.get("subresources") or {}
        out.append(
            ResourceType(
                group=spec["group"],
                version=ver["name"],
                plural=names["plural"],
                kind=names["kind"],
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                singular=names.get("singular", names["kind"].lower()),
                short_names=tuple(names.get("shortNames", ())),
                has_status="status" in subresources,
                categories=tuple(names.get("categories", ())),
                schema=(ver.get("schema") or {}).get("openAPIV3Schema"),
                printer_columns=tuple(ver.get("additionalPrinterColumns", ())),
                custom=True,
                storage_version=storage or ver["name"],
                conversion=spec.get("conversion"),
            )
        )
    return out


_VERSION = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def version_priority(version: str) -> tuple[int, int, int, str]:
    """Kubernetes' version order as a sort key (higher is preferred): GA > beta > alpha, then
    by number (v1 > v1beta2 > v1beta1 > v1alpha1); versions not of that form sort lowest."""
    m = _VERSION.match(version)
    if m is None:
        return (0, 0, 0, version)
    stage = {"alpha": 1, "beta": 2}.get(m.group(2) or "", 3)
    return (stage, int(m.group(1)), int(m.group(3) or 0), version)


def _neg(key: tuple[int, int, int, str]) -> tuple[int, int, int, str]:
    return (-key[0], -key[1], -key[2], key[3])


@dataclass(slots=True)
class Registry:
    """Resource types by (group, version, plural), with group/version listings for discovery."""

    types: dict[tuple[str, str, str], ResourceType] = field(default_factory=dict)
    preferred: dict[str, str] = field(default_factory=dict)
    """Preferred (storage) version per group."""
    crd_owned: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)
    """Which type keys each CRD (by name) registered, so deleting it removes them."""

    @classmethod
    def with_builtins(cls) -> Registry:
        reg = cls()
        for rt in BUILTINS:
            reg.add(rt)
        return reg

    def add(self, rt: ResourceType) -> None:
        self.types[(rt.group, rt.version, rt.plural)] = rt
        self.preferred.setdefault(rt.group, rt.version)

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self.types.get((group, version, plural))

    def by_store_key(self, store_key: str) -> ResourceType | None:
        """The preferred-version type for a storage key."""
        best = None
        for rt in self.types.values():
            if rt.store_key == store_key and not rt.stored_as:
                if rt.storage_version == rt.version:
                    return rt
                if self.preferred.get(rt.group) == rt.version:
                    return rt
                best = rt
        return best

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        group, _, version = api_version.rpartition("/")
        for rt in self.types.values():
            if rt.group == group and rt.version == version and rt.kind == kind:
                return rt
        return None

    def set_crd(self, crd: dict[str, Any]) -> list[ResourceType]:
        """Serve (or re-serve) the versions of a CRD; returns the new types."""
        name = crd["metadata"]["name"]
        self.remove_crd(name)
        types = resource_types_from_crd(crd)
        for rt in types:
            self.types[(rt.group, rt.version, rt.plural)] = rt
        if types:
            group = types[0].group
            served = {v for g, v, _ in self.types if g == group}
            self.preferred[group] = max(served, key=version_priority)
        self.crd_owned[name] = [(rt.group, rt.version, rt.plural) for rt in types]
        return types

    def remove_crd(self, name: str) -> None:
        for key in self.crd_owned.pop(name, []):
            rt = self.types.pop(key, None)
            if rt is None:
                continue
            served = {v for g, v, _ in self.types if g == rt.group}
            if served:
                self.preferred[rt.group] = max(served, key=version_priority)
            else:
                self.preferred.pop(rt.group, None)

    def groups(self) -> dict[str, list[str]]:
        """Group name -> served versions (preferred first), without the core group."""
        out: dict[str, list[str]] = {}
        for group, version, _ in self.types:
            if not group:
                continue
            versions = out.setdefault(group, [])
            if version not in versions:
                versions.append(version)
        for group, versions in out.items():
            pref = self.preferred.get(group)
            versions.sort(key=lambda v: (v != pref, _neg(version_priority(v))))
        return out

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return [rt for (g, v, _), rt in self.types.items() if g == group and v == version]
