"""The pod mutator: which pods are managed, their keys, version, gate, KeptnWorkload and app request."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from lifecycle.admission.pod import (
    GATE_NAME,
    VersionError,
    calculate_version,
    image_tag,
    label_or_annotation,
    parse_metadata,
    plan_pod,
)
from lifecycle.admission.webhook import PodMutator
from tests.admission.conftest import MemoryStore, apply_patch, decode_patch

NS = "demo"


def owner(kind: str, name: str, uid: str, api: str = "apps/v1") -> dict[str, Any]:
    return {"apiVersion": api, "kind": kind, "name": name, "uid": uid, "controller": True}


def pod(
    *,
    owners: list[dict[str, Any]] | None = None,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    containers: list[dict[str, Any]] | None = None,
    gates: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"generateName": "web-", "namespace": NS}
    if owners is not None:
        meta["ownerReferences"] = owners
    if labels is not None:
        meta["labels"] = labels
    if annotations is not None:
        meta["annotations"] = annotations
    spec: dict[str, Any] = {"containers": containers or [{"name": "web", "image": "nginx:1.25"}]}
    if gates is not None:
        spec["schedulingGates"] = gates
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def review(obj: dict[str, Any], operation: str = "CREATE", **extra: Any) -> dict[str, Any]:
    request = {"uid": "req-1", "operation": operation, "namespace": NS, "object": obj, **extra}
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}


def meta_of(
    kind: str,
    name: str,
    *,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    owners: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": NS, "uid": f"{name}-uid"}
    if labels:
        meta["labels"] = labels
    if annotations:
        meta["annotations"] = annotations
    if owners:
        meta["ownerReferences"] = owners
    return {"kind": kind, "metadata": meta}


@pytest.fixture
def enabled(store: MemoryStore) -> MemoryStore:
    store.put(
        "Namespace",
        {"metadata": {"name": NS, "annotations": {"keptn.sh/lifecycle-toolkit": "enabled"}}},
    )
    return store


_OWNER_KINDS = ("ReplicaSet", "StatefulSet", "DaemonSet", "Deployment", "Rollout")


def genuine(store: MemoryStore, obj: dict[str, Any]) -> None:
    """Make the cluster agree with ``obj`` as the API server would: its owners exist with the uids
    it names and their template is the pod's (the webhook confirms owners, lifecycle/webhook_owner)."""
    meta = obj.get("metadata") or {}
    refs = [r for r in meta.get("ownerReferences") or () if r.get("kind") in _OWNER_KINDS]
    if not refs:
        return
    ref = refs[-1]
    key = (ref["kind"], NS, ref["name"])
    body = store.objects.get(key) or meta_of(ref["kind"], ref["name"])
    body["metadata"]["uid"] = ref["uid"]
    tmeta = {k: dict(meta[k]) for k in ("labels", "annotations") if k in meta}
    body.setdefault("spec", {})["template"] = {"metadata": tmeta, "spec": obj["spec"]}
    store.objects[key] = body
    for parent_ref in body["metadata"].get("ownerReferences") or ():
        parent = store.objects.get((parent_ref["kind"], NS, parent_ref["name"]))
        if parent is not None:
            parent["metadata"]["uid"] = parent_ref["uid"]


class GenuineMutator:
    """The PodMutator, each review's owners made genuine first (see ``genuine``)."""

    def __init__(self, store: MemoryStore, inner: PodMutator) -> None:
        self.store, self.inner = store, inner

    async def review(self, body: dict[str, Any]) -> dict[str, Any]:
        obj = body.get("request", {}).get("object")
        if isinstance(obj, dict) and isinstance(obj.get("spec"), dict):
            genuine(self.store, obj)
        return await self.inner.review(body)


def mutator(
    store: MemoryStore, spans: tuple[TracerProvider, InMemorySpanExporter]
) -> GenuineMutator:
    return GenuineMutator(store, PodMutator(store=store, tracer=spans[0].get_tracer("test")))


RS = owner("ReplicaSet", "web-7d9", "rs-uid")
KEYS = {"keptn.sh/workload": "web", "keptn.sh/version": "1.0.0", "keptn.sh/app": "shop"}

