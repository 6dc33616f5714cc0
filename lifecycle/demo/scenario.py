"""The demo's story: three versions of podtato-head, each with the outcome it must end with.

Role: `STEPS` says, per version, the error ratio the app reports (pushed to Prometheus before the
version is applied), the AppVersion state it must end in, an event reason that must appear, and
the workload whose new pods must stay Pending behind the scheduling gate (or None).
`play(stack, console, ...)` seeds the metrics, applies each version with kubectl, shows progress
while it runs and returns one `Outcome` per step; `expected(outcome)` says whether it matched.

    0.1.0  error ratio 0.2 %   -> Succeeded (every task and evaluation passes)
    0.2.0  error ratio 23 %    -> Failed: error-rate-ok fails after the rollout (*PostDeployEvaluationsErrored)
    0.3.0  error ratio 0.2 %   -> Failed: frontend's check-db-schema task fails (WorkloadPreDeployTasksErrored),
                                  frontend 0.3.0 pods stay Pending (SchedulingGated)

Invariants: reads the cluster through the demo's own KubeClient (never the operator's); every wait
is bounded, so a broken flow ends the demo with a non-zero exit instead of hanging.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import cast

from rich.console import Console
from rich.live import Live

from lifecycle.commands.promlocal import Series
from lifecycle.commands.trace import events_about
from lifecycle.core import model
from lifecycle.core.bodies import (
    KeptnAppVersionBody,
    KeptnEvaluationBody,
    KeptnTaskBody,
    KeptnWorkloadVersionBody,
)
from lifecycle.core.kubebodies import EventBody, PodBody
from lifecycle.core.meta import annotations_of, name_of, owner_references_of
from lifecycle.demo import manifests
from lifecycle.demo.stack import Stack
from lifecycle.demo.view import Board, change_line
from lifecycle.kube import KubeClient, KubeError

__all__ = ["STEPS", "Outcome", "Step", "expected", "failure_reason", "play"]

NS = manifests.NAMESPACE
APP = "podtato-head"
FINAL = frozenset({"Succeeded", "Failed", "Warning", "Deprecated"})
GATE = "keptn-prechecks-gate"


@dataclass(frozen=True, slots=True)
class Step:
    version: str
    error_ratio: float
    expect_state: str
    expect_reason: str
    """A substring of an event reason on the app version or its workload versions."""
    story: str
    held_workload: str | None = None
    """The workload whose pods of this version must stay Pending, gated."""


STEPS: tuple[Step, ...] = (
    Step("0.1.0", 0.002, "Succeeded", "Completed", "every task and evaluation passes"),
    Step(
        "0.2.0",
        0.23,
        "Failed",
        "PostDeployEvaluationsErrored",
        "the error ratio is 23% after the rollout: error-rate-ok fails",
    ),
    Step(
        "0.3.0",
        0.002,
        "Failed",
        "WorkloadPreDeployTasksErrored",
        "frontend 0.3.0 needs DB schema 42: its check-db-schema task fails",
        held_workload="frontend",
    ),
)


@dataclass(slots=True)
class Outcome:
    """What a step ended with."""

    step: Step
    app_version: KeptnAppVersionBody | None = None
    workload_versions: list[KeptnWorkloadVersionBody] = field(default_factory=list)
    events: list[EventBody] = field(default_factory=list)
    held_pods: list[PodBody] = field(default_factory=list)
    failed_children: list[KeptnTaskBody | KeptnEvaluationBody] = field(default_factory=list)
    """KeptnTasks and KeptnEvaluations of the version and its workload versions that failed."""
    seconds: float = 0.0
    problem: str = ""

    @property
    def name(self) -> str:
        return name_of(self.app_version or {}) or f"{APP}-{self.step.version}"

    @property
    def state(self) -> str:
        return str((self.app_version or {}).get("status", {}).get("status") or "not created")


def failure_reason(child: KeptnTaskBody | KeptnEvaluationBody) -> str:
    """Why a failed KeptnEvaluation or KeptnTask failed, in one line."""
    name = name_of(child)
    if child.get("kind") == "KeptnEvaluation":
        evaluation = model.KEPTN_EVALUATION.view(child)
        failed = [
            f"{metric}: {item.get('message', '')}"
            for metric, item in sorted(
                (evaluation.get("status", {}).get("evaluationStatus") or {}).items()
            )
            if item.get("status") == "Failed"
        ]
        definition = evaluation.get("spec", {}).get("evaluationDefinition")
        return f"evaluation {name} ({definition}): " + "; ".join(failed)
    task = model.KEPTN_TASK.view(child)
    status = task.get("status", {})
    why = status.get("message") or status.get("reason") or "failed"
    return f"task {name} ({task.get('spec', {}).get('taskDefinition')}): {why}"


def expected(outcome: Outcome) -> bool:
    """The step ended as its story says."""
    return not outcome.problem


def _check(outcome: Outcome) -> str:
    step = outcome.step
    if outcome.state != step.expect_state:
        return f"AppVersion ended {outcome.state}, expected {step.expect_state}"
    reasons = {str(e.get("reason", "")) for e in outcome.events}
    if not any(step.expect_reason in r for r in reasons):
        return f"no {step.expect_reason} event"
    if step.held_workload:
        if not outcome.held_pods:
            return f"no {step.held_workload} {step.version} pods found"
        for pod in outcome.held_pods:
            gates = [g.get("name") for g in pod.get("spec", {}).get("schedulingGates") or ()]
            if pod.get("status", {}).get("phase") != "Pending" or GATE not in gates:
                return (
                    f"pod {name_of(pod)} is not held (phase {pod.get('status', {}).get('phase')})"
                )
    return ""


def seed_series(ratio: float, now: float, *, history: bool) -> list[Series]:
    """The app's own telemetry: availability, error ratio and (with history) 6 min of latency."""
    labels = {"app": APP, "namespace": NS}
    series = [
        Series({"__name__": "podtato_head_http_error_ratio", **labels}, [(now, ratio)]),
        Series({"__name__": "podtato_head_availability_ratio", **labels}, [(now, 1.0)]),
    ]
    if history:
        points = [(now - 360 + 15 * i, 0.12 + 0.02 * (i % 5)) for i in range(25)]
        series.append(
            Series({"__name__": "podtato_head_request_duration_seconds", **labels}, points)
        )
    return series


