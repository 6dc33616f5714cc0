"""RBAC: request attributes, the authorizer over the stored Roles and bindings, 403 bodies.

`request_attributes` derives verb, API group, namespace, resource, subresource and name from a
request exactly as kube-apiserver's RequestInfoFactory does (`GET` without a name is `list`,
or `watch` with `?watch=true` or the `/watch/` prefix; `DELETE` without a name is
`deletecollection`; a list/watch with `fieldSelector=metadata.name=X` names X; any other
path is a non-resource URL with the lower-cased HTTP method as verb).
`Authorizer.allows` evaluates ClusterRoleBindings, then the RoleBindings of the request's
namespace, matching subjects (User, Group, ServiceAccount) and rules (verbs, apiGroups,
resources incl. `pods/status` and `*/status`, resourceNames, nonResourceURLs with a trailing
`*`, `*` wildcards; aggregated ClusterRoles through their aggregationRule). Members of
`system:masters` are always allowed, as in kube-apiserver. The default ClusterRoles every
cluster has (cluster-admin, system:discovery, system:basic-user, system:public-info-viewer and
their bindings) are objects created at start (`BOOTSTRAP`). Pure, apart from store reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from sandbox import errors
from sandbox.authn import UserInfo
from sandbox.selectors import match_label_selector_object
from sandbox.store import Store, WatchEvent

__all__ = ["BOOTSTRAP", "Attributes", "Authorizer", "forbidden", "request_attributes"]

RBAC = "rbac.authorization.k8s.io"
_CRB = f"clusterrolebindings.{RBAC}"
_RB = f"rolebindings.{RBAC}"
_CR = f"clusterroles.{RBAC}"
_ROLE = f"roles.{RBAC}"
_TRUE = ("1", "t", "T", "true", "TRUE", "True")
_METHOD_VERBS = {
    "POST": "create",
    "GET": "get",
    "HEAD": "get",
    "PUT": "update",
    "PATCH": "patch",
    "DELETE": "delete",
}


@dataclass(frozen=True, slots=True)
class Attributes:
    """What one request asks to do (authorizer.Attributes)."""

    user: UserInfo
    verb: str
    resource_request: bool
    api_group: str = ""
    api_version: str = ""
    namespace: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    path: str = ""


def request_attributes(user: UserInfo, method: str, path: str, query: dict[str, str]) -> Attributes:
    """The attributes of an HTTP request (see module docstring)."""
    parts = [unquote(p) for p in path.strip("/").split("/") if p]
    non_resource = Attributes(user, method.lower(), False, path=path)
    if len(parts) < 3 or parts[0] not in ("api", "apis") or method not in _METHOD_VERBS:
        return non_resource
    if parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    else:
        if len(parts) < 4:
            return non_resource
        group, version, rest = parts[1], parts[2], parts[3:]
    verb = _METHOD_VERBS[method]
    if rest[0] == "watch":
        if len(rest) < 2:
            return non_resource
        verb, rest = "watch", rest[1:]
    namespace = ""
    if rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in ("status", "finalize"):
            rest = rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 else ""
    if not name and verb == "get":
        verb = "watch" if query.get("watch") in _TRUE else "list"
    if not name and verb == "delete":
        verb = "deletecollection"
    if not name and verb in ("list", "watch"):
        name = _name_from_field_selector(query.get("fieldSelector", ""))
    return Attributes(
        user, verb, True, group, version, namespace, resource, subresource, name, path
    )


def _name_from_field_selector(selector: str) -> str:
    for term in selector.split(","):
        key, _, value = term.partition("=")
        if key.strip() == "metadata.name" and not key.endswith("!"):
            return value.removeprefix("=").strip()
    return ""


def forbidden(attrs: Attributes) -> errors.ApiError:
    """kube-apiserver's 403 for a denied request, e.g. `pods "x" is forbidden: User ...`."""
    who = attrs.user.username
    if not attrs.resource_request:
        text = f'User "{who}" cannot {attrs.verb} path "{attrs.path}"'
        return errors.ApiError(403, "Forbidden", f"forbidden: {text}", {})
    resource = attrs.resource + (f"/{attrs.subresource}" if attrs.subresource else "")
    text = (
        f'User "{who}" cannot {attrs.verb} resource "{resource}" in API group "{attrs.api_group}"'
    )
    if attrs.namespace:
        text += f' in the namespace "{attrs.namespace}"'
    else:
        text += " at the cluster scope"
    return errors.forbidden(attrs.resource, attrs.api_group, attrs.name, text)


