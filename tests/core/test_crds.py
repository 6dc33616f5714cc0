"""The CRDs in deploy/crds, the kind table in lifecycle.core.model and the manifests in examples/.

Checks that every CRD is a structural apiextensions.k8s.io/v1 CustomResourceDefinition a real
API server would accept, that printer columns point at fields that exist (KLT's KeptnTask
columns do not), that every example validates, that broken manifests are rejected with errors
naming the field, and that defaults are applied as an API server would.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator

from evaluator import bodies as evaluator_bodies
from evaluator.objectives import parse_evaluation_target, parse_target
from lifecycle.admission import schemas
from lifecycle.core import bodies, model
from tests.support import crdschema
from tests.support.paths import REPO_ROOT

REPO = REPO_ROOT
CRD_FILES = sorted(
    p for p in (REPO / "deploy" / "crds").glob("*.yaml") if p.name != "kustomization.yaml"
)
EXAMPLES = REPO / "examples"
CRDS = schemas.load_crds()
BY_KIND = {crd["spec"]["names"]["kind"]: crd for crd in CRDS}
# Keywords a structural schema may use inside allOf/anyOf/oneOf/not (no type, default, description).
JUNCTOR_KEYS = {
    "required",
    "not",
    "anyOf",
    "allOf",
    "oneOf",
    "enum",
    "pattern",
    "minimum",
    "maximum",
}


def _schema(kind: str) -> dict[str, Any]:
    schema: dict[str, Any] = BY_KIND[kind]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def _nodes(schema: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema node (not junctor branches) with a readable path."""
    yield path, schema
    for name, sub in schema.get("properties", {}).items():
        yield from _nodes(sub, f"{path}.{name}")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from _nodes(schema["additionalProperties"], f"{path}.*")
    if "items" in schema:
        yield from _nodes(schema["items"], f"{path}[]")


