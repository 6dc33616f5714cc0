"""deploy/ as shipped, on the strict sandbox, with two operator replicas (see lane.py for how).

The lane runs once per module (fixture ``lane``, ~40 s); each test checks one property of it.
"""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import pytest

from tests.e2e.cluster.lane import APP_NS, BIG_BYTES, KEPTN_NS, LaneResult, api_errors, run_lane
from tests.e2e.flow.workloads import gated
from tests.e2e.reliability.test_failover import check_once

KEPTN = "lifecycle.keptn.sh"
METRICS = "metrics.keptn.sh"
CACHED = [
    f"{r}.{KEPTN}"
    for r in (
        "keptnapps", "keptnappcontexts", "keptnappversions", "keptnworkloads",
        "keptnworkloadversions", "keptntasks", "keptntaskdefinitions", "keptnevaluations",
        "keptnevaluationdefinitions", "keptnappcreationrequests",
    )
] + [
    f"{r}.{METRICS}"
    for r in ("keptnmetrics", "analyses", "analysisdefinitions", "analysisvaluetemplates",
              "keptnmetricsproviders")
] + [
    "keptnconfigs.options.keptn.sh", "pods", "namespaces", "replicasets.apps",
    "statefulsets.apps", "daemonsets.apps", "jobs.batch",
]  # fmt: skip
MUTATING = "mutatingwebhookconfigurations/lifecycle-mutating-webhook-configuration"
VALIDATING = "validatingwebhookconfigurations/lifecycle-validating-webhook-configuration"

USED: list[tuple[str, ...]] = [
    *((verb, resource, "-A") for resource in CACHED for verb in ("get", "list", "watch")),
    *(
        ("create", f"{r}.{KEPTN}", "-n", "shop")
        for r in ("keptnapps", "keptnappversions", "keptnworkloads", "keptnworkloadversions",
                  "keptntasks", "keptnevaluations", "keptnappcreationrequests")
    ),
    *(
        ("patch", f"{r}.{KEPTN}", "-n", "shop")
        for r in ("keptnapps", "keptnappversions", "keptnworkloadversions", "keptntasks",
                  "keptnevaluations")
    ),
    ("update", f"keptnworkloads.{KEPTN}", "-n", "shop"),
    ("delete", f"keptnappcreationrequests.{KEPTN}", "-n", "shop"),
    *(
        ("patch", f"{r}", "--subresource=status", "-n", "shop")
        for r in (f"keptnapps.{KEPTN}", f"keptnappversions.{KEPTN}", f"keptnworkloads.{KEPTN}",
                  f"keptnworkloadversions.{KEPTN}", f"keptntasks.{KEPTN}",
                  f"keptntaskdefinitions.{KEPTN}", f"keptnevaluations.{KEPTN}",
                  f"keptnmetrics.{METRICS}", f"analyses.{METRICS}")
    ),
    ("patch", "pods", "-n", "shop"),
    ("get", "configmaps", "-n", "shop"),
    ("create", "configmaps", "-n", "shop"),
    ("patch", "configmaps", "-n", "shop"),
    ("get", "secrets", "-n", "shop"),
    ("create", "events", "-n", "shop"),
    ("patch", "events", "-n", "shop"),
    ("get", "deployments.apps", "-n", "shop"),
    ("get", "rollouts.argoproj.io", "-n", "shop"),
    ("create", "jobs.batch", "-n", "shop"),
    ("get", "leases.coordination.k8s.io", "-n", KEPTN_NS),
    ("create", "leases.coordination.k8s.io", "-n", KEPTN_NS),
    ("update", "leases.coordination.k8s.io", "-n", KEPTN_NS),
    ("get", "secrets/keptn-certs", "-n", KEPTN_NS),
    ("update", "secrets/keptn-certs", "-n", KEPTN_NS),
    ("create", "secrets", "-n", KEPTN_NS),
    ("get", MUTATING),
    ("patch", MUTATING),
    ("get", VALIDATING),
    ("patch", VALIDATING),
]  # fmt: skip
"""Every (verb, resource) the operator's code calls: lifecycle/ greps for client.create/replace/
patch/patch_status/delete/get and the informers of controllers/context.KINDS."""