async def _metric_shows(client: KubeClient, ratio: float, within: float) -> None:
    """Wait until the KeptnMetric the evaluation reads carries the ratio just pushed."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(within):
            while True:
                with contextlib.suppress(KubeError):
                    metric = model.KEPTN_METRIC.view(
                        await client.get(model.KEPTN_METRIC, "http-error-rate", NS)
                    )
                    value = metric.get("status", {}).get("value")
                    if value is not None and abs(float(value) - ratio) < 1e-9:
                        return
                await asyncio.sleep(0.1)


async def _versions(
    client: KubeClient,
) -> tuple[list[KeptnAppVersionBody], list[KeptnWorkloadVersionBody]]:
    avs, _ = await client.list(model.KEPTN_APP_VERSION, NS)
    wvs, _ = await client.list(model.KEPTN_WORKLOAD_VERSION, NS)
    return (
        [model.KEPTN_APP_VERSION.view(a) for a in avs],
        [model.KEPTN_WORKLOAD_VERSION.view(w) for w in wvs],
    )


def _of_version(
    wvs: Sequence[KeptnWorkloadVersionBody], version: str
) -> list[KeptnWorkloadVersionBody]:
    return [
        w
        for w in wvs
        if w.get("spec", {}).get("app") == APP and w.get("spec", {}).get("version") == version
    ]


async def _wait_done(
    client: KubeClient, step: Step, within: float
) -> tuple[KeptnAppVersionBody | None, list[KeptnWorkloadVersionBody]]:
    """The step's AppVersion once final, and its workload versions once final (bounded)."""
    av: KeptnAppVersionBody | None = None
    wvs: list[KeptnWorkloadVersionBody] = []
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(within):
            while True:
                avs, all_wvs = await _versions(client)
                av = next(
                    (a for a in avs if a.get("spec", {}).get("version") == step.version), None
                )
                wvs = _of_version(all_wvs, step.version)
                app_done = av is not None and av.get("status", {}).get("status") in FINAL
                workloads_done = len(wvs) == 4 and all(
                    w.get("status", {}).get("status") in FINAL for w in wvs
                )
                if app_done and workloads_done:
                    break
                await asyncio.sleep(0.1)
    return av, wvs