def _junctor_branches(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for key in ("allOf", "anyOf", "oneOf"):
        for branch in node.get(key, []):
            yield branch
            yield from _junctor_branches(branch)
    if "not" in node:
        yield node["not"]
        yield from _junctor_branches(node["not"])


def _manifests() -> list[tuple[str, dict[str, Any]]]:
    docs = []
    for file in sorted(EXAMPLES.rglob("*.yaml")):
        if file.name == "kustomization.yaml":
            continue  # a kustomize overlay (examples/cert-manager), not a manifest
        for index, doc in enumerate(yaml.safe_load_all(file.read_text(encoding="utf-8"))):
            if doc is not None:
                docs.append((f"{file.relative_to(EXAMPLES)}#{index}", doc))
    return docs


MANIFESTS = _manifests()
KEPTN_MANIFESTS = [
    (n, d) for n, d in MANIFESTS if d["apiVersion"].split("/")[0].endswith(".keptn.sh")
]


def _resolve(schema: dict[str, Any], json_path: str) -> dict[str, Any] | None:
    """The schema node a printer-column JSONPath points at, or None if it does not exist."""
    if json_path == ".metadata.creationTimestamp":
        return {"type": "string"}
    node: dict[str, Any] | None = schema
    for part in json_path.lstrip(".").split("."):
        if node is None:
            return None
        wildcard = part.endswith("[*]")
        node = node.get("properties", {}).get(part.removesuffix("[*]"))
        if node is not None and wildcard:
            node = node.get("items")
    return node


# --- the CRD files --------------------------------------------------------------------------


# KLT still serves these two (v1alpha1..v1alpha3) for old manifests; the operator never uses them.
LEGACY_KINDS = {"KeptnWorkloadInstance", "KeptnEvaluationProvider"}


def test_every_kind_of_the_model_has_exactly_one_crd_file() -> None:
    current = [c for c in CRDS if c["spec"]["names"]["kind"] not in LEGACY_KINDS]
    assert len(CRD_FILES) == 18 and len(current) == len(model.CRD_KINDS) == 16
    stored = {
        (c["spec"]["group"], v["name"], c["spec"]["names"]["plural"], c["spec"]["names"]["kind"])
        for c in current
        for v in c["spec"]["versions"]
        if v["storage"]
    }
    assert stored == {(k.group, k.version, k.plural, k.kind) for k in model.CRD_KINDS}
    for crd in current:  # the version the operator uses comes first (the tests read it)
        assert crd["spec"]["versions"][0]["storage"] is True


@pytest.mark.parametrize("path", CRD_FILES, ids=lambda p: p.name)
def test_crd_file_is_a_valid_v1_crd(path: Path) -> None:
    docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    assert len(docs) == 1, "one CRD per file"
    crd = docs[0]
    spec, names = crd["spec"], crd["spec"]["names"]
    assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
    assert crd["kind"] == "CustomResourceDefinition"
    assert crd["metadata"]["name"] == f"{names['plural']}.{spec['group']}"
    assert path.name == f"{spec['group']}_{names['plural']}.yaml"
    assert spec["scope"] == "Namespaced"
    assert (
        names["singular"] == names["kind"].lower() and names["listKind"] == names["kind"] + "List"
    )
    assert names["shortNames"] and "keptn" in names["categories"]
    assert [v["storage"] for v in spec["versions"]].count(True) == 1
    for version in spec["versions"]:
        assert version["served"] is True
        assert version["subresources"] == {"status": {}}
        schema = version["schema"]["openAPIV3Schema"]
        Draft7Validator.check_schema(schema)
        assert set(schema["properties"]) >= {"apiVersion", "kind", "metadata", "status"}


@pytest.mark.parametrize("kind", sorted(BY_KIND))
def test_schema_is_structural(kind: str) -> None:
    """The rules a real API server enforces: a type everywhere, no $ref, clean junctors, valid defaults."""
    for path, node in _nodes(_schema(kind)):
        assert "$ref" not in node, path
        if node.get("x-kubernetes-int-or-string"):
            assert "type" not in node and {b["type"] for b in node["anyOf"]} == {
                "integer",
                "string",
            }
        else:
            assert node.get("type") in {
                "object",
                "array",
                "string",
                "integer",
                "number",
                "boolean",
            }, path
        if node.get("type") == "array":
            assert "items" in node, path
        for branch in _junctor_branches(node):
            assert set(branch) <= JUNCTOR_KEYS | (
                {"type"} if node.get("x-kubernetes-int-or-string") else set()
            ), path
            for field in branch.get("required", []):
                assert field in node["properties"], f"{path}: {field} only inside a junctor"
        if "default" in node:
            assert not list(Draft7Validator(node).iter_errors(node["default"])), path
        if "properties" in node and "additionalProperties" in node:
            pytest.fail(f"{path}: properties and additionalProperties are exclusive")


def test_short_names_are_unique_and_include_klts() -> None:
    short = [s for crd in CRDS for s in crd["spec"]["names"]["shortNames"]]
    assert len(short) == len(set(short))
    expected = {
        "KeptnAppVersion": "kav",
        "KeptnWorkloadVersion": "kwv",
        "KeptnEvaluation": "ke",
        "KeptnEvaluationDefinition": "ked",
        "KeptnMetricsProvider": "kmp",
    }
    for kind, name in expected.items():
        assert name in BY_KIND[kind]["spec"]["names"]["shortNames"]


@pytest.mark.parametrize(
    ("kind", "field"),
    [
        ("KeptnConfig", "spec.definitionWaitSeconds"),
        ("AnalysisDefinition", "spec.objectives[].target.failure.relative"),
        ("AnalysisDefinition", "spec.objectives[].target.warning.relative.lookback"),
        ("AnalysisDefinition", "spec.objectives[].noData"),
        ("AnalysisDefinition", "spec.objectives[].informational"),
    ],
)
def test_extension_fields_are_documented(kind: str, field: str) -> None:
    nodes = dict(_nodes(_schema(kind)))
    node = nodes["." + field]
    assert len(node["description"]) > 20


def test_phase_trace_ids_is_a_map_of_string_maps() -> None:
    for kind in ("KeptnAppVersion", "KeptnWorkloadVersion"):
        ids = _schema(kind)["properties"]["status"]["properties"]["phaseTraceIDs"]
        assert ids["additionalProperties"]["additionalProperties"] == {"type": "string"}


# --- printer columns --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(BY_KIND))
def test_printer_columns_point_at_schema_fields(kind: str) -> None:
    columns = BY_KIND[kind]["spec"]["versions"][0]["additionalPrinterColumns"]
    assert columns[-1] == {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
    for column in columns:
        node = _resolve(_schema(kind), column["jsonPath"])
        assert node is not None, (
            f"{kind} column {column['name']}: {column['jsonPath']} does not exist"
        )
        if column["type"] in {"integer", "boolean"}:
            assert node["type"] == column["type"], column


FREE_TEXT = {".spec.query", ".spec.cloudEventsEndpoint"}
"""Fields whose values run to any length (a PromQL query, a URL with a path)."""


@pytest.mark.parametrize("kind", sorted(BY_KIND))
def test_default_printer_columns_are_short(kind: str) -> None:
    """`kubectl get` fits a terminal: no map, list or free text in a default column (KLT's
    `kubectl get ke` printed ~300 characters of JSON), at most 5 besides NAME and AGE; the
    long ones are priority 1 (`-o wide`)."""
    columns = BY_KIND[kind]["spec"]["versions"][0]["additionalPrinterColumns"]
    default = [c for c in columns if not c.get("priority")]
    assert len(default) - 1 <= 5, [c["name"] for c in default]
    for column in default:
        node = _resolve(_schema(kind), column["jsonPath"])
        assert node is not None
        assert node.get("type") not in ("object", "array"), column
        assert "[*]" not in column["jsonPath"] and column["jsonPath"] not in FREE_TEXT, column


def test_keptn_evaluation_status_map_is_wide_only() -> None:
    columns = BY_KIND["KeptnEvaluation"]["spec"]["versions"][0]["additionalPrinterColumns"]
    by_name = {c["name"]: c for c in columns}
    assert by_name["EvaluationStatus"]["priority"] == 1
    assert "priority" not in by_name["OverallStatus"]


def test_keptn_task_columns_read_the_context_where_klt_reads_nothing() -> None:
    schema = _schema("KeptnTask")
    paths = {
        c["name"]: c["jsonPath"]
        for c in BY_KIND["KeptnTask"]["spec"]["versions"][0]["additionalPrinterColumns"]
    }
    assert paths["AppName"] == ".spec.context.appName"
    assert paths["WorkloadVersion"] == ".spec.context.workloadVersion"
    # KLT's paths: the resolver must reject them, or the column test above proves nothing.
    for klt_path in (".spec.app", ".spec.appVersion", ".spec.workload", ".spec.workloadVersion"):
        assert _resolve(schema, klt_path) is None


# --- examples -----------------------------------------------------------------------------------


def test_examples_cover_every_part_of_the_brief() -> None:
    kinds = [(n.split("/")[0], d["kind"]) for n, d in MANIFESTS]
    for kind in (
        "Namespace",
        "Deployment",
        "StatefulSet",
        "KeptnApp",
        "KeptnAppContext",
        "KeptnTaskDefinition",
        "KeptnMetricsProvider",
        "KeptnMetric",
        "KeptnEvaluationDefinition",
    ):
        assert ("podtato-head", kind) in kinds
    assert ("single-service", "Deployment") in kinds
    for kind in ("AnalysisValueTemplate", "AnalysisDefinition", "Analysis"):
        assert ("analysis", kind) in kinds
    runtimes = {
        rt for _, d in KEPTN_MANIFESTS if d["kind"] == "KeptnTaskDefinition" for rt in d["spec"]
    }
    assert {"python", "deno"} <= runtimes


@pytest.mark.parametrize(("name", "body"), KEPTN_MANIFESTS, ids=[n for n, _ in KEPTN_MANIFESTS])
def test_example_validates_against_its_crd(name: str, body: dict[str, Any]) -> None:
    assert crdschema.validate(body) == []


@pytest.mark.parametrize(("name", "body"), MANIFESTS, ids=[n for n, _ in MANIFESTS])
def test_example_kind_is_known(name: str, body: dict[str, Any]) -> None:
    assert body["metadata"]["name"]
    kind = model.kind_by_api_version(body["apiVersion"], body["kind"])
    if kind is None:  # a kind the operator never touches, such as a Service
        assert body["kind"] == "Service" and body["apiVersion"] == "v1"
    elif name.startswith("klt-docs/"):  # KLT's own manifests, unchanged: some rely on -n
        assert kind.namespaced or "namespace" not in body["metadata"]
    else:
        assert ("namespace" in body["metadata"]) == kind.namespaced


def test_podtato_head_references_resolve() -> None:
    """Every task/evaluation named by the app context or a pod annotation exists, and so on down."""
    docs = [d for n, d in MANIFESTS if n.startswith("podtato-head/")]
    named = {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert all(d["metadata"].get("namespace", "podtato-kubectl") == "podtato-kubectl" for d in docs)
    context = next(d for d in docs if d["kind"] == "KeptnAppContext")["spec"]
    wanted = [
        ("KeptnTaskDefinition", t)
        for key in ("preDeploymentTasks", "postDeploymentTasks", "promotionTasks")
        for t in context[key]
    ]
    wanted += [
        ("KeptnEvaluationDefinition", e)
        for key in ("preDeploymentEvaluations", "postDeploymentEvaluations")
        for e in context[key]
    ]
    workloads = [d for d in docs if d["kind"] in {"Deployment", "StatefulSet"}]
    assert len(workloads) == 4
    for workload in workloads:
        meta = workload["spec"]["template"]["metadata"]
        keys = {**meta.get("labels", {}), **meta.get("annotations", {})}
        assert keys.get("keptn.sh/app", keys.get("app.kubernetes.io/part-of")) == "podtato-head"
        for key, kind in (
            ("tasks", "KeptnTaskDefinition"),
            ("evaluations", "KeptnEvaluationDefinition"),
        ):
            for phase in ("pre", "post"):
                value = keys.get(f"keptn.sh/{phase}-deployment-{key}", "")
                wanted += [(kind, n.strip()) for n in value.split(",") if n.strip()]
    for definition in (d for d in docs if d["kind"] == "KeptnEvaluationDefinition"):
        for objective in definition["spec"]["objectives"]:
            wanted.append(("KeptnMetric", objective["keptnMetricRef"]["name"]))
            parse_evaluation_target(objective["evaluationTarget"])
    for metric in (d for d in docs if d["kind"] == "KeptnMetric"):
        wanted.append(("KeptnMetricsProvider", metric["spec"]["provider"]["name"]))
    assert {w for w in wanted if w not in named} == set()
    app = next(d for d in docs if d["kind"] == "KeptnApp")
    app_workloads = {w["name"] for w in app["spec"]["workloads"]}
    annotated = set()
    for workload in workloads:
        meta = workload["spec"]["template"]["metadata"]
        keys = {**meta.get("labels", {}), **meta.get("annotations", {})}
        annotated.add(keys.get("keptn.sh/workload", keys.get("app.kubernetes.io/name")))
    assert app_workloads == annotated == {"frontend", "hat", "left-arm", "right-arm"}


def test_analysis_example_targets_parse_with_the_evaluator() -> None:
    definition = next(d for _, d in KEPTN_MANIFESTS if d["kind"] == "AnalysisDefinition")
    targets = [t for o in definition["spec"]["objectives"] for t in o.get("target", {}).values()]
    assert any("relative" in t for t in targets)
    for target in crdschema.apply_defaults(definition)["spec"]["objectives"][0]["target"].values():
        parse_target(target)
    for target in targets:
        parse_target(target)


# --- broken manifests ------------------------------------------------------------------------------


def _example(kind: str) -> dict[str, Any]:
    """The first example of ``kind``, podtato-head's first (the cases mutate its shape)."""
    found = [
        (not n.startswith("podtato-head/"), d) for n, d in KEPTN_MANIFESTS if d["kind"] == kind
    ]
    return copy.deepcopy(min(found, key=lambda pair: pair[0])[1])


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(body: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = body
        for part in parents:
            node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
        node[last] = value

    return mutate


def _delete(path: str) -> Callable[[dict[str, Any]], None]:
    def mutate(body: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = body
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        del node[last]

    return mutate


BROKEN: list[tuple[str, str, Callable[[dict[str, Any]], None], str]] = [
    (
        "negative retries",
        "KeptnTaskDefinition",
        _set("spec.retries", -1),
        "spec.retries: -1 is less than the minimum of 0",
    ),
    (
        "retries of wrong type",
        "KeptnTaskDefinition",
        _set("spec.retries", "ten"),
        "spec.retries: 'ten' is not of type 'integer'",
    ),
    (
        "timeout not a duration",
        "KeptnTaskDefinition",
        _set("spec.timeout", "5 minutes"),
        "spec.timeout: '5 minutes' is not a Go duration",
    ),
    # KLT's unanchored `^0|(...)+$` accepts this; ours does not.
    (
        "timeout with junk prefix",
        "KeptnTaskDefinition",
        _set("spec.timeout", "soon5m"),
        "spec.timeout: 'soon5m' is not a Go duration",
    ),
    (
        "two runtimes",
        "KeptnTaskDefinition",
        _set("spec.deno", {"inline": {"code": "x"}}),
        "spec: set exactly one of deno | python | container (found: deno, python)",
    ),
    (
        "no runtime",
        "KeptnTaskDefinition",
        _delete("spec.python"),
        "spec: set exactly one of deno | python | container (found: none)",
    ),
    (
        "inline without code",
        "KeptnTaskDefinition",
        _set("spec.python.inline", {}),
        "spec.python.inline.code: Required value",
    ),
    (
        "typo in a field name",
        "KeptnTaskDefinition",
        _set("spec.retires", 3),
        "spec.retires: unknown field",
    ),
    ("app without version", "KeptnApp", _delete("spec.version"), "spec.version: Required value"),
    (
        "workload entry without version",
        "KeptnApp",
        _delete("spec.workloads.1.version"),
        "spec.workloads[1].version: Required value",
    ),
    (
        "revision not a number",
        "KeptnApp",
        _set("spec.revision", "2"),
        "spec.revision: '2' is not of type 'integer'",
    ),
    (
        "bad span link",
        "KeptnAppContext",
        _set("spec.spanLinks", ["not-a-traceparent"]),
        "spec.spanLinks[0]: 'not-a-traceparent' does not match",
    ),
    (
        "evaluation target <=",
        "KeptnEvaluationDefinition",
        _set("spec.objectives.0.evaluationTarget", "<=5"),
        "spec.objectives[0].evaluationTarget: '<=5' does not match",
    ),
    (
        "no objectives",
        "KeptnEvaluationDefinition",
        _set("spec.objectives", []),
        "spec.objectives: [] should be non-empty",
    ),
    (
        "metric ref without name",
        "KeptnEvaluationDefinition",
        _delete("spec.objectives.0.keptnMetricRef.name"),
        "spec.objectives[0].keptnMetricRef.name: Required value",
    ),
    (
        "bad retryInterval",
        "KeptnEvaluationDefinition",
        _set("spec.retryInterval", "5"),
        "spec.retryInterval: '5' is not a Go duration of at least 1s",
    ),
    (
        "unknown provider type",
        "KeptnMetricsProvider",
        _set("spec.type", "influx"),
        "spec.type: 'influx' is not one of",
    ),
    (
        "provider without server",
        "KeptnMetricsProvider",
        _delete("spec.targetServer"),
        "spec.targetServer: Required value",
    ),
    (
        "bad aggregation",
        "KeptnMetric",
        _set("spec.range.aggregation", "p42"),
        "spec.range.aggregation: 'p42' is not one of",
    ),
    (
        "too many stored results",
        "KeptnMetric",
        _set("spec.range.storedResults", 256),
        "spec.range.storedResults: 256 is greater than the maximum of 255",
    ),
    (
        "zero fetch interval",
        "KeptnMetric",
        _set("spec.fetchIntervalSeconds", 0),
        "spec.fetchIntervalSeconds: 0 is less than the minimum of 1",
    ),
    (
        "pass percentage over 100",
        "AnalysisDefinition",
        _set("spec.totalScore.passPercentage", 101),
        "spec.totalScore.passPercentage: 101 is greater than the maximum of 100",
    ),
    (
        "two operators",
        "AnalysisDefinition",
        _set("spec.objectives.0.target.failure.lessThan", {"fixedValue": 1}),
        "spec.objectives[0].target.failure: set only one of these fields (found: greaterThan, lessThan)",
    ),
    (
        "empty operator",
        "AnalysisDefinition",
        _set("spec.objectives.1.target.failure", {}),
        "spec.objectives[1].target.failure: set one field (found none)",
    ),
    (
        "bad quantity",
        "AnalysisDefinition",
        _set("spec.objectives.0.target.failure.greaterThan.fixedValue", "fast"),
        "spec.objectives[0].target.failure.greaterThan.fixedValue: 'fast' does not match",
    ),
    (
        "relative with percent and absolute",
        "AnalysisDefinition",
        _set("spec.objectives.0.target.warning.relative.absolute", 5),
        "spec.objectives[0].target.warning.relative: set exactly one of percent | absolute (found: absolute, percent)",
    ),
    (
        "relative operator ==",
        "AnalysisDefinition",
        _set("spec.objectives.0.target.warning.relative.operator", "=="),
        "spec.objectives[0].target.warning.relative.operator: '==' is not one of",
    ),
    (
        "relative lookback 0",
        "AnalysisDefinition",
        _set("spec.objectives.0.target.warning.relative.lookback", 0),
        "spec.objectives[0].target.warning.relative.lookback: 0 is less than the minimum of 1",
    ),
    (
        "relative include typo",
        "AnalysisDefinition",
        _set("spec.objectives.0.target.warning.relative.include", "passed"),
        "spec.objectives[0].target.warning.relative.include: 'passed' is not one of",
    ),
    (
        "noData unknown",
        "AnalysisDefinition",
        _set("spec.objectives.1.noData", "explode"),
        "spec.objectives[1].noData: 'explode' is not one of",
    ),
    (
        "informational not bool",
        "AnalysisDefinition",
        _set("spec.objectives.2.informational", "yes"),
        "spec.objectives[2].informational: 'yes' is not of type 'boolean'",
    ),
    (
        "recent and from",
        "Analysis",
        _set("spec.timeframe.from", "2026-01-01T00:00:00Z"),
        "spec.timeframe: set exactly one of recent | from+to (found: from, recent)",
    ),
    ("no timeframe", "Analysis", _delete("spec.timeframe"), "spec.timeframe: Required value"),
    (
        "bad analysis state",
        "Analysis",
        _set("status.state", "Done"),
        "status.state: 'Done' is not one of",
    ),
    (
        "blockDeployment a string",
        "KeptnConfig",
        _set("spec.blockDeployment", "yes"),
        "spec.blockDeployment: 'yes' is not of type 'boolean'",
    ),
    (
        "negative definition wait",
        "KeptnConfig",
        _set("spec.definitionWaitSeconds", -1),
        "spec.definitionWaitSeconds: -1 is less than the minimum of 0",
    ),
    (
        "bad observability timeout",
        "KeptnConfig",
        _set("spec.observabilityTimeout", "forever"),
        "spec.observabilityTimeout: 'forever' is not a Go duration",
    ),
]


@pytest.mark.parametrize(("case", "kind", "mutate", "expected"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_manifest_is_rejected_naming_the_field(
    case: str, kind: str, mutate: Callable[[dict[str, Any]], None], expected: str
) -> None:
    body = _example(kind)
    assert crdschema.validate(body) == []
    mutate(body)
    errors = crdschema.validate(body)
    assert any(e.startswith(expected) for e in errors), errors


def _body(
    kind: str, spec: dict[str, Any] | None = None, status: dict[str, Any] | None = None
) -> dict[str, Any]:
    resource = {k.kind: k for k in model.ALL_KINDS}[kind]
    body: dict[str, Any] = {
        "apiVersion": resource.api_version,
        "kind": kind,
        "metadata": {"name": "x", "namespace": "ns"},
    }
    if spec is not None:
        body["spec"] = spec
    if status is not None:
        body["status"] = status
    return body


@pytest.mark.parametrize(
    ("kind", "spec", "status", "expected"),
    [
        (
            "KeptnTask",
            {"context": {"appName": "a", "objectType": "App"}},
            None,
            "spec.taskDefinition: Required value",
        ),
        (
            "KeptnTask",
            {"taskDefinition": "t", "context": {"appName": "a", "objectType": "Pod"}},
            None,
            "spec.context.objectType: 'Pod' is not one of",
        ),
        (
            "KeptnTask",
            {
                "taskDefinition": "t",
                "context": {"appName": "a", "objectType": "App"},
                "checkType": "during",
            },
            None,
            "spec.checkType: 'during' is not one of",
        ),
        (
            "KeptnWorkload",
            {"app": "a", "version": "1", "resourceReference": {"kind": "ReplicaSet", "name": "r"}},
            None,
            "spec.resourceReference.uid: Required value",
        ),
        (
            "KeptnAppVersion",
            {"appName": "a", "version": "1"},
            {"status": "Done"},
            "status.status: 'Done' is not one of",
        ),
        (
            "KeptnAppVersion",
            {"appName": "a", "version": "1"},
            {"phaseTraceIDs": {"AppPreDeployTasks": {"traceparent": 1}}},
            "status.phaseTraceIDs.AppPreDeployTasks.traceparent: 1 is not of type 'string'",
        ),
        (
            "KeptnWorkloadVersion",
            {
                "app": "a",
                "version": "1",
                "resourceReference": {"uid": "u", "kind": "ReplicaSet", "name": "r"},
            },
            None,
            "spec.workloadName: Required value",
        ),
        (
            "KeptnEvaluation",
            {"workloadVersion": "1", "evaluationDefinition": "e"},
            {"evaluationStatus": {"m": {"value": "1"}}},
            "status.evaluationStatus.m.status: Required value",
        ),
        ("KeptnAppCreationRequest", {}, None, "spec.appName: Required value"),
        ("KeptnApp", None, None, "spec: Required value"),
    ],
)
def test_broken_body_is_rejected_naming_the_field(
    kind: str, spec: dict[str, Any] | None, status: dict[str, Any] | None, expected: str
) -> None:
    errors = crdschema.validate(_body(kind, spec, status))
    assert any(e.startswith(expected) for e in errors), errors


def test_unknown_kind_is_an_error() -> None:
    assert crdschema.validate({"apiVersion": "lifecycle.keptn.sh/v1", "kind": "KeptnNothing"}) == [
        "kind: no CustomResourceDefinition serves lifecycle.keptn.sh/v1 KeptnNothing"
    ]


def test_free_form_fields_accept_anything() -> None:
    body = _body(
        "KeptnTaskDefinition",
        {"container": {"name": "c", "image": "i", "resources": {"limits": {"memory": "1Gi"}}}},
    )
    body["metadata"]["labels"] = {"anything": "goes"}
    assert crdschema.validate(body) == []


# --- defaults ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "spec", "status", "section", "expected"),
    [
        (
            "KeptnTaskDefinition",
            {"python": {"inline": {"code": "x"}}},
            None,
            "spec",
            {"retries": 10, "timeout": "5m", "ttlSecondsAfterFinished": 300},
        ),
        (
            "KeptnTask",
            {"taskDefinition": "t", "context": {"appName": "a", "objectType": "App"}},
            None,
            "spec",
            {"retries": 10, "timeout": "5m"},
        ),
        (
            "KeptnEvaluationDefinition",
            {"objectives": []},
            None,
            "spec",
            {"retries": 10, "retryInterval": "5s"},
        ),
        (
            "KeptnEvaluation",
            {"workloadVersion": "1", "evaluationDefinition": "e"},
            None,
            "spec",
            {"retries": 10, "retryInterval": "5s"},
        ),
        (
            "KeptnEvaluation",
            {},
            {},
            "status",
            {"retryCount": 0, "evaluationStatus": {}, "overallStatus": "Pending"},
        ),
        ("KeptnApp", {"version": "1"}, None, "spec", {"revision": 1}),
        (
            "KeptnConfig",
            {},
            None,
            "spec",
            {
                "blockDeployment": True,
                "observabilityTimeout": "5m",
                "restApiEnabled": False,
                "keptnAppCreationRequestTimeoutSeconds": 30,
                "definitionWaitSeconds": 30,
            },
        ),
        (
            "KeptnMetricsProvider",
            {"type": "prometheus", "targetServer": "u"},
            None,
            "spec",
            {"insecureSkipTlsVerify": False},
        ),
        (
            "KeptnMetric",
            {"range": {}},
            None,
            "spec",
            {"range": {"interval": "5m"}, "fetchIntervalSeconds": 10},
        ),
        ("Analysis", {}, {}, "status", {"state": "Pending"}),
        ("KeptnTask", {}, {}, "status", {"status": "Pending"}),
        (
            "KeptnWorkloadVersion",
            {},
            {},
            "status",
            {
                s: "Pending"
                for s in (
                    "preDeploymentStatus",
                    "preDeploymentEvaluationStatus",
                    "deploymentStatus",
                    "postDeploymentStatus",
                    "postDeploymentEvaluationStatus",
                    "status",
                )
            },
        ),
        (
            "KeptnAppVersion",
            {},
            {"preDeploymentTaskStatus": [{"definitionName": "d"}], "workloadStatus": [{}]},
            "status",
            {
                **{
                    s: "Pending"
                    for s in (
                        "preDeploymentStatus",
                        "preDeploymentEvaluationStatus",
                        "workloadOverallStatus",
                        "postDeploymentStatus",
                        "postDeploymentEvaluationStatus",
                        "promotionStatus",
                        "status",
                    )
                },
                "preDeploymentTaskStatus": [{"definitionName": "d", "status": "Pending"}],
                "workloadStatus": [{"status": "Pending"}],
            },
        ),
    ],
)
def test_defaults_are_applied(
    kind: str,
    spec: dict[str, Any],
    status: dict[str, Any] | None,
    section: str,
    expected: dict[str, Any],
) -> None:
    body = _body(kind, spec, status)
    before = copy.deepcopy(body)
    defaulted = crdschema.apply_defaults(body)
    assert body == before, "input must not be mutated"
    assert {k: defaulted[section][k] for k in expected} == expected


def test_analysis_objective_and_relative_defaults() -> None:
    objective = {
        "analysisValueTemplateRef": {"name": "t"},
        "target": {"failure": {"relative": {"operator": ">", "percent": 10}}},
    }
    body = _body(
        "AnalysisDefinition",
        {"objectives": [objective], "totalScore": {"passPercentage": 90, "warningPercentage": 70}},
    )
    got = crdschema.apply_defaults(body)["spec"]["objectives"][0]
    assert {k: got[k] for k in ("weight", "keyObjective", "noData", "informational")} == {
        "weight": 1,
        "keyObjective": False,
        "noData": "fail",
        "informational": False,
    }
    assert got["target"]["failure"]["relative"] == {
        "operator": ">",
        "percent": 10,
        "aggregation": "avg",
        "lookback": 3,
        "include": "pass",
    }
    assert crdschema.validate(body) == []


def test_defaults_never_override_given_values_and_absent_sections_stay_absent() -> None:
    body = _body(
        "KeptnTaskDefinition", {"python": {"inline": {"code": "x"}}, "retries": 0, "timeout": "1s"}
    )
    defaulted = crdschema.apply_defaults(body)
    assert defaulted["spec"]["retries"] == 0 and defaulted["spec"]["timeout"] == "1s"
    assert "status" not in defaulted


def test_unknown_kind_is_copied_unchanged() -> None:
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {}}
    copied = crdschema.apply_defaults(body)
    assert copied == body and copied is not body


# --- loading and the kind table ----------------------------------------------------------------


def test_load_crds_skips_non_crd_documents(tmp_path: Path) -> None:
    crd_file = CRD_FILES[0]
    (tmp_path / "a.yaml").write_text(crd_file.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "kustomization.yaml").write_text(
        "kind: Kustomization\nresources: [a.yaml]\n", encoding="utf-8"
    )
    loaded = schemas.load_crds(tmp_path)
    assert [c["metadata"]["name"] for c in loaded] == [
        yaml.safe_load(crd_file.read_text(encoding="utf-8"))["metadata"]["name"]
    ]
    only = schemas.SchemaSet.from_crds(loaded)
    served = yaml.safe_load(crd_file.read_text(encoding="utf-8"))["spec"]["versions"]
    assert len(only.schemas) == len(served)  # one schema per served version
    assert len(schemas.load_crds()) == 18 and schemas.CRD_DIR.is_dir()


def test_kind_table() -> None:
    assert model.kind_by_api_version("lifecycle.keptn.sh/v1", "KeptnWorkloadVersion") is (
        model.KEPTN_WORKLOAD_VERSION
    )
    assert model.KEPTN_WORKLOAD_VERSION.api_version == "lifecycle.keptn.sh/v1"
    assert model.KEPTN_CONFIG.api_version == "options.keptn.sh/v1alpha1"
    assert model.POD.api_version == "v1" and model.POD not in model.CRD_KINDS
    assert model.JOB.api_version == "batch/v1" and model.LEASE.group == "coordination.k8s.io"
    assert not model.NAMESPACE.namespaced
    assert model.kind_by_api_version("apps/v1", "StatefulSet") is model.STATEFUL_SET
    assert model.kind_by_api_version("apps/v1beta1", "StatefulSet") is None
    assert len({k.kind for k in model.ALL_KINDS}) == len(model.ALL_KINDS)
    assert model.kind_by_api_version("v1", "Nothing") is None


# --- the TypedDicts of lifecycle.core.bodies mirror the schemas ---------------------------------

TYPED_VIEWS: list[tuple[Any, str, str]] = [
    (bodies.KeptnAppSpec, "KeptnApp", ".spec"),
    (bodies.KeptnAppStatus, "KeptnApp", ".status"),
    (bodies.KeptnAppContextSpec, "KeptnAppContext", ".spec"),
    (bodies.KeptnAppVersionSpec, "KeptnAppVersion", ".spec"),
    (bodies.KeptnAppVersionStatus, "KeptnAppVersion", ".status"),
    (bodies.ItemStatus, "KeptnAppVersion", ".status.preDeploymentTaskStatus[]"),
    (bodies.KeptnWorkloadSpec, "KeptnWorkload", ".spec"),
    (bodies.KeptnWorkloadStatus, "KeptnWorkload", ".status"),
    (bodies.KeptnWorkloadVersionSpec, "KeptnWorkloadVersion", ".spec"),
    (bodies.KeptnWorkloadVersionStatus, "KeptnWorkloadVersion", ".status"),
    (bodies.KeptnTaskDefinitionSpec, "KeptnTaskDefinition", ".spec"),
    (bodies.KeptnTaskDefinitionStatus, "KeptnTaskDefinition", ".status"),
    (bodies.RuntimeSpec, "KeptnTaskDefinition", ".spec.python"),
    (bodies.KeptnTaskSpec, "KeptnTask", ".spec"),
    (bodies.TaskContext, "KeptnTask", ".spec.context"),
    (bodies.KeptnTaskStatus, "KeptnTask", ".status"),
    (bodies.KeptnEvaluationDefinitionSpec, "KeptnEvaluationDefinition", ".spec"),
    (bodies.KeptnEvaluationSpec, "KeptnEvaluation", ".spec"),
    (bodies.KeptnEvaluationStatus, "KeptnEvaluation", ".status"),
    (bodies.EvaluationStatusItem, "KeptnEvaluation", ".status.evaluationStatus.*"),
    (bodies.KeptnConfigSpec, "KeptnConfig", ".spec"),
    (bodies.KeptnMetricsProviderSpec, "KeptnMetricsProvider", ".spec"),
    (bodies.KeptnMetricSpec, "KeptnMetric", ".spec"),
    (bodies.KeptnMetricStatus, "KeptnMetric", ".status"),
    (bodies.AnalysisValueTemplateSpec, "AnalysisValueTemplate", ".spec"),
    (bodies.AnalysisDefinitionSpec, "AnalysisDefinition", ".spec"),
    (evaluator_bodies.ObjectiveBody, "AnalysisDefinition", ".spec.objectives[]"),
    (evaluator_bodies.OperatorBody, "AnalysisDefinition", ".spec.objectives[].target.failure"),
    (
        evaluator_bodies.RelativeBody,
        "AnalysisDefinition",
        ".spec.objectives[].target.failure.relative",
    ),
    (evaluator_bodies.TargetBody, "AnalysisDefinition", ".spec.objectives[].target"),
    (evaluator_bodies.MetricRangeBody, "KeptnMetric", ".spec.range"),
    (bodies.AnalysisSpec, "Analysis", ".spec"),
    (bodies.AnalysisStatus, "Analysis", ".status"),
]


@pytest.mark.parametrize(
    ("view", "kind", "path"), TYPED_VIEWS, ids=[v[0].__name__ for v in TYPED_VIEWS]
)
def test_typed_view_has_the_schema_fields(view: Any, kind: str, path: str) -> None:
    node = dict(_nodes(_schema(kind)))[path]
    assert set(view.__required_keys__ | view.__optional_keys__) == set(node["properties"])