# name, pod, extra objects in the store, expected: None = untouched, else (workload name, version, resourceReference kind)
CASES: list[tuple[str, dict[str, Any], list[dict[str, Any]], tuple[str, str, str] | None]] = [
    ("bare pod", pod(annotations=KEYS), [], None),
    ("job pod", pod(owners=[owner("Job", "j", "job-uid", "batch/v1")], annotations=KEYS), [], None),
    (
        "rs pod without keys anywhere",
        pod(owners=[RS]),
        [
            meta_of("ReplicaSet", "web-7d9", owners=[owner("Deployment", "web", "dep-uid")]),
            meta_of("Deployment", "web"),
        ],
        None,
    ),
    (
        "annotated pod of a replicaset",
        pod(owners=[RS], annotations=KEYS),
        [],
        ("shop-web", "1.0.0", "ReplicaSet"),
    ),
    (
        "keys from the deployment",
        pod(owners=[RS]),
        [
            meta_of("ReplicaSet", "web-7d9", owners=[owner("Deployment", "web", "dep-uid")]),
            meta_of(
                "Deployment",
                "web",
                labels={
                    "app.kubernetes.io/name": "web",
                    "app.kubernetes.io/part-of": "shop",
                    "app.kubernetes.io/version": "2.0",
                },
            ),
        ],
        ("shop-web", "2.0", "ReplicaSet"),
    ),
    (
        "bare replicaset is not followed",
        pod(owners=[RS]),
        [meta_of("ReplicaSet", "web-7d9", annotations=KEYS)],
        None,
    ),
    (
        "statefulset labels with fallbacks",
        pod(
            owners=[owner("StatefulSet", "db", "sts-uid")],
            labels={
                "app.kubernetes.io/name": "db",
                "app.kubernetes.io/part-of": "shop",
                "app.kubernetes.io/version": "V3",
            },
        ),
        [],
        ("shop-db", "v3", "StatefulSet"),
    ),
    (
        "keys from the daemonset",
        pod(owners=[owner("DaemonSet", "agent", "ds-uid")]),
        [
            meta_of(
                "DaemonSet",
                "agent",
                annotations={"keptn.sh/workload": "agent", "keptn.sh/app": "ops"},
            )
        ],
        ("ops-agent", "1.25", "DaemonSet"),
    ),
    (
        "last supported owner wins",
        pod(owners=[owner("StatefulSet", "db", "sts-uid"), RS], annotations=KEYS),
        [],
        ("shop-web", "1.0.0", "ReplicaSet"),
    ),
]


@pytest.mark.parametrize(("name", "obj", "objects", "expected"), CASES, ids=[c[0] for c in CASES])
async def test_mutation_table(
    enabled: MemoryStore,
    spans: Any,
    name: str,
    obj: dict[str, Any],
    objects: list[dict[str, Any]],
    expected: tuple[str, str, str] | None,
) -> None:
    for item in objects:
        enabled.put(item["kind"], item)
    answer = await mutator(enabled, spans).review(review(obj))
    assert answer["response"]["uid"] == "req-1"
    assert answer["response"]["allowed"] is True
    ops = decode_patch(answer)
    if expected is None:
        assert ops == []
        assert enabled.created == []
        return
    workload_name, version, ref_kind = expected
    mutated = apply_patch(obj, ops)
    assert mutated["spec"]["schedulingGates"] == [{"name": GATE_NAME}]
    workloads = [b for b in enabled.created if b["kind"] == "KeptnWorkload"]
    assert [w["metadata"]["name"] for w in workloads] == [workload_name]
    spec = workloads[0]["spec"]
    assert spec["version"] == version
    assert spec["resourceReference"]["kind"] == ref_kind
    assert workloads[0]["metadata"]["ownerReferences"][0]["kind"] == ref_kind
    assert spec["resourceReference"]["uid"] == workloads[0]["metadata"]["ownerReferences"][0]["uid"]
    workload_key = label_or_annotation(
        mutated["metadata"], "keptn.sh/workload", "app.kubernetes.io/name"
    )
    assert workload_key == workload_name.split("-", 1)[1]


async def test_namespace_not_enabled_is_untouched(store: MemoryStore, spans: Any) -> None:
    store.put("Namespace", {"metadata": {"name": NS}})
    answer = await mutator(store, spans).review(review(pod(owners=[RS], annotations=KEYS)))
    assert answer["response"]["allowed"] is True
    assert decode_patch(answer) == []
    assert store.created == []
    assert store.reads == [("Namespace", None, NS)]  # nothing else read for a disabled namespace


async def test_namespace_enabled_by_label(store: MemoryStore, spans: Any) -> None:
    store.put(
        "Namespace", {"metadata": {"name": NS, "labels": {"keptn.sh/lifecycle-toolkit": "enabled"}}}
    )
    answer = await mutator(store, spans).review(review(pod(owners=[RS], annotations=KEYS)))
    assert decode_patch(answer) != []


