"""Pure logic of the simulated node: rollout plans, Job decisions, pod status, runtime plans."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.node.argo import rollout_plan
from sandbox.node.jobs import decide_job, job_pod_labels
from sandbox.node.pods import (
    ContainerState,
    gated_status,
    is_active,
    parse_time,
    pod_phase,
    pod_status,
    random_suffix,
    timestamp,
)
from sandbox.node.rollout import (
    HASH_LABEL,
    REVISION_LABEL,
    daemonset_plan,
    deployment_plan,
    replicaset_plan,
    statefulset_plan,
    status_patch,
    template_hash,
)
from sandbox.node.runtime import PlanKind, plan_container
from sandbox.node.settings import NodeSettings, Outcome

Body = dict[str, Any]
NOW = 1_800_000_000.0


def template(image: str = "nginx:1", **labels: str) -> Body:
    return {
        "metadata": {"labels": {"app": "web", **labels}},
        "spec": {"containers": [{"name": "c", "image": image}]},
    }


def pod(name: str, phase: str = "Running", ready: bool = True, **labels: str) -> Body:
    conds = [{"type": "Ready", "status": "True" if ready else "False"}]
    return {
        "metadata": {"name": name, "labels": {"app": "web", **labels}, "creationTimestamp": name},
        "status": {"phase": phase, "conditions": conds},
    }


def test_template_hash_is_stable_and_ignores_key_order_and_hash_label() -> None:
    a = template()
    b = {
        "spec": {"containers": [{"image": "nginx:1", "name": "c"}]},
        "metadata": {"labels": {"app": "web"}},
    }
    assert template_hash(a) == template_hash(b)
    assert len(template_hash(a)) == 10
    a["metadata"]["labels"][HASH_LABEL] = "x"
    assert template_hash(a) == template_hash(b)
    assert template_hash(template("nginx:2")) != template_hash(b)


@pytest.mark.parametrize(
    ("want", "have", "create", "delete"),
    [(3, 0, 3, 0), (3, 3, 0, 0), (1, 3, 0, 2), (0, 2, 0, 2)],
)
def test_replicaset_scales_to_spec(want: int, have: int, create: int, delete: int) -> None:
    rs = {
        "metadata": {"name": "rs", "generation": 4},
        "spec": {"replicas": want, "template": template()},
    }
    pods = [pod(f"rs-{i}", ready=i % 2 == 0) for i in range(have)]
    plan = replicaset_plan(rs, pods)
    assert len(plan.create) == create
    assert len(plan.delete) == delete
    kept = min(want, have)
    assert plan.status["replicas"] == kept
    assert plan.status["observedGeneration"] == 4
    assert plan.status["fullyLabeledReplicas"] == kept


def test_replicaset_scale_down_deletes_the_newest_ready_pods() -> None:
    rs = {"metadata": {"name": "rs"}, "spec": {"replicas": 1, "template": template()}}
    old, new = pod("old"), pod("new")
    old["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z"
    new["metadata"]["creationTimestamp"] = "2026-01-02T00:00:00Z"
    assert replicaset_plan(rs, [new, old]).delete == ("new",)


def test_replicaset_deletes_unready_pods_first_and_ignores_finished_ones() -> None:
    rs = {"metadata": {"name": "rs"}, "spec": {"replicas": 1, "template": template()}}
    pods = [pod("a", ready=True), pod("b", ready=False), pod("c", phase="Failed", ready=False)]
    plan = replicaset_plan(rs, pods)
    assert plan.delete == ("b",)
    assert plan.status["readyReplicas"] == 1
    assert plan.status["availableReplicas"] == 1


def deployment(replicas: int = 3, image: str = "nginx:1", strategy: Body | None = None) -> Body:
    spec: Body = {
        "replicas": replicas,
        "selector": {"matchLabels": {"app": "web"}},
        "template": template(image),
    }
    if strategy:
        spec["strategy"] = strategy
    return {
        "metadata": {"name": "web", "namespace": "ns", "uid": "u1", "generation": 2},
        "spec": spec,
    }


def rs_of(
    dep: Body, replicas: int, available: int, revision: int, image: str | None = None
) -> Body:
    tmpl = template(image) if image else dep["spec"]["template"]
    h = template_hash(tmpl)
    return {
        "metadata": {
            "name": f"web-{h}",
            "labels": {HASH_LABEL: h},
            "annotations": {"deployment.kubernetes.io/revision": str(revision)},
        },
        "spec": {"replicas": replicas},
        "status": {
            "replicas": replicas,
            "readyReplicas": available,
            "availableReplicas": available,
        },
    }


def conditions(status: Body) -> dict[str, Body]:
    return {c["type"]: c for c in status["conditions"]}


def test_deployment_creates_its_first_replicaset() -> None:
    plan = deployment_plan(deployment(), [], NOW)
    assert plan.create is not None
    rs = plan.create
    h = template_hash(deployment()["spec"]["template"])
    assert rs["metadata"]["name"] == f"web-{h}"
    assert rs["spec"]["replicas"] == 3
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "web", HASH_LABEL: h}
    assert rs["spec"]["template"]["metadata"]["labels"][HASH_LABEL] == h
    assert rs["metadata"]["ownerReferences"][0]["uid"] == "u1"
    assert rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    assert conditions(plan.status)["Available"]["status"] == "False"
    assert plan.status["observedGeneration"] == 2


def test_deployment_available_once_all_replicas_available() -> None:
    dep = deployment()
    plan = deployment_plan(dep, [rs_of(dep, 3, 3, 1)], NOW)
    assert plan.create is None and plan.scale == {}
    s = plan.status
    assert (s["replicas"], s["updatedReplicas"], s["readyReplicas"], s["availableReplicas"]) == (
        3,
        3,
        3,
        3,
    )
    assert "unavailableReplicas" not in s
    assert conditions(s)["Available"]["reason"] == "MinimumReplicasAvailable"
    assert conditions(s)["Progressing"]["reason"] == "NewReplicaSetAvailable"


def test_deployment_rolling_update_scales_old_down_as_new_becomes_available() -> None:
    dep = deployment(image="nginx:2")
    old = rs_of(dep, 3, 3, 1, image="nginx:1")
    plan = deployment_plan(dep, [old], NOW)
    assert plan.create is not None and plan.create["spec"]["replicas"] == 3
    assert plan.create["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    assert plan.scale == {}  # nothing new is available yet: the old pods keep serving
    new = rs_of(dep, 3, 2, 2)
    plan = deployment_plan(dep, [old, new], NOW)
    assert plan.scale == {old["metadata"]["name"]: 1}
    new = rs_of(dep, 3, 3, 2)
    plan = deployment_plan(dep, [old, new], NOW)
    assert plan.scale == {old["metadata"]["name"]: 0}


def test_deployment_recreate_waits_for_old_pods_to_go() -> None:
    dep = deployment(image="nginx:2", strategy={"type": "Recreate"})
    old = rs_of(dep, 3, 3, 1, image="nginx:1")
    plan = deployment_plan(dep, [old], NOW)
    assert plan.create is not None and plan.create["spec"]["replicas"] == 0
    assert plan.scale == {old["metadata"]["name"]: 0}


def test_deployment_keeps_condition_timestamps_when_unchanged() -> None:
    dep = deployment()
    first = deployment_plan(dep, [rs_of(dep, 3, 3, 1)], NOW)
    dep["status"] = first.status
    second = deployment_plan(dep, [rs_of(dep, 3, 3, 1)], NOW + 100)
    assert status_patch(dep["status"], second.status) is None


def test_status_patch_sets_changes_and_nulls_removed_keys() -> None:
    assert status_patch({"a": 1, "b": 2}, {"a": 1, "c": 3}) == {"c": 3, "b": None}
    assert status_patch({"a": 1}, {"a": 1}) is None


def sts(replicas: int = 3, image: str = "db:1", status: Body | None = None) -> Body:
    return {
        "metadata": {"name": "db", "generation": 1},
        "spec": {"replicas": replicas, "template": template(image)},
        "status": status or {},
    }


def sts_pod(i: int, revision: str, ready: bool = True) -> Body:
    return pod(f"db-{i}", ready=ready, **{REVISION_LABEL: revision})


def test_statefulset_creates_ordinal_pods_and_reports_revisions() -> None:
    plan = statefulset_plan(sts(), [])
    assert plan.create == ("db-0", "db-1", "db-2")
    rev = plan.status["updateRevision"]
    assert rev.startswith("db-")
    plan = statefulset_plan(sts(), [sts_pod(i, rev) for i in range(3)])
    assert plan.create == () and plan.delete == ()
    s = plan.status
    assert (s["replicas"], s["readyReplicas"], s["currentReplicas"], s["updatedReplicas"]) == (
        3,
        3,
        3,
        3,
    )
    assert s["currentRevision"] == rev


def test_statefulset_rolls_highest_ordinal_first_one_at_a_time() -> None:
    old_rev = statefulset_plan(sts(), []).status["updateRevision"]
    new = sts(image="db:2", status={"currentRevision": old_rev})
    plan = statefulset_plan(new, [sts_pod(i, old_rev) for i in range(3)])
    assert plan.delete == ("db-2",)
    assert plan.status["currentReplicas"] == 3 and plan.status["updatedReplicas"] == 0
    # While a pod is not ready, nothing else is replaced.
    pods = [
        sts_pod(0, old_rev),
        sts_pod(1, old_rev),
        sts_pod(2, plan.status["updateRevision"], ready=False),
    ]
    assert statefulset_plan(new, pods).delete == ()


def test_statefulset_scales_down_from_the_top() -> None:
    rev = statefulset_plan(sts(), []).status["updateRevision"]
    plan = statefulset_plan(sts(replicas=1), [sts_pod(i, rev) for i in range(3)])
    assert set(plan.delete) == {"db-1", "db-2"}


def test_daemonset_runs_one_pod_and_replaces_it_on_template_change() -> None:
    ds = {"metadata": {"name": "agent", "generation": 1}, "spec": {"template": template("agent:1")}}
    plan = daemonset_plan(ds, [])
    assert plan.create == ("",)
    assert plan.status["desiredNumberScheduled"] == 1 and plan.status["numberReady"] == 0
    h = template_hash(ds["spec"]["template"])
    plan = daemonset_plan(ds, [pod("agent-x", **{REVISION_LABEL: h})])
    assert plan.create == () and plan.delete == ()
    assert plan.status["numberReady"] == 1 and plan.status["updatedNumberScheduled"] == 1
    assert "numberUnavailable" not in plan.status
    plan = daemonset_plan(ds, [pod("agent-x", **{REVISION_LABEL: "old"})])
    assert plan.create == ("",) and plan.delete == ("agent-x",)


def job(**spec: Any) -> Body:
    return {
        "metadata": {"name": "task", "uid": "j1"},
        "spec": {"template": template(), **spec},
        "status": {},
    }


def jpod(name: str, phase: str) -> Body:
    return pod(name, phase=phase, ready=phase == "Running")


def test_job_starts_one_pod_and_sets_start_time() -> None:
    d = decide_job(job(), [], NOW)
    assert d.create == 1 and d.status["active"] == 1
    assert d.status["startTime"] == timestamp(NOW)
    assert job_pod_labels(job())["job-name"] == "task"
    assert job_pod_labels(job())["batch.kubernetes.io/controller-uid"] == "j1"


def test_job_completes_with_success_criteria_met_and_ttl() -> None:
    j = job(ttlSecondsAfterFinished=5)
    j["status"] = {"startTime": timestamp(NOW)}
    d = decide_job(j, [jpod("task-a", "Succeeded")], NOW + 2)
    types = [(c["type"], c["reason"]) for c in d.status["conditions"]]
    assert types == [
        ("SuccessCriteriaMet", "CompletionsReached"),
        ("Complete", "CompletionsReached"),
    ]
    assert d.status["succeeded"] == 1 and "active" not in d.status
    assert d.status["completionTime"] == timestamp(NOW + 2)
    assert d.delete_job_at == pytest.approx(NOW + 7)
    assert d.create == 0


def test_job_retries_until_backoff_limit_then_fails() -> None:
    j = job(backoffLimit=1)
    j["status"] = {"startTime": timestamp(NOW)}
    d = decide_job(j, [jpod("a", "Failed")], NOW)
    assert d.create == 1 and d.status["failed"] == 1
    d = decide_job(j, [jpod("a", "Failed"), jpod("b", "Failed")], NOW)
    assert d.create == 0
    conds = {c["type"]: c for c in d.status["conditions"]}
    assert conds["Failed"]["reason"] == "BackoffLimitExceeded"
    assert conds["FailureTarget"]["reason"] == "BackoffLimitExceeded"
    assert d.status["failed"] == 2


def test_job_deadline_fails_and_stops_active_pods() -> None:
    j = job(activeDeadlineSeconds=3)
    j["status"] = {"startTime": timestamp(NOW)}
    d = decide_job(j, [jpod("a", "Running")], NOW + 1, started=NOW)
    assert d.wake_at == pytest.approx(NOW + 3) and d.delete == ()
    d = decide_job(j, [jpod("a", "Running")], NOW + 3.01, started=NOW)
    assert d.delete == ("a",)
    assert d.status["conditions"][-1]["reason"] == "DeadlineExceeded"
    assert "active" not in d.status


def test_finished_job_only_waits_for_ttl() -> None:
    j = job(ttlSecondsAfterFinished=0)
    j["status"] = {
        "startTime": timestamp(NOW),
        "completionTime": timestamp(NOW),
        "conditions": [
            {"type": "Complete", "status": "True", "lastTransitionTime": timestamp(NOW)}
        ],
        "succeeded": 1,
    }
    d = decide_job(j, [jpod("a", "Succeeded")], NOW + 1)
    assert d.create == 0 and d.delete_job_at == pytest.approx(NOW)
    assert len(d.status["conditions"]) == 1


def test_pod_status_from_container_states() -> None:
    c = ContainerState("c", "img")
    assert pod_phase([c]) == "Pending"
    c.state, c.started_at = "running", NOW
    status = pod_status([c], scheduled_at=NOW, started_at=NOW, now=NOW)
    assert status["phase"] == "Running"
    assert {x["type"]: x["status"] for x in status["conditions"]} == {
        "Initialized": "True",
        "Ready": "True",
        "ContainersReady": "True",
        "PodScheduled": "True",
    }
    assert status["containerStatuses"][0]["state"]["running"]["startedAt"] == timestamp(NOW)
    c.state, c.exit_code, c.reason, c.finished_at = "terminated", 2, "Error", NOW
    status = pod_status([c], scheduled_at=NOW, started_at=NOW, now=NOW)
    assert status["phase"] == "Failed"
    assert status["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 2
    assert not is_active({"metadata": {}, "status": status})


def test_gated_status_and_helpers() -> None:
    cond = gated_status(NOW)["conditions"][0]
    assert (cond["type"], cond["status"], cond["reason"]) == (
        "PodScheduled",
        "False",
        "SchedulingGated",
    )
    assert parse_time(timestamp(NOW)) == NOW
    assert parse_time("nope") is None
    suffix = random_suffix()
    assert len(suffix) == 5 and suffix.isalnum() and suffix.islower()


@pytest.mark.parametrize(
    ("image", "annotations", "restart", "kind", "outcome"),
    [
        ("ghcr.io/keptn/deno-runtime:v3", {}, "OnFailure", PlanKind.DENO, Outcome.RUN),
        ("ghcr.io/keptn/python-runtime:v1", {}, "Never", PlanKind.PYTHON, Outcome.RUN),
        ("busybox", {"sandbox.klt.dev/outcome": "fail"}, "Never", PlanKind.SIMULATED, Outcome.FAIL),
        (
            "busybox",
            {"sandbox.klt.dev/outcome": "SUCCEED"},
            "Never",
            PlanKind.SIMULATED,
            Outcome.SUCCEED,
        ),
        ("nginx", {}, "Always", PlanKind.SIMULATED, Outcome.RUN),
        ("busybox", {}, "Never", PlanKind.SHELL, Outcome.RUN),
        ("docker.io/library/alpine:3.20@sha256:ab", {}, "OnFailure", PlanKind.SHELL, Outcome.RUN),
        ("busybox", {}, "Always", PlanKind.SIMULATED, Outcome.RUN),
        ("example/notify:1.0", {}, "Never", PlanKind.UNRUNNABLE, Outcome.RUN),
        (
            "busybox",
            {"sandbox.klt.dev/outcome": "maybe"},
            "Never",
            PlanKind.UNRUNNABLE,
            Outcome.RUN,
        ),
    ],
)
def test_plan_container(
    image: str, annotations: dict[str, str], restart: str, kind: PlanKind, outcome: Outcome
) -> None:
    p = {"metadata": {"annotations": annotations}, "spec": {"restartPolicy": restart}}
    plan = plan_container(p, {"name": "c", "image": image}, NodeSettings())
    assert plan.kind is kind and plan.outcome is outcome
    if kind is PlanKind.UNRUNNABLE:
        assert "sandbox.klt.dev/outcome" in plan.message
        if "maybe" not in str(annotations):
            assert f'"{image}"' in plan.message and "--container-outcome" in plan.message


def test_plan_container_default_outcome_and_duration() -> None:
    p = {
        "metadata": {"annotations": {"sandbox.klt.dev/duration": "1.5"}},
        "spec": {"restartPolicy": "Never"},
    }
    plan = plan_container(
        p, {"name": "c", "image": "x"}, NodeSettings(default_outcome=Outcome.SUCCEED)
    )
    assert (
        plan.kind is PlanKind.SIMULATED and plan.outcome is Outcome.SUCCEED and plan.duration == 1.5
    )


def test_argo_rollout_plan_rolls_out_like_a_deployment_with_argo_status() -> None:
    template = {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c"}]}}
    rollout = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "r", "namespace": "ns", "uid": "u1", "generation": 2},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"a": "b"}},
            "template": template,
            "strategy": {"canary": {"steps": [{"setWeight": 50}]}},
        },
    }
    first = rollout_plan(rollout, [], 0.0)
    assert first.create is not None
    assert first.create["metadata"]["ownerReferences"][0]["kind"] == "Rollout"
    assert first.status["phase"] == "Progressing" and "stableRS" not in first.status
    rs = {**first.create, "status": {"replicas": 2, "readyReplicas": 2, "availableReplicas": 2}}
    done = rollout_plan(rollout, [rs], 0.0)
    assert done.create is None
    assert done.status["phase"] == "Healthy"
    assert done.status["replicas"] == done.status["updatedReplicas"] == 2
    assert done.status["stableRS"] == done.status["currentPodHash"]
    assert done.status["observedGeneration"] == "2" and done.status["selector"] == "a=b"
    paused = rollout_plan({**rollout, "spec": {**rollout["spec"], "paused": True}}, [rs], 0.0)
    assert paused.status["phase"] == "Paused"
