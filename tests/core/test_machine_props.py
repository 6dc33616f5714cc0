"""Property tests: random child-state sequences through the real decide().

Properties: terminal states are absorbing; phases never go backwards and a completed phase
never changes; every started phase ends exactly once (Started, then one Succeeded/Errored);
no transition's event is emitted twice; a failed pre-deployment phase never opens the gate.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lifecycle.core.machine import EMPTY, MachineConfig, Rollout, decide, gate_open
from lifecycle.core.phases import APP_PHASES, WORKLOAD_PHASES, State
from tests.core.test_machine_world import T0, World, app_version, passed_app, workload_version

NAMES = ["a", "b"]
definitions = st.lists(st.sampled_from(NAMES), max_size=2, unique=True)
operations = st.lists(
    st.tuples(st.sampled_from(["child", "workload", "rollout", "tick", "app"]), st.integers(0, 7)),
    max_size=30,
)


def _order(table: tuple[Any, ...]) -> dict[str, int]:
    order = {"": -1, "Completed": len(table)}
    order.update({str(row.phase): i for i, row in enumerate(table)})
    return order


def _advance(current: str, pick: int) -> str:
    """Children move Pending -> Progressing -> Succeeded | Failed, never back."""
    if current == "Pending":
        return "Progressing"
    if current == "Progressing":
        return "Failed" if pick % 4 == 0 else "Succeeded"
    return current


class Checker:
    """Runs a world and checks the invariants after every decision."""

    def __init__(self, world: World, table: tuple[Any, ...]) -> None:
        self.world = world
        self.table = table
        self.order = _order(table)
        self.now = T0

    def step(self) -> None:
        world = self.world
        before = world.status
        was_terminal = State.parse(before.get("status")).is_completed
        decision = world.step(self.now)
        after = world.status
        if was_terminal:
            assert decision is EMPTY
            return
        assert (
            self.order[after.get("currentPhase", "")] >= self.order[before.get("currentPhase", "")]
        )
        for row in self.table:
            old = State.parse(before.get(row.status_field))
            if old.is_completed:
                assert after.get(row.status_field) == before.get(row.status_field)
        for pre in ("preDeploymentStatus", "preDeploymentEvaluationStatus"):
            if State.parse(after.get(pre)) in (State.FAILED, State.DEPRECATED):
                assert not gate_open(world.obj)
        if world.config.block_deployment and gate_open(world.obj):
            assert State.parse(after.get("preDeploymentStatus")) is State.SUCCEEDED
            assert State.parse(after.get("preDeploymentEvaluationStatus")) is State.SUCCEEDED
        if decision.requeue_at is not None:
            assert decision.requeue_at > self.now

    def apply(self, op: str, pick: int) -> None:
        world = self.world
        if op == "child":
            pool = [(world.tasks, "status"), (world.evaluations, "overallStatus")]
            children, key = pool[pick % 2]
            if children:
                name = sorted(children)[pick % len(children)]
                current = children[name]["status"][key]
                children[name] = {"status": {key: _advance(current, pick)}}
        elif op == "workload":
            refs = world.obj["spec"].get("workloads", [])
            if refs:
                ref = refs[pick % len(refs)]
                name = f"podtato-{ref['name']}-{ref['version']}"
                current = (world.workload_versions.get(name) or {"status": {"status": "Pending"}})[
                    "status"
                ]["status"]
                world.workload_versions[name] = {"status": {"status": _advance(current, pick)}}
        elif op == "rollout" and world.rollout is not None:
            world.rollout = Rollout(2, min(2, world.rollout.available + 1))
        elif op == "tick":
            self.now += timedelta(seconds=15 * (pick + 1))
        elif op == "app" and world.app is not None:
            world.app["status"]["preDeploymentEvaluationStatus"] = "Succeeded"

    def drain(self) -> None:
        """External changes until the object finishes: children done, rollout ready, time passes."""
        world = self.world
        for _ in range(12):
            if State.parse(world.status.get("status")).is_completed:
                break
            for name in list(world.tasks):
                world.tasks[name] = {"status": {"status": "Succeeded"}}
            for name in list(world.evaluations):
                world.evaluations[name] = {"status": {"overallStatus": "Succeeded"}}
            for ref in world.obj["spec"].get("workloads", []):
                world.workload_versions[f"podtato-{ref['name']}-{ref['version']}"] = {
                    "status": {"status": "Succeeded"}
                }
            if world.app is not None:
                world.app["status"]["preDeploymentEvaluationStatus"] = "Succeeded"
            if world.rollout is not None:
                world.rollout = Rollout(2, 2)
            self.now += timedelta(minutes=1)
            self.step()
        assert State.parse(world.status.get("status")).is_completed
        self.step()  # absorbing

    def check_events(self) -> None:
        raw = self.world.raw_events
        flow = [e for e in raw if not e.reason.startswith("AppPreDeployEvaluations")]
        keys = [e.key for e in flow]
        assert len(keys) == len(set(keys)), keys
        for row in self.table:
            phase = str(row.phase)
            reasons = [e.reason for e in raw if e.reason.startswith(phase)]
            ends = [r for r in reasons if r in (f"{phase}Succeeded", f"{phase}Errored")]
            if f"{phase}Started" in reasons:
                assert reasons.count(f"{phase}Started") == 1
                assert reasons[0] == f"{phase}Started"
                assert len(ends) == 1 or self.world.status["status"] == "Deprecated"
            else:
                assert ends == []


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pre_tasks=definitions,
    pre_evals=definitions,
    post_tasks=definitions,
    post_evals=definitions,
    missing=st.sets(st.sampled_from(NAMES), max_size=1),
    blocking=st.booleans(),
    app_state=st.sampled_from(["Succeeded", "Pending", "Failed"]),
    ops=operations,
)
def test_workload_version_properties(
    pre_tasks: list[str],
    pre_evals: list[str],
    post_tasks: list[str],
    post_evals: list[str],
    missing: set[str],
    blocking: bool,
    app_state: str,
    ops: list[tuple[str, int]],
) -> None:
    app = passed_app()
    app["status"]["preDeploymentEvaluationStatus"] = app_state
    world = World(
        workload_version(
            pre_tasks=pre_tasks, pre_evals=pre_evals, post_tasks=post_tasks, post_evals=post_evals
        ),
        app=app,
        config=MachineConfig(block_deployment=blocking),
    )
    world.missing = set(missing)
    world.rollout = Rollout(2, 0)
    checker = Checker(world, WORKLOAD_PHASES)
    checker.step()
    for op, pick in ops:
        checker.apply(op, pick)
        checker.step()
    checker.drain()
    checker.check_events()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pre_tasks=definitions,
    pre_evals=definitions,
    post_tasks=definitions,
    post_evals=definitions,
    workloads=st.lists(st.sampled_from(["frontend", "backend"]), max_size=2, unique=True),
    blocking=st.booleans(),
    promotion=st.booleans(),
    ops=operations,
)
def test_app_version_properties(
    pre_tasks: list[str],
    pre_evals: list[str],
    post_tasks: list[str],
    post_evals: list[str],
    workloads: list[str],
    blocking: bool,
    promotion: bool,
    ops: list[tuple[str, int]],
) -> None:
    world = World(
        app_version(
            pre_tasks=pre_tasks,
            pre_evals=pre_evals,
            post_tasks=post_tasks,
            post_evals=post_evals,
            promotion=["a"],
            workloads=[(w, "0.1.0") for w in workloads],
        ),
        config=MachineConfig(block_deployment=blocking, promotion_tasks_enabled=promotion),
    )
    checker = Checker(world, APP_PHASES)
    checker.step()
    for op, pick in ops:
        checker.apply(op, pick)
        checker.step()
    checker.drain()
    checker.check_events()
    assert decide(world.snapshot(), checker.now, world.config) is EMPTY
