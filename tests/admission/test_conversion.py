"""The operator's CRD conversion (lifecycle.admission.conversion): KLT's renames, the target version's
pruning, round-trip safety through the klt.dev/conversion-lost annotation, ConversionReview."""

from __future__ import annotations

import json
from typing import Any

from lifecycle.admission.conversion import LOST_ANNOTATION, convert, review_response
from lifecycle.admission.schemas import SchemaSet, load_crds
from tests.support.crdschema import CrdValidator

SCHEMAS = SchemaSet.from_crds(load_crds())
CHECK = CrdValidator.of(SCHEMAS)
G = "lifecycle.keptn.sh"


def _kav_v1() -> dict[str, Any]:
    item = {"definitionName": "notify", "name": "pre-notify-1", "status": "Succeeded"}
    return {
        "apiVersion": f"{G}/v1",
        "kind": "KeptnAppVersion",
        "metadata": {"name": "app-1.0-6b86b273", "namespace": "demo", "uid": "u1"},
        "spec": {
            "appName": "app",
            "version": "1.0",
            "revision": 1,
            "preDeploymentTasks": ["notify"],
            "promotionTasks": ["promote"],
            "workloads": [{"name": "w", "version": "1.0"}],
        },
        "status": {
            "preDeploymentTaskStatus": [item],
            "preDeploymentEvaluationTaskStatus": [dict(item, definitionName="ev", name="pre-ev-1")],
            "promotionStatus": "Succeeded",
            "currentPhase": "Completed",
        },
    }


def test_appversion_v1alpha1_renames_status_items_and_keeps_what_it_lacks() -> None:
    v1 = _kav_v1()
    old = convert(v1, f"{G}/v1alpha1", SCHEMAS)
    assert old["apiVersion"] == f"{G}/v1alpha1"
    assert old["status"]["preDeploymentTaskStatus"] == [
        {"taskDefinitionName": "notify", "taskName": "pre-notify-1", "status": "Succeeded"}
    ]
    assert old["status"]["preDeploymentEvaluationTaskStatus"][0]["evaluationName"] == "pre-ev-1"
    assert "promotionTasks" not in old["spec"] and "revision" not in old["spec"]
    lost = json.loads(old["metadata"]["annotations"][LOST_ANNOTATION])
    assert lost == {
        "spec": {"promotionTasks": ["promote"], "revision": 1},
        "status": {"promotionStatus": "Succeeded"},
    }
    assert CHECK.validate(old) == []
    assert convert(old, f"{G}/v1", SCHEMAS) == v1  # the round trip loses nothing


def test_app_v1alpha3_task_lists_survive_storage_at_v1() -> None:
    old = {
        "apiVersion": f"{G}/v1alpha3",
        "kind": "KeptnApp",
        "metadata": {"name": "app", "namespace": "demo", "annotations": {"team": "a"}},
        "spec": {"version": "1", "revision": 2, "preDeploymentTasks": ["t"], "workloads": []},
    }
    stored = convert(old, f"{G}/v1", SCHEMAS)
    assert stored["spec"] == {"version": "1", "revision": 2, "workloads": []}  # KLT's mapping
    assert stored["metadata"]["annotations"]["team"] == "a"
    assert convert(stored, f"{G}/v1alpha3", SCHEMAS) == old


def test_review_answers_every_object_or_a_failure_naming_why() -> None:
    review = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "ConversionReview",
        "request": {"uid": "r1", "desiredAPIVersion": f"{G}/v1beta1", "objects": [_kav_v1()]},
    }
    answer = review_response(review, SCHEMAS)["response"]
    assert answer["uid"] == "r1" and answer["result"] == {"status": "Success"}
    assert answer["convertedObjects"][0]["apiVersion"] == f"{G}/v1beta1"
    review["request"]["objects"] = [{"apiVersion": f"{G}/v1", "kind": "KeptnTask", "metadata": {}}]
    failed = review_response(review, SCHEMAS)["response"]
    assert failed["result"] == {
        "status": "Failure",
        "message": f"kind KeptnTask of {G} is not converted by this webhook",
    }
