"""RBAC privilege-escalation prevention for writes of Roles, ClusterRoles and their bindings.

As kube-apiserver's RBAC storage does: a user who is not in `system:masters` may write a
Role/ClusterRole only with the `escalate` verb on it or when every rule in it is already
granted to them (in the Role's namespace; cluster-wide for a ClusterRole), and a binding only
with the `bind` verb on the referenced role or when they hold all of its rules. Rules are
compared atom by atom (group x resource x verb x resourceName; nonResourceURL x verb), each
atom as the request it allows against the held rules (`sandbox.rbac.rule_allows`, as rbac's
`Covers`): `*` covers everything, `*/status` every status subresource, an owner rule
without resourceNames covers any name. Otherwise 403, worded like the real server:
`... is forbidden: user "U" (groups=["g"]) is attempting to grant RBAC permissions not
currently held:` followed by the missing rules. Reads the store; no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from sandbox import errors
from sandbox.authn import CURRENT_USER, UserInfo
from sandbox.rbac import RBAC, Attributes, Authorizer, rule_allows
from sandbox.resources import ResourceType

__all__ = ["EscalationCheck"]

Rule = dict[str, Any]
_ROLE_KINDS = {"Role": "roles", "ClusterRole": "clusterroles"}
_BINDING_KINDS = {"RoleBinding", "ClusterRoleBinding"}


def _atoms(rule: Rule) -> Iterator[Rule]:
    """The rule broken into single-verb, single-resource (single-name) rules."""
    verbs = rule.get("verbs") or []
    for url in rule.get("nonResourceURLs") or []:
        for verb in verbs:
            yield {"verbs": [verb], "nonResourceURLs": [url]}
    names = rule.get("resourceNames") or [None]
    for group in rule.get("apiGroups") or []:
        for resource in rule.get("resources") or []:
            for verb in verbs:
                for name in names:
                    atom: Rule = {"apiGroups": [group], "resources": [resource], "verbs": [verb]}
                    if name is not None:
                        atom["resourceNames"] = [name]
                    yield atom


def _request(user: UserInfo, atom: Rule) -> Attributes:
    """A single-rule atom as the request it allows (so rbac's own matching compares them)."""
    verb = atom["verbs"][0]
    if "nonResourceURLs" in atom:
        return Attributes(user, verb, False, path=atom["nonResourceURLs"][0])
    resource, _, subresource = atom["resources"][0].partition("/")
    name = (atom.get("resourceNames") or [""])[0]
    return Attributes(user, verb, True, atom["apiGroups"][0], "", "", resource, subresource, name)


def _show(rule: Rule) -> str:
    parts = []
    for key, label in (
        ("apiGroups", "APIGroups"),
        ("resources", "Resources"),
        ("resourceNames", "ResourceNames"),
        ("nonResourceURLs", "NonResourceURLs"),
        ("verbs", "Verbs"),
    ):
        if rule.get(key):
            parts.append(f"{label}:[{' '.join(json.dumps(v) for v in rule[key])}]")
    return "{" + ", ".join(parts) + "}"


class EscalationCheck:
    """Called by `sandbox.verbs` before an RBAC object is stored."""

    def __init__(self, authorizer: Authorizer) -> None:
        self.authz = authorizer

    def __call__(self, rt: ResourceType, namespace: str, obj: dict[str, Any]) -> None:
        if rt.group != RBAC or rt.custom:
            return
        user = CURRENT_USER.get()
        if user.is_master:
            return
        name = str(obj["metadata"].get("name", ""))
        if rt.kind in _ROLE_KINDS:
            if self._may(user, "escalate", rt.plural, namespace, name):
                return
            self._confirm(user, rt, namespace, name, list(obj.get("rules") or []))
        elif rt.kind in _BINDING_KINDS:
            ref = obj.get("roleRef") or {}
            plural = _ROLE_KINDS.get(str(ref.get("kind")), "")
            ref_ns = namespace if plural == "roles" else ""
            if self._may(user, "bind", plural, ref_ns, str(ref.get("name", ""))):
                return
            self._confirm(user, rt, namespace, name, self._role_rules(ref, namespace))

    def _may(self, user: UserInfo, verb: str, plural: str, namespace: str, name: str) -> bool:
        attrs = Attributes(user, verb, True, RBAC, "v1", namespace, plural, "", name)
        return self.authz.allows(attrs)

    def _role_rules(self, ref: dict[str, Any], namespace: str) -> list[Rule]:
        rules = self.authz.role_rules(ref, namespace)
        if rules is None:
            plural = _ROLE_KINDS.get(str(ref.get("kind")), "roles")
            raise errors.not_found(plural, RBAC, str(ref.get("name", "")))
        return rules

    def _confirm(
        self, user: UserInfo, rt: ResourceType, namespace: str, name: str, rules: list[Rule]
    ) -> None:
        owned = [rule for _, rule in self.authz.grants(user, namespace)]
        missing = [
            atom
            for rule in rules
            for atom in _atoms(rule)
            if not any(rule_allows(o, _request(user, atom)) for o in owned)
        ]
        if not missing:
            return
        groups = " ".join(json.dumps(g) for g in user.groups)
        text = (
            f'user "{user.username}" (groups=[{groups}]) is attempting to grant RBAC '
            "permissions not currently held:\n" + "\n".join(_show(m) for m in missing)
        )
        raise errors.forbidden(rt.plural, RBAC, name, text)
