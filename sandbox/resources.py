"""The kinds the sandbox serves: a table of built-in resources plus those defined by CRDs.

A `ResourceType` says how one group/version/plural is served: kind, scope, subresources,
short names, printer columns and (for custom resources) the openAPIV3Schema. The registry maps
URL parts to types and produces discovery documents. Storage is keyed by group and plural, not
version, so every served version of a CRD sees the same objects, kept in the CRD's storage
version (`sandbox.crdversions` converts them). This module holds no objects and does no I/O.
"""

from __future__ import annotations

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
        for sub in ("status", *self.subresources) if self.has_status else self.subresources:
            group, version, kind, verbs = _SUBRESOURCES[sub]
            entry: dict[str, Any] = {
                "name": f"{self.plural}/{sub}",
                "singularName": "",
                "namespaced": self.namespaced,
                "kind": kind or self.kind,
                "verbs": list(verbs),
            }
            if group:
                entry.update(group=group, version=version)
            out.append(entry)
        return out


_SUBRESOURCES: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    # subresource: group and version when not the resource's, kind ("" = the resource's), verbs
    "status": ("", "", "", ("get", "patch", "update")),
    "log": ("", "", "Pod", ("get",)),
    "binding": ("", "", "Binding", ("create",)),
    "token": ("authentication.k8s.io", "v1", "TokenRequest", ("create",)),
    "scale": ("autoscaling", "v1", "Scale", ("get", "patch", "update")),
}

_BUILTIN_SPECS = (
    # apiVersion plural Kind, then: cluster (not namespaced), status (has /status),
    # short=a,b  subs=a,b (other subresources)  all (category)  create (the only verb:
    # review kinds, served by `sandbox.authapi`, never stored)  stored_as=<store key> (a view)
    "v1 namespaces Namespace cluster status short=ns",
    "v1 pods Pod status short=po subs=log,binding all",
    "v1 events Event short=ev",
    "v1 configmaps ConfigMap short=cm",
    "v1 secrets Secret",
    "v1 services Service status short=svc all",
    "v1 serviceaccounts ServiceAccount short=sa subs=token",
    "v1 nodes Node cluster status short=no",
    "events.k8s.io/v1 events Event short=ev stored_as=events",
    "apps/v1 deployments Deployment status short=deploy subs=scale all",
    "apps/v1 replicasets ReplicaSet status short=rs subs=scale all",
    "apps/v1 statefulsets StatefulSet status short=sts subs=scale all",
    "apps/v1 daemonsets DaemonSet status short=ds all",
    "batch/v1 jobs Job status all",
    "coordination.k8s.io/v1 leases Lease",
    "networking.k8s.io/v1 networkpolicies NetworkPolicy short=netpol",
    "rbac.authorization.k8s.io/v1 roles Role",
    "rbac.authorization.k8s.io/v1 rolebindings RoleBinding",
    "rbac.authorization.k8s.io/v1 clusterroles ClusterRole cluster",
    "rbac.authorization.k8s.io/v1 clusterrolebindings ClusterRoleBinding cluster",
    "admissionregistration.k8s.io/v1 mutatingwebhookconfigurations MutatingWebhookConfiguration"
    " cluster",
    "admissionregistration.k8s.io/v1 validatingwebhookconfigurations"
    " ValidatingWebhookConfiguration cluster",
    "authorization.k8s.io/v1 selfsubjectaccessreviews SelfSubjectAccessReview cluster create",
    "authorization.k8s.io/v1 subjectaccessreviews SubjectAccessReview cluster create",
    "authorization.k8s.io/v1 localsubjectaccessreviews LocalSubjectAccessReview create",
    "authorization.k8s.io/v1 selfsubjectrulesreviews SelfSubjectRulesReview cluster create",
    "authentication.k8s.io/v1 tokenreviews TokenReview cluster create",
    "authentication.k8s.io/v1 selfsubjectreviews SelfSubjectReview cluster create",
    "apiextensions.k8s.io/v1 customresourcedefinitions CustomResourceDefinition cluster status"
    " short=crd,crds",
)


def _builtin(spec: str) -> ResourceType:
    """One line of `_BUILTIN_SPECS` as a resource type."""
    api_version, plural, kind, *flags = spec.split()
    group, _, version = api_version.rpartition("/")
    options = dict(f.partition("=")[::2] for f in flags)
    return ResourceType(
        group=group,
        version=version,
        plural=plural,
        kind=kind,
        namespaced="cluster" not in options,
        singular=kind.lower(),
        short_names=tuple(filter(None, options.get("short", "").split(","))),
        has_status="status" in options,
        subresources=tuple(filter(None, options.get("subs", "").split(","))),
        categories=("all",) if "all" in options else (),
        verbs=("create",) if "create" in options else ALL_VERBS,
        stored_as=options.get("stored_as", ""),
    )


BUILTINS: tuple[ResourceType, ...] = tuple(_builtin(spec) for spec in _BUILTIN_SPECS)


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
