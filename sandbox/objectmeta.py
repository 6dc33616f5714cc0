"""Object metadata and size checks as kube-apiserver's apimachinery validation does them.

- names per kind: a DNS-1123 subdomain (most kinds, custom resources), a DNS-1123 label
  (namespaces), a DNS-1035 label (services), a path segment (RBAC kinds); `generateName` with
  its trailing '-' allowed, the generated name cut to fit (`generate_name`);
- label keys (qualified names: optional DNS-subdomain prefix of at most 253 characters, '/',
  a name part of at most 63 `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`), label values (at most
  63, the same regex, may be empty), also on pod templates;
- annotation keys (qualified names, lower-cased first) and their total size (256 KiB);
- ConfigMap/Secret keys and their 1 MiB data limit;
- names in pod specs (containers, volumes: DNS-1123 labels; env variable names) and the label
  keys/values of selectors (workloads' `spec.selector.matchLabels`, Services' `spec.selector`);
- the whole object's stored size against etcd's request limit (1.5 MiB).
Causes are `(field, reason, message)` worded like field.ErrorList. Pure functions, no I/O.
"""

from __future__ import annotations

import base64
import binascii
import json
import random
import re
from collections.abc import Callable
from functools import partial
from typing import Any

from sandbox import errors

__all__ = [
    "MAX_OBJECT_BYTES",
    "check_object_size",
    "generate_name",
    "metadata_causes",
    "pod_spec_causes",
    "selector_causes",
    "template_label_causes",
]

Cause = tuple[str, str, str]

MAX_OBJECT_BYTES = 1536 * 1024
"""etcd's default --max-request-bytes (1.5 MiB); the sandbox measures the stored JSON."""
MAX_DATA_BYTES = 1024 * 1024
"""core.MaxSecretSize: the data of one ConfigMap or Secret."""
MAX_ANNOTATION_BYTES = 256 * 1024
"""TotalAnnotationSizeLimitB: keys plus values of all annotations of one object."""
_MAX_GENERATED_PREFIX = 58
"""names.SimpleNameGenerator: a generateName is cut to 63 - 5 before its random suffix."""
_SUFFIX_CHARS = "bcdfghjklmnpqrstvwxz2456789"

_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN_RE = re.compile(rf"{_LABEL}(\.{_LABEL})*")
_LABEL_RE = re.compile(_LABEL)
_DNS1035_RE = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_QUALIFIED_RE = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_VALUE_RE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
_CONFIG_KEY_RE = re.compile(r"[-._a-zA-Z0-9]+")

_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
_DNS1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
    "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
_QUALIFIED_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
_CONFIG_KEY_MSG = (
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. "
    "'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
)


def _too_long(limit: int) -> str:
    return f"must be no more than {limit} characters"


def _checked(value: str, limit: int, pattern: re.Pattern[str], message: str) -> list[str]:
    out = [] if len(value) <= limit else [_too_long(limit)]
    if not pattern.fullmatch(value):
        out.append(message)
    return out


_subdomain = partial(_checked, limit=253, pattern=_SUBDOMAIN_RE, message=_SUBDOMAIN_MSG)
_dns_label = partial(_checked, limit=63, pattern=_LABEL_RE, message=_LABEL_MSG)
_dns1035 = partial(_checked, limit=63, pattern=_DNS1035_RE, message=_DNS1035_MSG)
label_value = partial(_checked, limit=63, pattern=_VALUE_RE, message=_VALUE_MSG)


