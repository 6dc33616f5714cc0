"""Label and field selectors, parsed once per request and matched against stored objects.

Label selectors support `=`, `==`, `!=`, `in (...)`, `notin (...)`, `key` (exists) and `!key`.
Field selectors support `=`, `==` and `!=` on the fields a real server indexes: metadata.name,
metadata.namespace, spec.nodeName, status.phase, spec.schedulerName, and for events
involvedObject.*, reason, type, source. Parsing raises `ApiError` 400 like a real server.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sandbox.errors import bad_request

__all__ = ["FieldSelector", "LabelSelector", "Selector", "match_label_selector_object"]

_TOKEN = re.compile(r"\s*([a-zA-Z0-9_./-]+)\s*")


@dataclass(frozen=True, slots=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!"
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        match self.op:
            case "=" | "in":
                return present and labels[self.key] in self.values
            case "!=" | "notin":
                return not present or labels[self.key] not in self.values
            case "exists":
                return present
            case _:
                return not present


def _split_top(text: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def _parse_requirement(text: str) -> Requirement:
    m = re.fullmatch(r"([^\s!=()]+)\s+(in|notin)\s*\(([^)]*)\)", text)
    if m:
        values = frozenset(v.strip() for v in m.group(3).split(",") if v.strip())
        return Requirement(m.group(1), m.group(2), values)
    m = re.fullmatch(r"([^\s!=()]+)\s*(==|!=|=)\s*([^\s!=()]*)", text)
    if m:
        op = "=" if m.group(2) in ("=", "==") else "!="
        return Requirement(m.group(1), op, frozenset([m.group(3)]))
    m = re.fullmatch(r"!\s*([^\s!=()]+)", text)
    if m:
        return Requirement(m.group(1), "!")
    m = re.fullmatch(r"[^\s!=()]+", text)
    if m:
        return Requirement(text, "exists")
    raise bad_request(f'unable to parse requirement: found "{text}", expected a label selector')


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """A parsed `labelSelector` query value (all requirements must hold)."""

    requirements: tuple[Requirement, ...]

    @classmethod
    def parse(cls, text: str) -> LabelSelector:
        return cls(tuple(_parse_requirement(p) for p in _split_top(text)))

    @classmethod
    def from_object(cls, sel: Mapping[str, Any] | None) -> LabelSelector:
        """A metav1.LabelSelector (matchLabels + matchExpressions) as requirements."""
        reqs: list[Requirement] = []
        if sel:
            for k, v in (sel.get("matchLabels") or {}).items():
                reqs.append(Requirement(k, "=", frozenset([v])))
            for expr in sel.get("matchExpressions") or []:
                op = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}[
                    expr["operator"]
                ]
                reqs.append(Requirement(expr["key"], op, frozenset(expr.get("values") or ())))
        return cls(tuple(reqs))

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)


def match_label_selector_object(sel: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """Whether `labels` match a metav1.LabelSelector object (empty/None matches everything)."""
    return LabelSelector.from_object(sel).matches(labels)


def _get_path(obj: Mapping[str, Any], path: str) -> str:
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, Mapping):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


_FIELDS_ALWAYS = ("metadata.name", "metadata.namespace")
_FIELDS_BY_KIND: dict[str, tuple[str, ...]] = {
    "Pod": (
        "spec.nodeName",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "status.phase",
        "status.podIP",
        "spec.restartPolicy",
    ),
    "Event": (
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
        "regarding.kind",
        "regarding.name",
        "regarding.namespace",
        "regarding.uid",
    ),
    "Secret": ("type",),
    "Namespace": ("status.phase",),
    "Job": ("status.successful",),
}


@dataclass(frozen=True, slots=True)
class FieldSelector:
    """A parsed `fieldSelector`: (path, equal?, value) terms."""

    terms: tuple[tuple[str, bool, str], ...]

    @classmethod
    def parse(cls, text: str, kind: str) -> FieldSelector:
        allowed = _FIELDS_ALWAYS + _FIELDS_BY_KIND.get(kind, ())
        terms = []
        for part in _split_top(text):
            m = re.fullmatch(r"([^\s!=]+)\s*(==|!=|=)\s*(.*)", part)
            if not m:
                raise bad_request(f"invalid selector: '{part}'; can't understand '{part}'")
            path, op, value = m.group(1), m.group(2), m.group(3).strip()
            if path not in allowed:
                raise bad_request(f"field label not supported: {path}")
            terms.append((path, op != "!=", value))
        return cls(tuple(terms))

    def matches(self, obj: Mapping[str, Any]) -> bool:
        for path, equal, value in self.terms:
            actual = _field_value(obj, path)
            if (actual == value) != equal:
                return False
        return True


def _field_value(obj: Mapping[str, Any], path: str) -> str:
    if path == "source":
        src = obj.get("source") or {}
        return str(src.get("component", "")) if isinstance(src, Mapping) else ""
    return _get_path(obj, path)


@dataclass(frozen=True, slots=True)
class Selector:
    """Namespace + label + field selection applied to a list or a watch."""

    namespace: str | None = None
    labels: LabelSelector | None = None
    fields: FieldSelector | None = None

    def matches(self, obj: Mapping[str, Any]) -> bool:
        meta = obj.get("metadata") or {}
        if self.namespace is not None and meta.get("namespace", "") != self.namespace:
            return False
        if self.labels is not None and not self.labels.matches(meta.get("labels")):
            return False
        return self.fields is None or self.fields.matches(obj)

    @property
    def trivial(self) -> bool:
        return self.labels is None and self.fields is None
