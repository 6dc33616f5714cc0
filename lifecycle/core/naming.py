"""Names, keys, ids and timestamps shared by every part of the operator.

Role: KLT's resource naming (CreateResourceName and its length rules, the generation hash,
`<app>-<workload>-<version>`; every derived name passes `valid_name`, every derived label value
`label_value`, so a real API server never answers 422 to them), the annotation and label keys of the pod webhook (keptn.md
§8.3), the scheduling-gate name, deterministic child names, deterministic W3C trace/span ids
and the one timestamp format of the project.

Invariants: every function is deterministic. Child names and trace ids are derived with
sha256 from the parent's uid, so an operator that restarts, or crashes between "create" and
"record", recomputes exactly the same names and ids (KLT draws random suffixes, issue #3921).
Timestamps are RFC3339 in UTC with microseconds and a "Z": `format_time` writes them,
`parse_time` reads any RFC3339 form back into an aware UTC datetime.

Must not: import anything but the standard library, read a clock, use randomness, or log.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

__all__ = [
    "APP_ANNOTATION",
    "APP_TYPE_ANNOTATION",
    "APP_TYPE_MULTI_SERVICE",
    "APP_TYPE_SINGLE_SERVICE",
    "CONTAINER_ANNOTATION",
    "GATE_NAME",
    "GATE_REMOVED_KEY",
    "INJECT_CERT_LABEL",
    "K8S_RECOMMENDED_APP_ANNOTATION",
    "K8S_RECOMMENDED_VERSION_ANNOTATION",
    "K8S_RECOMMENDED_WORKLOAD_ANNOTATION",
    "MANAGED_BY_LABEL",
    "MANAGED_BY_VALUE",
    "MAX_K8S_OBJECT_LENGTH",
    "METADATA_ANNOTATION",
    "MIN_KEPTN_NAME_LENGTH",
    "NAMESPACE_ENABLED_ANNOTATION",
    "NAMESPACE_ENABLED_VALUE",
    "POST_DEPLOYMENT_EVALUATIONS_ANNOTATION",
    "POST_DEPLOYMENT_TASKS_ANNOTATION",
    "PRE_DEPLOYMENT_EVALUATIONS_ANNOTATION",
    "PRE_DEPLOYMENT_TASKS_ANNOTATION",
    "TASK_NAME_ANNOTATION",
    "VERSION_ANNOTATION",
    "WORKLOAD_ANNOTATION",
    "alternate_child_name",
    "app_version_name",
    "child_name",
    "create_resource_name",
    "format_time",
    "gated",
    "generation_hash",
    "label_value",
    "multi_workload_app_version",
    "parse_time",
    "parse_traceparent",
    "span_id_for",
    "trace_id_for",
    "traceparent",
    "valid_name",
    "workload_name",
    "workload_version_name",
]

MAX_K8S_OBJECT_LENGTH = 253
MIN_KEPTN_NAME_LENGTH = 80

GATE_NAME = "keptn-prechecks-gate"
GATE_REMOVED_KEY = "keptn.sh/scheduling-gate-removed"

WORKLOAD_ANNOTATION = "keptn.sh/workload"
VERSION_ANNOTATION = "keptn.sh/version"
APP_ANNOTATION = "keptn.sh/app"
PRE_DEPLOYMENT_TASKS_ANNOTATION = "keptn.sh/pre-deployment-tasks"
POST_DEPLOYMENT_TASKS_ANNOTATION = "keptn.sh/post-deployment-tasks"
PRE_DEPLOYMENT_EVALUATIONS_ANNOTATION = "keptn.sh/pre-deployment-evaluations"
POST_DEPLOYMENT_EVALUATIONS_ANNOTATION = "keptn.sh/post-deployment-evaluations"
CONTAINER_ANNOTATION = "keptn.sh/container"
METADATA_ANNOTATION = "keptn.sh/metadata"
TASK_NAME_ANNOTATION = "keptn.sh/task-name"
NAMESPACE_ENABLED_ANNOTATION = "keptn.sh/lifecycle-toolkit"
NAMESPACE_ENABLED_VALUE = "enabled"
INJECT_CERT_LABEL = "keptn.sh/inject-cert"

K8S_RECOMMENDED_WORKLOAD_ANNOTATION = "app.kubernetes.io/name"
K8S_RECOMMENDED_VERSION_ANNOTATION = "app.kubernetes.io/version"
K8S_RECOMMENDED_APP_ANNOTATION = "app.kubernetes.io/part-of"

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "keptn"
APP_TYPE_ANNOTATION = "keptn.sh/app-type"
APP_TYPE_SINGLE_SERVICE = "single-service"
APP_TYPE_MULTI_SERVICE = "multi-service"

# KLT draws task/evaluation suffixes from rand.Intn(89_999) + 10_000; we keep the range, not the dice.
_CHILD_SUFFIX_BASE = 10_000
_CHILD_SUFFIX_SPAN = 89_999


def create_resource_name(max_len: int, min_substr_len: int, *parts: str) -> str:
    """KLT's CreateResourceName: join with "-", shorten parts left to right to fit, lower-case.

    A part is cut to no less than `min_substr_len` characters (halved until all parts fit at
    that length); the last part is never cut, as in KLT.
    """
    pieces = list(parts)
    while pieces and len(pieces) * min_substr_len > max_len:
        min_substr_len //= 2
    for index in range(len(pieces) - 1):
        joined = "-".join(pieces)
        if len(joined) <= max_len:
            return joined.lower()
        part = pieces[index]
        if len(part) <= min_substr_len:
            continue
        cut = len(joined) - max_len
        if cut > len(part) - min_substr_len:
            pieces[index] = part[:min_substr_len]
        else:
            pieces[index] = part[: len(part) - cut]
    return "-".join(pieces).lower()


_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
MAX_LABEL_VALUE = 63


def valid_name(name: str, max_len: int = MAX_K8S_OBJECT_LENGTH) -> str:
    """``name`` if it is a DNS-1123 subdomain of at most ``max_len``; else one derived from it.

    The derived name replaces what is not allowed (``1.0.0+build.7`` -> ``1.0.0-build.7``), trims
    to fit and appends ``-`` and 8 hex chars of sha256(name), so two inputs that clean up to the
    same text stay distinct. Names that are already valid (every KLT name of ordinary input)
    stay exactly KLT's.
    """
    if len(name) <= max_len and _SUBDOMAIN.fullmatch(name):
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    dashed = re.sub(r"[^a-z0-9.-]+", "-", name.lower())
    base = ".".join(p.strip("-") for p in dashed.split(".") if p.strip("-"))
    base = base[: max_len - len(digest) - 1].rstrip("-.")
    return f"{base}-{digest}" if base else digest


def label_value(value: str) -> str:
    """``value`` if it is a valid label value; else cleaned (``_`` for what is not allowed),
    trimmed to 63 characters and never starting or ending with ``-``, ``_`` or ``.``."""
    if len(value) <= MAX_LABEL_VALUE and _LABEL_VALUE.fullmatch(value):
        return value
    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "_", value)[:MAX_LABEL_VALUE]
    return cleaned.strip("-_.")


def generation_hash(generation: int) -> str:
    """First 8 hex chars of sha256 of the decimal generation (KLT Hash): 1 -> "6b86b273"."""
    return hashlib.sha256(str(generation).encode()).hexdigest()[:8]


def app_version_name(app: str, version: str, generation: int) -> str:
    """KeptnAppVersion name: `<app>-<version>-<hash(generation)>`, e.g. myapp-0.0.1-6b86b273."""
    return valid_name(
        create_resource_name(
            MAX_K8S_OBJECT_LENGTH, MIN_KEPTN_NAME_LENGTH, app, version, generation_hash(generation)
        )
    )


def workload_name(app: str, workload: str) -> str:
    """KeptnWorkload name: `<app>-<workload>`, lower-cased with "_" turned into "-"."""
    name = create_resource_name(MAX_K8S_OBJECT_LENGTH, MIN_KEPTN_NAME_LENGTH, app, workload)
    return valid_name(name.replace("_", "-"))


def workload_version_name(workload: str, version: str) -> str:
    """KeptnWorkloadVersion name: `<workload name>-<version>` (workload name already `<app>-<wl>`)."""
    return valid_name(
        create_resource_name(MAX_K8S_OBJECT_LENGTH, MIN_KEPTN_NAME_LENGTH, workload, version)
    )


def multi_workload_app_version(workloads: Iterable[tuple[str, str]]) -> str:
    """Version of an auto-created multi-workload app: sha256 of the `name-version` concatenation, 10 hex chars."""
    joined = "".join(f"{name}-{version}" for name, version in workloads)
    return hashlib.sha256(joined.encode()).hexdigest()[:10]


def child_name(check_type: str, definition: str, parent_uid: str, phase: str) -> str:
    """Deterministic KeptnTask/KeptnEvaluation name shaped like KLT's: `pre-notify-43521`.

    The number (10000..99998) comes from sha256 of parent uid, phase and definition, so the
    same parent phase always asks for the same child and a replay never creates a second one.
    """
    digest = hashlib.sha256(f"{parent_uid}/{phase}/{definition}".encode()).digest()
    suffix = _CHILD_SUFFIX_BASE + int.from_bytes(digest[:8], "big") % _CHILD_SUFFIX_SPAN
    return valid_name(
        create_resource_name(
            MAX_K8S_OBJECT_LENGTH, MIN_KEPTN_NAME_LENGTH, check_type, definition, str(suffix)
        )
    )


def alternate_child_name(name: str, attempt: int) -> str:
    """The `attempt`-th other name for a child whose name another parent's child already holds.

    Five digits collide within a namespace once a definition has hundreds of children; the
    executor then takes the first free alternate (deterministic, so a replay finds the same
    one) and the machine finds the child by definition and check type among its own children.
    """
    base = name.rpartition("-")[0] or name
    digest = hashlib.sha256(f"{name}/{attempt}".encode()).digest()
    suffix = _CHILD_SUFFIX_BASE + int.from_bytes(digest[:8], "big") % _CHILD_SUFFIX_SPAN
    return valid_name(f"{base}-{suffix}")


def _nonzero_hex(seed: str, length: int) -> str:
    value = hashlib.sha256(seed.encode()).hexdigest()[:length]
    # W3C trace context forbids all-zero ids; a digest prefix of zeros is vanishingly rare but legal.
    return value if value.strip("0") else "0" * (length - 1) + "1"


def trace_id_for(uid: str) -> str:
    """The 32-hex W3C trace id of an object's trace, derived from its uid."""
    return _nonzero_hex(f"trace/{uid}", 32)