async def test_keys_from_deployment_are_copied_and_rs_is_referenced(
    enabled: MemoryStore, spans: Any
) -> None:
    enabled.put(
        "ReplicaSet",
        meta_of("ReplicaSet", "web-7d9", owners=[owner("Deployment", "web", "dep-uid")]),
    )
    enabled.put(
        "Deployment",
        meta_of(
            "Deployment",
            "web",
            annotations={
                "keptn.sh/workload": "web",
                "keptn.sh/app": "shop",
                "keptn.sh/version": "1.2",
                "keptn.sh/pre-deployment-tasks": "notify, migrate",
                "keptn.sh/post-deployment-evaluations": "slo",
                "keptn.sh/metadata": "commit=abc,team=blue,broken",
            },
        ),
    )
    original = pod(owners=[RS], labels={"pod-template-hash": "7d9"})
    answer = await mutator(enabled, spans).review(review(original))
    mutated = apply_patch(original, decode_patch(answer))
    annotations = mutated["metadata"]["annotations"]
    assert annotations["keptn.sh/pre-deployment-tasks"] == "notify, migrate"
    assert annotations["keptn.sh/app"] == "shop"
    workload = enabled.objects[("KeptnWorkload", NS, "shop-web")]
    assert workload["spec"]["preDeploymentTasks"] == ["notify", "migrate"]
    assert workload["spec"]["postDeploymentEvaluations"] == ["slo"]
    assert workload["spec"]["metadata"] == {"commit": "abc", "team": "blue"}
    assert workload["spec"]["resourceReference"] == {
        "uid": "rs-uid",
        "kind": "ReplicaSet",
        "name": "web-7d9",
    }
    request = enabled.objects[("KeptnAppCreationRequest", NS, "shop")]
    assert request["metadata"]["annotations"]["keptn.sh/app-type"] == "multi-service"
    assert request["spec"] == {"appName": "shop"}


async def test_single_service_app(enabled: MemoryStore, spans: Any) -> None:
    original = pod(
        owners=[RS], annotations={"keptn.sh/workload": "Cart_Svc", "keptn.sh/version": "1"}
    )
    answer = await mutator(enabled, spans).review(review(original))
    mutated = apply_patch(original, decode_patch(answer))
    assert mutated["metadata"]["annotations"]["keptn.sh/app"] == "Cart_Svc"
    request = enabled.objects[("KeptnAppCreationRequest", NS, "cart-svc")]
    assert request["metadata"]["annotations"]["keptn.sh/app-type"] == "single-service"
    assert ("KeptnWorkload", NS, "cart-svc-cart-svc") in enabled.objects


async def test_trace_carrier_and_spans(enabled: MemoryStore, spans: Any) -> None:
    await mutator(enabled, spans).review(review(pod(owners=[RS], annotations=KEYS)))
    workload = enabled.objects[("KeptnWorkload", NS, "shop-web")]
    traceparent = workload["metadata"]["annotations"]["traceparent"]
    finished = {s.name: s for s in spans[1].get_finished_spans()}
    assert set(finished) == {"annotate_pod", "create_workload", "create_app"}
    root = finished["annotate_pod"]
    assert root.parent is None
    assert traceparent.split("-")[1] == f"{root.context.trace_id:032x}"
    assert finished["create_workload"].parent.span_id == root.context.span_id


@pytest.mark.parametrize(
    ("meta", "expected"),
    [
        ({"annotations": {"k": "a"}, "labels": {"k": "b", "f": "c"}}, "a"),
        ({"annotations": {"f": "c"}, "labels": {"k": "b"}}, "b"),
        ({"annotations": {"f": "c", "k": ""}, "labels": {"f": "d"}}, "c"),
        ({"labels": {"f": "d"}}, "d"),
        ({}, None),
    ],
)
def test_lookup_order(meta: dict[str, Any], expected: str | None) -> None:
    assert label_or_annotation(meta, "k", "f") == expected


