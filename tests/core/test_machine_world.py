"""A tiny replay world for the pure machine, plus tests of the replay rules themselves.

`World` plays the controllers' part: it applies each decision's status patch, creates the
requested children (Pending), records the events like the event recorder (by key), and lets a
test move children, workloads and the rollout. No mocks: the real decide() drives it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from lifecycle.core.actions import CreateEvaluation, CreateTask, EmitEvent
from lifecycle.core.machine import (
    AppVersionSnapshot,
    Decision,
    MachineConfig,
    Rollout,
    WorkloadVersionSnapshot,
    apply_merge_patch,
    decide,
)

T0 = datetime(2026, 11, 27, 11, 0, tzinfo=UTC)


def app_version(
    *,
    app: str = "podtato",
    version: str = "0.1.0",
    uid: str = "uid-app-1",
    pre_tasks: Iterable[str] = (),
    pre_evals: Iterable[str] = (),
    post_tasks: Iterable[str] = (),
    post_evals: Iterable[str] = (),
    promotion: Iterable[str] = (),
    workloads: Iterable[tuple[str, str]] = (),
    metadata: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A KeptnAppVersion body as the app controller creates it."""
    return {
        "apiVersion": "lifecycle.keptn.sh/v1",
        "kind": "KeptnAppVersion",
        "metadata": {"name": f"{app}-{version}-6b86b273", "namespace": "demo", "uid": uid},
        "spec": {
            "appName": app,
            "version": version,
            "preDeploymentTasks": list(pre_tasks),
            "preDeploymentEvaluations": list(pre_evals),
            "postDeploymentTasks": list(post_tasks),
            "postDeploymentEvaluations": list(post_evals),
            "promotionTasks": list(promotion),
            "workloads": [{"name": n, "version": v} for n, v in workloads],
            "metadata": dict(metadata or {}),
        },
    }


def workload_version(
    *,
    app: str = "podtato",
    workload: str = "frontend",
    version: str = "0.1.0",
    uid: str = "uid-wv-1",
    pre_tasks: Iterable[str] = (),
    pre_evals: Iterable[str] = (),
    post_tasks: Iterable[str] = (),
    post_evals: Iterable[str] = (),
    metadata: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A KeptnWorkloadVersion body as the workload controller creates it."""
    return {
        "apiVersion": "lifecycle.keptn.sh/v1",
        "kind": "KeptnWorkloadVersion",
        "metadata": {"name": f"{app}-{workload}-{version}", "namespace": "demo", "uid": uid},
        "spec": {
            "app": app,
            "workloadName": f"{app}-{workload}",
            "version": version,
            "preDeploymentTasks": list(pre_tasks),
            "preDeploymentEvaluations": list(pre_evals),
            "postDeploymentTasks": list(post_tasks),
            "postDeploymentEvaluations": list(post_evals),
            "resourceReference": {"uid": "rs-uid", "kind": "ReplicaSet", "name": f"{workload}-abc"},
            "metadata": dict(metadata or {}),
        },
    }


def passed_app(trace: str = "0af7651916cd43dd8448eb211c80319c") -> dict[str, Any]:
    """An AppVersion whose pre-deployment evaluations passed and whose AppDeploy span started."""
    body = app_version(workloads=[("frontend", "0.1.0")], metadata={"commit": "abc"})
    body["status"] = {
        "preDeploymentEvaluationStatus": "Succeeded",
        "phaseTraceIDs": {"AppDeploy": {"traceparent": f"00-{trace}-b7ad6b7169203331-01"}},
    }
    return body


@dataclass
class World:
    """Replays decisions of one object the way the controllers would."""

    obj: dict[str, Any]
    config: MachineConfig = field(default_factory=MachineConfig)
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    evaluations: dict[str, dict[str, Any]] = field(default_factory=dict)
    workload_versions: dict[str, dict[str, Any]] = field(default_factory=dict)
    missing: set[str] = field(default_factory=set)
    app: dict[str, Any] | None = None
    rollout: Rollout | None = None
    events: list[EmitEvent] = field(default_factory=list)
    raw_events: list[EmitEvent] = field(default_factory=list)
    created: list[CreateTask | CreateEvaluation] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)

    @property
    def status(self) -> dict[str, Any]:
        return dict(self.obj.get("status") or {})

    def snapshot(self) -> AppVersionSnapshot | WorkloadVersionSnapshot:
        if self.obj["kind"] == "KeptnAppVersion":
            return AppVersionSnapshot(
                obj=self.obj,
                tasks=self.tasks,
                evaluations=self.evaluations,
                workload_versions=self.workload_versions,
                missing_definitions=frozenset(self.missing),
            )
        return WorkloadVersionSnapshot(
            obj=self.obj,
            tasks=self.tasks,
            evaluations=self.evaluations,
            missing_definitions=frozenset(self.missing),
            app_version=self.app,
            rollout=self.rollout,
        )

    def step(self, now: datetime = T0) -> Decision:
        """Decide once, then carry the decision out."""
        decision = decide(self.snapshot(), now, self.config)
        self.decisions.append(decision)
        if decision.status:
            self.obj = apply_merge_patch(self.obj, {"status": decision.status})
        for action in decision.actions:
            if isinstance(action, EmitEvent):
                # like the event recorder: the Event's name comes from the key, a repeat is a no-op
                if all(e.key != action.key for e in self.events):
                    self.events.append(action)
                self.raw_events.append(action)
            elif isinstance(action, CreateTask):
                self.created.append(action)
                self.tasks.setdefault(action.name, {"status": {"status": "Pending"}})
            elif isinstance(action, CreateEvaluation):
                self.created.append(action)
                self.evaluations.setdefault(action.name, {"status": {"overallStatus": "Pending"}})
        return decision

    def reasons(self) -> list[str]:
        return [e.reason for e in self.events]

    def set_task(self, definition: str, state: str, message: str = "") -> None:
        for action in self.created:
            if isinstance(action, CreateTask) and action.definition == definition:
                self.tasks[action.name] = {"status": {"status": state, "message": message}}

    def set_evaluation(self, definition: str, state: str) -> None:
        for action in self.created:
            if isinstance(action, CreateEvaluation) and action.definition == definition:
                self.evaluations[action.name] = {"status": {"overallStatus": state}}

    def set_workload(self, name: str, state: str) -> None:
        self.workload_versions[name] = {"status": {"status": state}}


def test_world_applies_patches_and_creates_children() -> None:
    world = World(app_version(pre_tasks=["notify"]))
    world.step()
    assert world.status["currentPhase"] == "AppPreDeployTasks"
    assert len(world.tasks) == 1
    assert world.reasons() == ["AppPreDeployTasksStarted", "CreateTask"]


def test_replaying_an_applied_decision_changes_nothing() -> None:
    world = World(app_version(pre_tasks=["notify"]))
    world.step()
    again = world.step(T0 + timedelta(seconds=1))
    assert again.status == {}
    assert again.actions == ()
    assert again.requeue_at is None