def _path_segment(value: str) -> list[str]:
    if value in (".", ".."):
        return [f"may not be '{value}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in value]


NameCheck = Callable[[str], list[str]]
_NAME_CHECKS: dict[str, NameCheck] = {
    "Namespace": _dns_label,
    "Service": _dns1035,
    "Role": _path_segment,
    "ClusterRole": _path_segment,
    "RoleBinding": _path_segment,
    "ClusterRoleBinding": _path_segment,
}


def _name_check(kind: str, custom: bool) -> NameCheck:
    return _subdomain if custom else _NAME_CHECKS.get(kind, _subdomain)


def _prefix(value: str) -> str:
    """maskTrailingDash: a generateName may end in '-' (the suffix follows)."""
    return value[:-1] + "a" if len(value) > 1 and value.endswith("-") else value


def generate_name(prefix: str) -> str:
    """The name a real server generates: the prefix cut to 58 characters plus 5 random ones."""
    return prefix[:_MAX_GENERATED_PREFIX] + "".join(random.choices(_SUFFIX_CHARS, k=5))


def _show(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _invalid(path: str, value: str, msg: str) -> Cause:
    return (path, "FieldValueInvalid", f"Invalid value: {_show(value)}: {msg}")


def _too_many_bytes(path: str, limit: int) -> Cause:
    return (path, "FieldValueTooLong", f"Too long: must have at most {limit} bytes")


def qualified_name(key: str) -> list[str]:
    """IsQualifiedName: `[prefix/]name` as label and annotation keys are."""
    parts = key.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            return ["prefix part must be non-empty"]
        msgs = _subdomain(prefix)
        if msgs:
            return ["prefix part " + m for m in msgs]
    else:
        return [
            "a qualified name "
            + _QUALIFIED_MSG
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        return ["name part must be non-empty"]
    return ["name part " + m for m in _checked(name, 63, _QUALIFIED_RE, _QUALIFIED_MSG)]


def label_causes(labels: Any, path: str) -> list[Cause]:
    """ValidateLabels: every key a qualified name, every value a label value."""
    if not isinstance(labels, dict):
        return []
    causes: list[Cause] = []
    for key in sorted(labels):
        causes.extend(_invalid(path, key, m) for m in qualified_name(str(key)))
        value = labels[key]
        if not isinstance(value, str):
            continue
        causes.extend(_invalid(path, value, m) for m in label_value(value))
    return causes


def annotation_causes(annotations: Any, path: str) -> list[Cause]:
    """ValidateAnnotations: qualified keys (lower-cased first) and 256 KiB in total."""
    if not isinstance(annotations, dict):
        return []
    causes: list[Cause] = []
    total = 0
    for key in sorted(annotations):
        causes.extend(_invalid(path, key, m) for m in qualified_name(str(key).lower()))
        value = annotations[key]
        total += len(str(key).encode()) + len(str(value).encode() if value is not None else b"")
    if total > MAX_ANNOTATION_BYTES:
        causes.append(_too_many_bytes(path, MAX_ANNOTATION_BYTES))
    return causes


def _name_causes(kind: str, custom: bool, meta: dict[str, Any]) -> list[Cause]:
    check = _name_check(kind, custom)
    causes: list[Cause] = []
    generate = meta.get("generateName")
    if isinstance(generate, str) and generate:
        causes.extend(
            _invalid("metadata.generateName", generate, m) for m in check(_prefix(generate))
        )
    name = meta.get("name")
    if isinstance(name, str) and name:
        causes.extend(_invalid("metadata.name", name, m) for m in check(name))
    return causes


def _value_bytes(kind: str, section: str, value: Any) -> int:
    text = str(value) if value is not None else ""
    if section == "binaryData" or (kind == "Secret" and section == "data"):
        try:
            return len(base64.b64decode(text, validate=True))
        except (binascii.Error, ValueError):
            return len(text.encode())
    return len(text.encode())


def data_causes(kind: str, obj: dict[str, Any]) -> list[Cause]:
    """ValidateConfigMap/ValidateSecret: config keys and 1 MiB of data."""
    if kind not in ("ConfigMap", "Secret"):
        return []
    causes: list[Cause] = []
    size = 0  # the data's bytes (decoded for Secrets), and a ConfigMap's keys
    for section in ("data", "binaryData", "stringData"):
        values = obj.get(section)
        if not isinstance(values, dict):
            continue
        for key in sorted(values):
            size += _value_bytes(kind, section, values[key])
            if kind == "ConfigMap":
                size += len(key.encode())
            path = f"{section}[{key}]"
            if len(key) > 253:
                causes.append(_invalid(path, key, _too_long(253)))
            if not _CONFIG_KEY_RE.fullmatch(key):
                causes.append(_invalid(path, key, _CONFIG_KEY_MSG))
            if key in (".", ".."):
                causes.append(_invalid(path, key, f"must not be '{key}'"))
    if size > MAX_DATA_BYTES:
        causes.append(_too_many_bytes("data", MAX_DATA_BYTES))
    return causes


def metadata_causes(kind: str, custom: bool, obj: dict[str, Any]) -> list[Cause]:
    """Every metadata and data-size cause of `obj` (empty when it is valid)."""
    meta = obj.get("metadata") or {}
    return [
        *_name_causes(kind, custom, meta),
        *label_causes(meta.get("labels"), "metadata.labels"),
        *annotation_causes(meta.get("annotations"), "metadata.annotations"),
        *data_causes(kind, obj),
    ]


def template_label_causes(obj: dict[str, Any]) -> list[Cause]:
    """Labels and annotations of a workload's pod template (reported as `spec.template.labels`)."""
    template = (obj.get("spec") or {}).get("template")
    if not isinstance(template, dict):
        return []
    meta = template.get("metadata") or {}
    return [
        *label_causes(meta.get("labels"), "spec.template.labels"),
        *annotation_causes(meta.get("annotations"), "spec.template.annotations"),
    ]


_ENV_RE = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")
_ENV_MSG = (
    "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', "
    "or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or "
    "'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')"
)


def pod_spec_causes(spec: dict[str, Any], path: str) -> list[Cause]:
    """Names inside a pod spec: containers and volumes (DNS-1123 labels), env variables."""
    causes: list[Cause] = []
    for i, volume in enumerate(spec.get("volumes") or []):
        name = volume.get("name") if isinstance(volume, dict) else None
        if isinstance(name, str):
            field = f"{path}.volumes[{i}].name"
            causes.extend(_invalid(field, name, m) for m in _dns_label(name))
    for group in ("initContainers", "containers"):
        for i, container in enumerate(spec.get(group) or []):
            if not isinstance(container, dict):
                continue
            base = f"{path}.{group}[{i}]"
            name = container.get("name")
            if isinstance(name, str) and name:
                causes.extend(_invalid(f"{base}.name", name, m) for m in _dns_label(name))
            for j, env in enumerate(container.get("env") or []):
                var = env.get("name") if isinstance(env, dict) else None
                if isinstance(var, str) and not _ENV_RE.fullmatch(var):
                    causes.append(_invalid(f"{base}.env[{j}].name", var, _ENV_MSG))
    return causes


def selector_causes(obj: dict[str, Any]) -> list[Cause]:
    """Label keys and values of a workload's `spec.selector` or a Service's selector."""
    spec = obj.get("spec") or {}
    selector = spec.get("selector")
    if not isinstance(selector, dict):
        return []
    if obj.get("kind") == "Service":
        return label_causes(selector, "spec.selector")
    return label_causes(selector.get("matchLabels"), "spec.selector.matchLabels")


def check_object_size(raw_size: int) -> None:
    """Raise what kube-apiserver answers when etcd refuses a write over its request limit."""
    if raw_size > MAX_OBJECT_BYTES:
        raise errors.ApiError(500, "", "etcdserver: request is too large")