@pytest.mark.parametrize(
    ("containers", "container_key", "expected"),
    [
        ([{"name": "web", "image": "nginx:1.25"}], "", "1.25"),
        ([{"name": "web", "image": "registry:5000/nginx"}], "", "4115028330"),
        ([{"name": "web", "image": "nginx:latest"}], "", "4153422400"),
        ([{"name": "a", "image": ""}], "", "3826002220"),  # FNV-32a("a")
        ([{"name": "a", "image": "x:1"}, {"name": "b", "image": "y:2"}], "b", "2"),
        ([{"name": "a", "image": "x:1"}, {"name": "b", "image": "y:2"}], "", "597293740"),
        (
            [
                {"name": "a", "image": "x:1", "env": [{"name": "E", "value": "v"}]},
                {"name": "b", "image": "y"},
            ],
            "",
            "1289115951",
        ),
    ],
)
def test_version(containers: list[dict[str, Any]], container_key: str, expected: str) -> None:
    assert calculate_version({"spec": {"containers": containers}}, container_key) == expected


def _fnv(text: str) -> str:
    h = 2166136261
    for b in text.encode():
        h = ((h ^ b) * 16777619) % 2**32
    return str(h)


def test_version_hash_matches_reference_fnv() -> None:
    containers = [
        {"name": "a", "image": "x:1", "env": [{"name": "E", "value": "v"}]},
        {"name": "b", "image": "y"},
    ]
    assert calculate_version({"spec": {"containers": containers}}) == _fnv("ax:1Evby")


def test_version_named_container_missing() -> None:
    with pytest.raises(VersionError, match="does not match any containers in the pod"):
        calculate_version({"spec": {"containers": [{"name": "a"}, {"name": "b"}]}}, "c")


async def test_container_naming_no_container_is_admitted_with_warning(
    enabled: MemoryStore, spans: Any
) -> None:
    obj = pod(owners=[RS], annotations={"keptn.sh/workload": "web", "keptn.sh/container": "nope"})
    answer = await mutator(enabled, spans).review(review(obj))
    assert answer["response"]["allowed"] is True
    assert any(
        "'nope' specified in keptn.sh/container" in w for w in answer["response"]["warnings"]
    )
    version = apply_patch(obj, decode_patch(answer))["metadata"]["annotations"]["keptn.sh/version"]
    assert version == calculate_version(obj)


async def test_version_from_named_container_tag(enabled: MemoryStore, spans: Any) -> None:
    obj = pod(
        owners=[RS],
        annotations={"keptn.sh/workload": "web", "keptn.sh/container": "app"},
        containers=[
            {"name": "sidecar", "image": "envoy:1"},
            {"name": "app", "image": "shop/web:V2.1@sha256:ab"},
        ],
    )
    answer = await mutator(enabled, spans).review(review(obj))
    assert (
        apply_patch(obj, decode_patch(answer))["metadata"]["annotations"]["keptn.sh/version"]
        == "V2.1"
    )
    assert enabled.objects[("KeptnWorkload", NS, "web-web")]["spec"]["version"] == "v2.1"


async def test_gate_removed_marker_leaves_pod_alone(enabled: MemoryStore, spans: Any) -> None:
    obj = pod(owners=[RS], annotations={**KEYS, "keptn.sh/scheduling-gate-removed": "true"})
    answer = await mutator(enabled, spans).review(review(obj, "UPDATE"))
    assert answer["response"]["allowed"] is True
    assert decode_patch(answer) == []
    assert enabled.created == [] and enabled.updated == []
    assert enabled.reads == []  # decided from the marker alone: nothing read, nothing traced
    assert spans[1].get_finished_spans() == ()


async def test_update_never_adds_a_gate(enabled: MemoryStore, spans: Any) -> None:
    obj = pod(owners=[RS], annotations=KEYS)
    answer = await mutator(enabled, spans).review(review(obj, "UPDATE"))
    assert "schedulingGates" not in apply_patch(obj, decode_patch(answer))["spec"]


async def test_other_gates_are_kept(enabled: MemoryStore, spans: Any) -> None:
    obj = pod(owners=[RS], annotations=KEYS, gates=[{"name": "other"}])
    answer = await mutator(enabled, spans).review(review(obj))
    assert apply_patch(obj, decode_patch(answer))["spec"]["schedulingGates"] == [
        {"name": "other"},
        {"name": GATE_NAME},
    ]


async def test_annotation_keys_with_slash_are_escaped(enabled: MemoryStore, spans: Any) -> None:
    obj = pod(
        owners=[RS], annotations={"keptn.sh/workload": "web", "keptn.sh/version": "1", "x": "y"}
    )
    ops = decode_patch(await mutator(enabled, spans).review(review(obj)))
    assert {"op": "add", "path": "/metadata/annotations/keptn.sh~1app", "value": "web"} in ops
    assert apply_patch(obj, ops)["metadata"]["annotations"]["x"] == "y"


