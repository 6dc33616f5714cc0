"""Hypothesis strategies of malformed and hostile manifests of every kind the operator reads.

Each manifest starts from a valid body of its kind (``BASES``) and gets 1-3 mutations: a field
set to a hostile value (wrong type, huge number, control characters, PromQL/JSON injection,
template actions, sub-second durations, cross-namespace references, another tenant's names) or
a field dropped. ``Hostile.paths`` records which fields were touched, so a refusal can be checked
to name one of them. Names are assigned by the caller (unique), except when a mutation targets
``metadata.name``.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from lifecycle.core import model
from lifecycle.core.model import ResourceKind

Body = dict[str, Any]

_TASK_CONTEXT = {
    "appName": "shop",
    "appVersion": "1.0",
    "workloadName": "shop-cart",
    "workloadVersion": "0.4",
    "taskType": "pre",
    "objectType": "Workload",
}

BASES: dict[str, tuple[ResourceKind, Body]] = {
    "provider": (
        model.KEPTN_METRICS_PROVIDER,
        {"type": "prometheus", "targetServer": "http://127.0.0.1:9"},
    ),
    "metric": (
        model.KEPTN_METRIC,
        {"provider": {"name": "prom"}, "query": "up", "fetchIntervalSeconds": 60},
    ),
    "evaldef": (
        model.KEPTN_EVALUATION_DEFINITION,
        {"objectives": [{"keptnMetricRef": {"name": "m"}, "evaluationTarget": "<1"}]},
    ),
    "evaluation": (
        model.KEPTN_EVALUATION,
        {
            "appName": "shop",
            "appVersion": "1.0",
            "workload": "shop-cart",
            "workloadVersion": "0.4",
            "evaluationDefinition": "fuzz-def",
            "checkType": "pre-eval",
            "retries": 2,
            "retryInterval": "1s",
        },
    ),
    "taskdef": (model.KEPTN_TASK_DEFINITION, {"container": {"name": "t", "image": "fuzz/none:1"}}),
    "task": (
        model.KEPTN_TASK,
        {"taskDefinition": "fuzz-missing", "context": dict(_TASK_CONTEXT), "checkType": "pre"},
    ),
    "template": (
        model.ANALYSIS_VALUE_TEMPLATE,
        {"provider": {"name": "prom"}, "query": 'up{job="{{.svc}}"}'},
    ),
    "analysisdef": (
        model.ANALYSIS_DEFINITION,
        {
            "objectives": [
                {
                    "analysisValueTemplateRef": {"name": "t"},
                    "target": {"failure": {"lessThan": {"fixedValue": 1}}},
                }
            ],
            "totalScore": {"passPercentage": 90, "warningPercentage": 75},
        },
    ),
    "analysis": (
        model.ANALYSIS,
        {"timeframe": {"recent": "5m"}, "args": {"svc": "x"}, "analysisDefinition": {"name": "ad"}},
    ),
    "app": (model.KEPTN_APP, {"version": "1", "workloads": [{"name": "w", "version": "1"}]}),
    "appcontext": (model.KEPTN_APP_CONTEXT, {"preDeploymentTasks": ["fuzz-missing"]}),
    "workload": (
        model.KEPTN_WORKLOAD,
        {
            "app": "fuzzapp",
            "version": "1",
            "resourceReference": {"uid": "00000000-fuzz", "kind": "ReplicaSet", "name": "rs"},
        },
    ),
    "request": (model.KEPTN_APP_CREATION_REQUEST, {"appName": "fuzzapp"}),
    "config": (
        model.KEPTN_CONFIG,
        {"blockDeployment": False, "cloudEventsEndpoint": "http://127.0.0.1:9/"},
    ),
}
"""Valid spec of each kind; the kinds whose objects the operator reconciles carry status."""

STATUS_KINDS = frozenset({"metric", "evaluation", "task", "analysis"})

_INJECTIONS = [
    '"} or vector(0) or up{x="',
    "x'} or vector(0) or up{x='",
    "` or vector(0) or `",
    ".*",
    "5m]) or vector(0) or (up[5m",
    "0 or vector(0)",
    "{{.svc}}",
    "{{if .x}}y{{end}}",
    "${jndi:ldap://127.0.0.1/a}",
    "../../../etc/passwd",
    "a\nb",
    "\x00",
    "\u202e\u0000\ufeff",
    "x" * 5000,
    "http://127.0.0.1:1/",
    "http://169.254.169.254/latest/meta-data/",
    "file:///etc/passwd",
    "javascript:alert(1)",
    "0",
    "-5s",
    "500ms",
    "1e9h",
    "99999999999999999999h",
]

_scalars = st.one_of(
    st.sampled_from(_INJECTIONS),
    st.text(max_size=20),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0.5, -1.0, 1e308, -1e-308, True, False, None]),
)
_values = st.one_of(
    _scalars,
    st.lists(_scalars, max_size=3),
    st.dictionaries(
        st.sampled_from(["name", "namespace", "key", "x", "$ref"]), _scalars, max_size=3
    ),
)
_refs = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["prom", "m", "t", "ad", "fuzz-def", "x"]),
        "namespace": st.sampled_from(["keptn-system", "other-tenant", "kube-system", "", "a/b"]),
    }
)


def _paths(value: Any, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """Every path of a body (dict keys and list indexes), parents before children."""
    out: list[tuple[str | int, ...]] = []
    if isinstance(value, dict):
        for key, child in value.items():
            out.append((*prefix, key))
            out.extend(_paths(child, (*prefix, key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            out.append((*prefix, index))
            out.extend(_paths(child, (*prefix, index)))
    return out


def _set(body: Body, path: tuple[str | int, ...], value: Any, drop: bool) -> None:
    node: Any = body
    for part in path[:-1]:
        if isinstance(node, dict):
            node = node.setdefault(part, {})
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            return
    last = path[-1]
    if drop and isinstance(node, dict):
        node.pop(last, None)
    elif isinstance(node, dict) or (isinstance(node, list) and isinstance(last, int)):
        node[last] = value


@dataclass(frozen=True)
class Hostile:
    """One generated manifest and the fields its mutations touched."""

    key: str  # the BASES key
    kind: ResourceKind
    body: Body
    paths: tuple[str, ...]

    def dump(self) -> str:
        return json.dumps(self.body, default=str)[:300]


@st.composite
def hostile(draw: st.DrawFn) -> Hostile:
    """A manifest of a random kind with 1-3 hostile mutations."""
    key = draw(st.sampled_from(sorted(BASES)))
    kind, spec = BASES[key]
    body: Body = {
        "apiVersion": kind.api_version,
        "kind": kind.kind,
        "metadata": {"name": "placeholder"},
        "spec": copy.deepcopy(spec),
    }
    touched: list[str] = []
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        candidates = [p for p in _paths(body) if p != ("apiVersion",) and p != ("kind",)]
        candidates += [("spec", "extraField"), ("spec", "namespace"), ("status",)]
        path = draw(st.sampled_from(candidates))
        ref_like = path[-1] in (
            "provider",
            "keptnMetricRef",
            "analysisValueTemplateRef",
            "analysisDefinition",
        )
        value = draw(_refs) if ref_like and draw(st.booleans()) else draw(_values)
        _set(body, path, value, drop=draw(st.integers(0, 9)) == 0)
        dotted = ".".join(str(p) for p in path)
        touched.append(dotted)
        if isinstance(value, dict):  # the fields the placed value brings along
            touched.extend(f"{dotted}.{k}" for k in value)
    return Hostile(key, kind, body, tuple(touched))