def _pod(listed: Mapping[str, object]) -> PodBody:
    return cast(PodBody, listed)  # a core/v1 Pod as the API server lists it


async def _collect(client: KubeClient, outcome: Outcome) -> None:
    names = {outcome.name} | {name_of(w) for w in outcome.workload_versions}
    outcome.events = await events_about(client, NS, names)

    def ours(child: KeptnTaskBody | KeptnEvaluationBody) -> bool:
        return any(ref.get("name") in names for ref in owner_references_of(child))

    evaluations, _ = await client.list(model.KEPTN_EVALUATION, NS)
    outcome.failed_children += [
        evaluation
        for evaluation in map(model.KEPTN_EVALUATION.view, evaluations)
        if evaluation.get("status", {}).get("overallStatus") == "Failed" and ours(evaluation)
    ]
    tasks, _ = await client.list(model.KEPTN_TASK, NS)
    outcome.failed_children += [
        task
        for task in map(model.KEPTN_TASK.view, tasks)
        if task.get("status", {}).get("status") == "Failed" and ours(task)
    ]
    held = outcome.step.held_workload
    if held:
        pods, _ = await client.list(model.POD, NS, label_selector=f"component={held}")
        outcome.held_pods = [
            p
            for p in map(_pod, pods)
            if annotations_of(p).get("keptn.sh/version") == outcome.step.version
        ]


class _Progress:
    """Polls app and workload versions; redraws the Live table or prints phase changes."""

    def __init__(self, client: KubeClient, console: Console) -> None:
        self.client = client
        self.console = console
        self.board = Board()
        self.live: Live | None = None

    async def run(self) -> None:
        if self.console.is_terminal:
            self.live = Live(self.board.table(), console=self.console, refresh_per_second=8)
            self.live.start()
        try:
            while True:
                await self.tick()
                await asyncio.sleep(0.2)
        finally:
            if self.live is not None:
                self.live.stop()

    async def tick(self) -> None:
        try:
            avs, wvs = await _versions(self.client)
        except KubeError:
            return
        changed = self.board.update([*avs, *wvs])
        now = datetime.now(UTC)
        if self.live is not None:
            self.live.update(self.board.table(now))
        else:
            for row in sorted(changed, key=lambda r: (r.kind != "app", r.name)):
                self.console.print(change_line(row, now))  # wraps at words, never mid-word


async def play(stack: Stack, console: Console, *, step_timeout: float = 90.0) -> list[Outcome]:
    """Apply the three versions in turn and return how each ended."""
    assert stack.client is not None and stack.prometheus is not None
    client = stack.client
    docs = manifests.load_example()
    await stack.prometheus.push(seed_series(STEPS[0].error_ratio, time.time(), history=True))
    progress = _Progress(client, console)
    task = asyncio.create_task(progress.run())
    outcomes: list[Outcome] = []
    try:
        for index, step in enumerate(STEPS):
            started = time.monotonic()
            if index:
                await stack.prometheus.push(
                    seed_series(step.error_ratio, time.time(), history=False)
                )
                await _metric_shows(client, step.error_ratio, within=10)
            path = manifests.dump(
                manifests.render_version(docs, step.version, stack.prometheus.url),
                stack.paths.manifests / f"podtato-head-{step.version}.yaml",
            )
            console.print(
                f"[bold]▶ podtato-head {step.version}[/bold]: {step.story} "
                f"(error ratio {step.error_ratio:.1%}); kubectl apply -f {path.name}"
            )
            outcome = Outcome(step)
            try:
                await stack.apply(path)
            except Exception as exc:  # kubectl's own message is the best explanation
                outcome.problem = str(exc)
                outcomes.append(outcome)
                continue
            outcome.app_version, outcome.workload_versions = await _wait_done(
                client, step, step_timeout
            )
            outcome.seconds = time.monotonic() - started
            await _collect(client, outcome)
            outcome.problem = _check(outcome)
            outcomes.append(outcome)
        await progress.tick()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return outcomes