async def test_dry_run_writes_nothing(enabled: MemoryStore, spans: Any) -> None:
    answer = await mutator(enabled, spans).review(
        review(pod(owners=[RS], annotations=KEYS), dryRun=True)
    )
    assert decode_patch(answer) != []
    assert enabled.created == []


async def test_workload_updated_only_when_changed(enabled: MemoryStore, spans: Any) -> None:
    m = mutator(enabled, spans)
    await m.review(review(pod(owners=[RS], annotations=KEYS)))
    await m.review(review(pod(owners=[RS], annotations=KEYS)))
    assert enabled.updated == []
    new_rs = owner("ReplicaSet", "web-8aa", "rs2-uid")
    await m.review(review(pod(owners=[new_rs], annotations={**KEYS, "keptn.sh/version": "1.1.0"})))
    [updated] = enabled.updated
    assert updated["spec"]["version"] == "1.1.0"
    assert updated["spec"]["resourceReference"]["uid"] == "rs2-uid"
    assert updated["metadata"]["ownerReferences"][0]["uid"] == "rs2-uid"
    assert updated["metadata"]["resourceVersion"] == "2"  # accepted: it carried the version read
    assert [b["kind"] for b in enabled.created] == ["KeptnWorkload", "KeptnAppCreationRequest"]


async def test_write_failure_still_gates_and_reports(enabled: MemoryStore, spans: Any) -> None:
    enabled.fail = {"KeptnWorkload"}
    obj = pod(owners=[RS], annotations=KEYS)
    answer = await mutator(enabled, spans).review(review(obj))
    assert answer["response"]["allowed"] is True
    assert apply_patch(obj, decode_patch(answer))["spec"]["schedulingGates"] == [
        {"name": GATE_NAME}
    ]
    assert any("stays gated" in w for w in answer["response"]["warnings"])
    assert enabled.warnings == [
        ("shop-web", "CreateWorkloadFailed", "could not create KeptnWorkload")
    ]
    assert (
        "KeptnAppCreationRequest",
        NS,
        "shop",
    ) in enabled.objects  # the other write still happened


async def test_unreadable_context_allows_unchanged(store: MemoryStore, spans: Any) -> None:
    store.fail_reads = True
    answer = await mutator(store, spans).review(review(pod(owners=[RS], annotations=KEYS)))
    assert answer["response"]["allowed"] is True
    assert decode_patch(answer) == []
    assert "admitted unchecked" in answer["response"]["warnings"][0]


async def test_malformed_review_raises(store: MemoryStore, spans: Any) -> None:
    with pytest.raises(ValueError, match=r"request\.uid"):
        await mutator(store, spans).review({"request": {}})


def test_plan_is_pure_and_names_follow_klt() -> None:
    plan = plan_pod(
        pod(owners=[RS], annotations=KEYS),
        namespace=NS,
        operation="CREATE",
        parent=None,
        carrier={},
    )
    assert plan is not None and plan.gate
    assert plan.workload["metadata"]["annotations"] == {}
    named = plan_pod(
        pod(owners=[RS], annotations={"keptn.sh/workload": "Web", "keptn.sh/app": "My_App"}),
        namespace=NS,
        operation="CREATE",
        parent=None,
        carrier={},
    )
    assert named is not None
    assert named.workload["metadata"]["name"] == "my-app-web"
    assert named.app_request["metadata"]["name"] == "my-app"


@pytest.mark.parametrize(
    ("image", "tag"),
    [
        ("nginx", ""),
        ("nginx:1", "1"),
        ("reg:5000/nginx", ""),
        ("reg:5000/nginx:2", "2"),
        ("a/b:3@sha256:ff", "3"),
    ],
)
def test_image_tag(image: str, tag: str) -> None:
    assert image_tag(image) == tag


def test_metadata_parsing() -> None:
    assert parse_metadata("a=1, b=2,c,d=e=f,=x") == {"a": "1", "b": "2"}


async def test_lost_create_race_rereads_fresh(enabled: MemoryStore, spans: Any) -> None:
    m = mutator(enabled, spans)
    await m.review(review(pod(owners=[RS], annotations=KEYS)))
    enabled.stale = {("KeptnWorkload", NS, "shop-web"), ("KeptnAppCreationRequest", NS, "shop")}
    new_rs = owner("ReplicaSet", "web-8aa", "rs2-uid")
    answer = await m.review(
        review(pod(owners=[new_rs], annotations={**KEYS, "keptn.sh/version": "2"}))
    )
    assert "warnings" not in answer["response"]
    assert enabled.fresh_reads == 1  # the workload's lost create; the app's request is there
    assert enabled.objects[("KeptnWorkload", NS, "shop-web")]["spec"]["version"] == "2"