def span_id_for(uid: str, key: str) -> str:
    """The 16-hex W3C span id of span `key` ("root", a phase, a child name) of object `uid`."""
    return _nonzero_hex(f"span/{uid}/{key}", 16)


def traceparent(trace_id: str, span_id: str) -> str:
    """A W3C traceparent header value, sampled: `00-<trace>-<span>-01`."""
    return f"00-{trace_id}-{span_id}-01"


def parse_traceparent(value: str) -> tuple[str, str] | None:
    """(trace id, span id) of a traceparent, or None when the value is not a valid version-00 header."""
    fields = value.strip().split("-")
    if len(fields) != 4 or fields[0] != "00":
        return None
    trace, span = fields[1].lower(), fields[2].lower()
    if len(trace) != 32 or len(span) != 16:
        return None
    if any(c not in "0123456789abcdef" for c in trace + span):
        return None
    if not trace.strip("0") or not span.strip("0"):
        return None
    return trace, span


def format_time(moment: datetime) -> str:
    """RFC3339 UTC with microseconds: 2026-11-27T11:00:00.123456Z. Naive datetimes are taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    utc = moment.astimezone(UTC)
    # strftime's %Y does not pad years below 1000, which RFC3339 requires
    return f"{utc.year:04d}-{utc:%m-%dT%H:%M:%S.%f}Z"


def parse_time(value: str) -> datetime:
    """Read an RFC3339 timestamp (with or without fraction, "Z" or an offset) as an aware UTC datetime."""
    moment = datetime.fromisoformat(value.strip().replace("z", "Z"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def gated(pod: Mapping[str, object]) -> bool:
    """True while the pod carries the keptn-prechecks-gate (``GATE_NAME``)."""
    spec = pod.get("spec")
    gates = spec.get("schedulingGates") if isinstance(spec, Mapping) else None
    return any(isinstance(g, Mapping) and g.get("name") == GATE_NAME for g in gates or ())
