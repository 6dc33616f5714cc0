"""Pure parts of lifecycle.kube: the error mapping, the indexed Store, paths, event names."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from lifecycle.core.model import KEPTN_APP_VERSION, NAMESPACE, POD, REPLICA_SET
from lifecycle.kube.client import KubeClient
from lifecycle.kube.errors import (
    AlreadyExists,
    BadRequest,
    Conflict,
    Forbidden,
    Gone,
    Invalid,
    KubeError,
    NotFound,
    Transient,
    Unauthorized,
    error_from_status,
)
from lifecycle.kube.events import event_name, format_message, keptn_annotations
from lifecycle.kube.informer import Store


@pytest.mark.parametrize(
    ("status", "reason", "cls"),
    [
        (400, "BadRequest", BadRequest),
        (401, "Unauthorized", Unauthorized),
        (403, "Forbidden", Forbidden),
        (404, "NotFound", NotFound),
        (409, "AlreadyExists", AlreadyExists),
        (409, "Conflict", Conflict),
        (410, "Expired", Gone),
        (422, "Invalid", Invalid),
        (429, "TooManyRequests", Transient),
        (500, "InternalError", Transient),
        (503, "ServiceUnavailable", Transient),
        (418, "Teapot", KubeError),
    ],
)
def test_error_from_status(status: int, reason: str, cls: type[KubeError]) -> None:
    body = json.dumps({"kind": "Status", "reason": reason, "message": "msg", "code": status})
    err = error_from_status(status, body.encode())
    assert type(err) is cls
    assert err.status == status and err.reason == reason and err.message == "msg"
    assert isinstance(err, KubeError)


def test_invalid_and_garbage_bodies_still_map() -> None:
    body = {
        "reason": "Invalid",
        "message": "bad",
        "details": {
            "causes": [{"field": "spec.x", "reason": "FieldValueRequired", "message": "m"}]
        },
    }
    err = error_from_status(422, body)
    assert isinstance(err, Invalid) and err.reason == "Invalid" and err.message == "bad"
    garbage = error_from_status(502, b"<html>bad gateway</html>")
    assert isinstance(garbage, Transient) and "bad gateway" in garbage.message
    assert isinstance(error_from_status(404, None), NotFound)


def test_paths() -> None:
    assert KubeClient.path(POD, "ns", "p") == "/api/v1/namespaces/ns/pods/p"
    assert KubeClient.path(POD) == "/api/v1/pods"
    assert KubeClient.path(NAMESPACE, "ignored", "demo") == "/api/v1/namespaces/demo"
    assert (
        KubeClient.path(REPLICA_SET, "ns", "rs", "status")
        == "/apis/apps/v1/namespaces/ns/replicasets/rs/status"
    )
    assert (
        KubeClient.path(KEPTN_APP_VERSION, "d")
        == "/apis/lifecycle.keptn.sh/v1/namespaces/d/keptnappversions"
    )


def _obj(ns: str, name: str, app: str, owners: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "metadata": {
            "namespace": ns,
            "name": name,
            "ownerReferences": [{"uid": u} for u in owners],
        },
        "spec": {"app": app},
    }


def test_store_indexes_follow_updates_and_deletes() -> None:
    store = Store(
        {
            "app": lambda o: [o["spec"]["app"]],
            "owner": lambda o: [r["uid"] for r in o["metadata"].get("ownerReferences") or ()],
        }
    )
    store.upsert(_obj("a", "w1", "shop", ("u1",)))
    store.upsert(_obj("a", "w2", "shop", ("u1", "u2")))
    store.upsert(_obj("b", "w1", "blog"))
    assert sorted(o["metadata"]["name"] for o in store.by_index("app", "shop")) == ["w1", "w2"]
    assert len(store.by_index("owner", "u1")) == 2
    assert len(store.list()) == 3 and len(store.list("a")) == 2
    assert store.get("b", "w1") is not None and store.get("a", "nope") is None

    old = store.upsert(_obj("a", "w2", "blog"))  # moved to another app, owners dropped
    assert old is not None and old["spec"]["app"] == "shop"
    assert [o["metadata"]["name"] for o in store.by_index("app", "shop")] == ["w1"]
    assert len(store.by_index("app", "blog")) == 2
    assert store.by_index("owner", "u2") == []
    assert "u2" not in store.index_keys("owner")

    store.remove(_obj("a", "w1", "?"))
    assert store.by_index("app", "shop") == [] and store.by_index("owner", "u1") == []
    assert len(store) == 2


def test_store_survives_a_failing_index_function() -> None:
    store = Store({"bad": lambda o: [o["spec"]["missing"]]})
    store.upsert(_obj("a", "w", "x"))
    assert store.get("a", "w") is not None
    assert store.by_index("bad", "anything") == []


def test_event_name_is_deterministic_and_message_format() -> None:
    name = event_name("app-1.0.0-abc", "uid-1", "AppPreDeployTasksStarted")
    digest = hashlib.sha256(b"uid-1AppPreDeployTasksStarted").hexdigest()[:16]
    assert name == f"app-1.0.0-abc.{digest}"
    assert event_name("app-1.0.0-abc", "uid-2", "AppPreDeployTasksStarted") != name
    assert (
        format_message(
            "App Pre-Deployment Tasks",
            "has started",
            namespace="demo",
            name="myapp-0.0.1-6b86b273",
            version="0.0.1",
        )
        == "App Pre-Deployment Tasks: has started / Namespace: demo, "
        "Name: myapp-0.0.1-6b86b273, Version: 0.0.1"
    )
    assert format_message("X", "t", namespace="n", name="o", version="") == (
        "X: t / Namespace: n, Name: o"
    )


def test_keptn_annotations_per_kind() -> None:
    wv = {
        "kind": "KeptnWorkloadVersion",
        "metadata": {
            "name": "shop-cart-1.2",
            "namespace": "demo",
            "annotations": {"traceparent": "00-abc-def-01"},
        },
        "spec": {"app": "shop", "workloadName": "shop-cart", "version": "1.2"},
    }
    assert keptn_annotations(wv, "WorkloadPreDeployTasks") == {
        "namespace": "demo",
        "name": "shop-cart-1.2",
        "phase": "WorkloadPreDeployTasks",
        "traceparent": "00-abc-def-01",
        "appName": "shop",
        "workloadName": "shop-cart",
        "workloadVersion": "1.2",
        "workloadVersionName": "shop-cart-1.2",
    }
    task = {
        "kind": "KeptnTask",
        "metadata": {"name": "pre-notify-1", "namespace": "demo"},
        "spec": {"taskDefinition": "notify", "context": {"appName": "shop", "appVersion": "1"}},
    }
    ann = keptn_annotations(task, "")
    assert ann["taskDefinitionName"] == "notify" and ann["appVersion"] == "1"
    assert ann["workloadName"] == "" and ann["traceparent"] == ""
    app = {
        "kind": "KeptnApp",
        "metadata": {"name": "shop"},
        "spec": {"version": "1", "revision": 2},
    }
    assert keptn_annotations(app, "")["appRevision"] == "2"