class ConsumedRequestStore(MemoryStore):
    """A sibling pod's app request exists at each create and is consumed before each read."""

    async def create(self, kind: Any, body: Any) -> bool:
        if kind.kind == "KeptnAppCreationRequest":
            return False  # AlreadyExists: a sibling pod's request, deleted again right after
        return await super().create(kind, body)


async def test_app_request_race_with_siblings_and_the_controller_is_benign(
    spans: Any, caplog: pytest.LogCaptureFixture
) -> None:
    store = ConsumedRequestStore()
    store.put(
        "Namespace",
        {"metadata": {"name": NS, "annotations": {"keptn.sh/lifecycle-toolkit": "enabled"}}},
    )
    answer = await mutator(store, spans).review(review(pod(owners=[RS], annotations=KEYS)))
    assert "warnings" not in answer["response"]
    assert store.warnings == []
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    assert ("KeptnWorkload", NS, "shop-web") in store.objects


@pytest.mark.parametrize(
    ("labels", "listed", "requested"),
    [
        ({}, [], False),  # the user's KeptnApp: the request controller would delete it unread
        ({"app.kubernetes.io/managed-by": "keptn"}, [("web", "1.0.0")], False),
        ({"app.kubernetes.io/managed-by": "keptn"}, [("web", "0.9.0")], True),
        ({"app.kubernetes.io/managed-by": "keptn"}, [("other", "1.0.0")], True),
    ],
)
async def test_app_request_only_when_the_app_needs_one(
    enabled: MemoryStore,
    spans: Any,
    labels: dict[str, str],
    listed: list[tuple[str, str]],
    requested: bool,
) -> None:
    workloads = [{"name": n, "version": v} for n, v in listed]
    enabled.put(
        "KeptnApp",
        {
            "metadata": {"name": "shop", "namespace": NS, "labels": labels},
            "spec": {"workloads": workloads},
        },
    )
    answer = await mutator(enabled, spans).review(
        review(pod(owners=[RS], annotations={**KEYS, "keptn.sh/version": "1.0.0"}))
    )
    assert "warnings" not in answer["response"]
    assert ("KeptnWorkload", NS, "shop-web") in enabled.objects
    assert (("KeptnAppCreationRequest", NS, "shop") in enabled.objects) is requested


class ConflictingStore(MemoryStore):
    """Another writer bumps the workload between our read and our update, once."""

    async def update(self, kind: Any, body: Any) -> bool:
        if not getattr(self, "bumped", False):
            self.bumped = True
            key = (kind.kind, body["metadata"]["namespace"], body["metadata"]["name"])
            self.objects[key]["metadata"]["resourceVersion"] = "9"
        return await super().update(kind, body)


async def test_update_conflict_is_retried(spans: Any) -> None:
    store = ConflictingStore()
    store.put(
        "Namespace",
        {"metadata": {"name": NS, "annotations": {"keptn.sh/lifecycle-toolkit": "enabled"}}},
    )
    m = mutator(store, spans)
    await m.review(review(pod(owners=[RS], annotations=KEYS)))
    answer = await m.review(review(pod(owners=[RS], annotations={**KEYS, "keptn.sh/version": "3"})))
    assert "warnings" not in answer["response"]
    stored = store.objects[("KeptnWorkload", NS, "shop-web")]
    assert (stored["spec"]["version"], stored["metadata"]["resourceVersion"]) == ("3", "10")


async def test_update_failure_is_reported_as_update(enabled: MemoryStore, spans: Any) -> None:
    m = mutator(enabled, spans)
    await m.review(review(pod(owners=[RS], annotations=KEYS)))
    enabled.fail = {"KeptnWorkload"}
    obj = pod(owners=[RS], annotations={**KEYS, "keptn.sh/version": "4"})
    answer = await m.review(review(obj))
    assert apply_patch(obj, decode_patch(answer))["spec"]["schedulingGates"] == [
        {"name": GATE_NAME}
    ]
    assert enabled.warnings == [
        ("shop-web", "UpdateWorkloadFailed", "could not update KeptnWorkload")
    ]