NOT_USED: list[tuple[str, ...]] = [
    ("create", "pods", "-n", "shop"),
    ("delete", "pods", "-n", "shop"),
    ("update", "pods", "-n", "shop"),
    ("delete", "jobs.batch", "-n", "shop"),
    ("list", "secrets", "-n", "shop"),
    ("watch", "secrets", "-A"),
    ("update", "secrets/keptn-certs", "-n", "shop"),
    ("update", "secrets/other", "-n", KEPTN_NS),
    ("create", "secrets", "-n", "shop"),
    ("update", f"keptnapps.{KEPTN}", "-n", "shop"),
    ("delete", f"keptnworkloadversions.{KEPTN}", "-n", "shop"),
    ("create", f"keptntaskdefinitions.{KEPTN}", "-n", "shop"),
    ("update", f"keptnappversions.{KEPTN}", "--subresource=status", "-n", "shop"),
    ("create", f"keptnmetrics.{METRICS}", "-n", "shop"),
    ("list", "configmaps", "-n", "shop"),
    ("update", "configmaps", "-n", "shop"),
    ("create", "namespaces"),
    ("create", "mutatingwebhookconfigurations"),
    ("update", MUTATING),
    ("patch", "mutatingwebhookconfigurations/someone-elses"),
    ("delete", "leases.coordination.k8s.io", "-n", KEPTN_NS),
    ("create", "leases.coordination.k8s.io", "-n", "shop"),
    ("patch", "deployments.apps", "-n", "shop"),
    ("create", "clusterrolebindings.rbac.authorization.k8s.io"),
]  # fmt: skip


@pytest.fixture(scope="module")
def lane(tmp_path_factory: pytest.TempPathFactory) -> LaneResult:
    work: Path = tmp_path_factory.mktemp("cluster")
    return asyncio.run(run_lane(work, USED + NOT_USED))


def test_deploy_applies_as_shipped(lane: LaneResult) -> None:
    assert "deployment.apps/lifecycle-operator created" in lane.applied
    assert "secret/" not in lane.applied  # the certificate Secret is the operator's to create


def test_kubectl_auth_can_i_yes_for_every_verb_used(lane: LaneResult) -> None:
    denied = [q for q in USED if not lane.can_i[q]]
    assert not denied, denied


def test_kubectl_auth_can_i_no_for_verbs_not_used(lane: LaneResult) -> None:
    allowed = [q for q in NOT_USED if lane.can_i[q]]
    assert not allowed, allowed


def test_both_replicas_answer_pod_admissions(lane: LaneResult) -> None:
    assert len(lane.answered) == 2 and all(n > 0 for n in lane.answered.values()), lane.answered


def test_one_certificate_for_both_replicas_and_both_webhook_configurations(
    lane: LaneResult,
) -> None:
    assert len(lane.served_certs) == 1
    assert lane.ca_bundles == {lane.secret_ca}
    served = next(iter(lane.served_certs))
    assert served.startswith(b"-----BEGIN CERTIFICATE-----")
    assert base64.b64decode(lane.secret_ca).startswith(b"-----BEGIN CERTIFICATE-----")


def test_every_pod_gated_until_its_checks_pass(lane: LaneResult) -> None:
    assert not lane.violations, lane.violations[:10]
    assert lane.seen is not None
    for version in lane.seen.workload_versions:
        status = version.get("status") or {}
        assert status.get("preDeploymentEvaluationStatus") == "Succeeded", status
        assert status.get("postDeploymentEvaluationStatus") == "Succeeded", status


def test_leader_killed_mid_flow_the_other_finishes_and_nothing_runs_twice(
    lane: LaneResult,
) -> None:
    assert lane.takeover
    assert lane.scenario is not None and lane.seen is not None
    check_once(lane.scenario, lane.seen)


def test_a_failing_pre_deployment_task_keeps_the_pod_gated(lane: LaneResult) -> None:
    name, _, state = lane.failing_version.partition(": ")
    assert state == "Failed"
    assert name.startswith("risky-risky-2.0.0-build.7-")  # `+` is no name character
    assert lane.failing_pod_gated


def test_a_pod_over_one_mib_is_gated(lane: LaneResult) -> None:
    assert lane.big_pod is not None and lane.big_workload is not None
    env = lane.big_pod["spec"]["containers"][0]["env"]
    assert len(env[0]["value"]) == BIG_BYTES
    annotations = lane.big_pod["metadata"].get("annotations") or {}
    assert gated(lane.big_pod) or annotations.get("keptn.sh/scheduling-gate-removed")
    assert annotations.get("keptn.sh/workload") == "bulky"


def test_no_403_and_no_422_in_the_operator_logs(lane: LaneResult) -> None:
    for replica, log in lane.logs.items():
        assert log, f"{replica}: empty log"
        errors = api_errors(log)
        assert not errors, (replica, errors[:5])


def test_flows_ran_in_the_annotated_namespace(lane: LaneResult) -> None:
    assert lane.seen is not None and lane.seen.app_versions
    assert all(v["metadata"]["namespace"] == APP_NS for v in lane.seen.app_versions)