def _subject_matches(subject: dict[str, Any], user: UserInfo, binding_ns: str) -> bool:
    kind, name = subject.get("kind"), subject.get("name")
    if kind == "User":
        return bool(name == user.username)
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        ns = subject.get("namespace") or binding_ns
        return user.username == f"system:serviceaccount:{ns}:{name}"
    return False


def _has(values: Any, wanted: str) -> bool:
    items = values or []
    return "*" in items or wanted in items


def _resource_matches(rule: dict[str, Any], resource: str, subresource: str) -> bool:
    combined = f"{resource}/{subresource}" if subresource else resource
    for item in rule.get("resources") or []:
        if item in ("*", combined):
            return True
        if subresource and item == f"*/{subresource}":
            return True
    return False


def rule_allows(rule: dict[str, Any], attrs: Attributes) -> bool:
    """Whether one PolicyRule covers the request (rbac.RuleAllows)."""
    if not _has(rule.get("verbs"), attrs.verb):
        return False
    if not attrs.resource_request:
        for url in rule.get("nonResourceURLs") or []:
            if url == "*" or url == attrs.path:
                return True
            if url.endswith("*") and attrs.path.startswith(url[:-1]):
                return True
        return False
    if not _has(rule.get("apiGroups"), attrs.api_group):
        return False
    if not _resource_matches(rule, attrs.resource, attrs.subresource):
        return False
    names = rule.get("resourceNames") or []
    return not names or attrs.name in names


Grant = tuple[dict[str, Any], dict[str, Any]]
"""(binding, rule): one rule granted to a user, and the binding that grants it."""


class Authorizer:
    """RBAC over the Roles, ClusterRoles and bindings in the store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._grants: dict[tuple[str, tuple[str, ...], str], list[Grant]] = {}
        """What `grants` found per (user, groups, namespace), until an RBAC object changes."""
        store.listeners.append(self._on_event)

    def _on_event(self, key: str, event: WatchEvent) -> None:
        if key in (_CRB, _RB, _CR, _ROLE):
            self._grants.clear()

    def _objects(self, key: str, namespace: str | None) -> Iterator[dict[str, Any]]:
        return (entry.obj for entry in self.store.bucket(key).entries(namespace))

    def _cluster_role_rules(self, name: str) -> list[dict[str, Any]]:
        entry = self.store.get(_CR, "", name)
        if entry is None:
            return []
        role = entry.obj
        rules = list(role.get("rules") or [])
        aggregation = role.get("aggregationRule") or {}
        for selector in aggregation.get("clusterRoleSelectors") or []:
            for other in self._objects(_CR, ""):
                labels = other["metadata"].get("labels") or {}
                if other is not role and match_label_selector_object(selector, labels):
                    rules.extend(other.get("rules") or [])
        return rules

    def role_rules(self, ref: dict[str, Any], namespace: str) -> list[dict[str, Any]] | None:
        """The rules of a binding's roleRef, or None when that role does not exist."""
        name = str(ref.get("name", ""))
        if ref.get("kind") == "ClusterRole":
            if self.store.get(_CR, "", name) is None:
                return None
            return self._cluster_role_rules(name)
        entry = self.store.get(_ROLE, namespace, name)
        return list(entry.obj.get("rules") or []) if entry is not None else None

    def grants(self, user: UserInfo, namespace: str) -> list[Grant]:
        """(binding, rule) for every rule bound to `user` cluster-wide and in `namespace`."""
        key = (user.username, user.groups, namespace)
        found = self._grants.get(key)
        if found is None:
            if len(self._grants) > 4096:
                self._grants.clear()
            found = self._grants[key] = list(self._find_grants(user, namespace))
        return found

    def _find_grants(self, user: UserInfo, namespace: str) -> Iterator[Grant]:
        """ClusterRoleBindings first, then the RoleBindings of `namespace` (if any)."""
        scopes = [(_CRB, "")] + ([(_RB, namespace)] if namespace else [])
        for key, ns in scopes:
            for binding in self._objects(key, ns):
                if any(_subject_matches(s, user, ns) for s in binding.get("subjects") or []):
                    for rule in self.role_rules(binding.get("roleRef") or {}, ns) or []:
                        yield binding, rule

    def decide(self, attrs: Attributes) -> tuple[bool, str]:
        """(allowed, reason) as the RBAC authorizer words its reason."""
        if attrs.user.is_master:
            return True, ""
        for binding, rule in self.grants(attrs.user, attrs.namespace):
            if rule_allows(rule, attrs):
                return True, _allowed_by(binding, attrs.user)
        return False, ""

    def allows(self, attrs: Attributes) -> bool:
        return self.decide(attrs)[0]

    def check(self, attrs: Attributes) -> None:
        """Raise the real server's 403 when RBAC does not allow the request."""
        if not self.allows(attrs):
            raise forbidden(attrs)


def _allowed_by(binding: dict[str, Any], user: UserInfo) -> str:
    meta = binding.get("metadata") or {}
    ref = binding.get("roleRef") or {}
    kind = "RoleBinding" if meta.get("namespace") else "ClusterRoleBinding"
    where = f'"{meta.get("name")}"' + (
        f' of namespace "{meta["namespace"]}"' if meta.get("namespace") else ""
    )
    return f'RBAC: allowed by {kind} {where} of {ref.get("kind")} "{ref.get("name")}" to {user.username}'


def _bootstrap(kind: str, name: str, **body: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{RBAC}/v1",
        "kind": kind,
        "metadata": {
            "name": name,
            "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
            "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"},
        },
        **body,
    }


def _cluster_role(name: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
    return _bootstrap("ClusterRole", name, rules=rules)


def _binding(name: str, subjects: list[dict[str, str]]) -> dict[str, Any]:
    ref = {"apiGroup": RBAC, "kind": "ClusterRole", "name": name}
    return _bootstrap("ClusterRoleBinding", name, roleRef=ref, subjects=subjects)


_AUTHENTICATED = [{"apiGroup": RBAC, "kind": "Group", "name": "system:authenticated"}]
_HEALTH = ["/healthz", "/livez", "/readyz", "/version", "/version/"]
BOOTSTRAP: tuple[dict[str, Any], ...] = (
    _cluster_role(
        "cluster-admin",
        [
            {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
            {"nonResourceURLs": ["*"], "verbs": ["*"]},
        ],
    ),
    _binding("cluster-admin", [{"apiGroup": RBAC, "kind": "Group", "name": "system:masters"}]),
    _cluster_role(
        "system:discovery",
        [
            {
                "nonResourceURLs": [
                    "/api",
                    "/api/*",
                    "/apis",
                    "/apis/*",
                    "/openapi",
                    "/openapi/*",
                    *_HEALTH,
                ],
                "verbs": ["get"],
            }
        ],
    ),
    _binding("system:discovery", _AUTHENTICATED),
    _cluster_role(
        "system:basic-user",
        [
            {
                "apiGroups": ["authorization.k8s.io"],
                "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                "verbs": ["create"],
            },
            {
                "apiGroups": ["authentication.k8s.io"],
                "resources": ["selfsubjectreviews"],
                "verbs": ["create"],
            },
        ],
    ),
    _binding("system:basic-user", _AUTHENTICATED),
    _cluster_role("system:public-info-viewer", [{"nonResourceURLs": _HEALTH, "verbs": ["get"]}]),
    _binding(
        "system:public-info-viewer",
        [*_AUTHENTICATED, {"apiGroup": RBAC, "kind": "Group", "name": "system:unauthenticated"}],
    ),
)
"""The default ClusterRoles/ClusterRoleBindings a fresh kube-apiserver creates (a subset)."""
