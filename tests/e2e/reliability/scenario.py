"""The multi-workload app the reliability tests deploy, and what they read back afterwards.

Role: `Scenario` applies an app of N Deployments with app-level and workload-level pre/post
tasks in python and deno. Each task's code appends one line naming its KeptnTask (built from
KEPTN_CONTEXT and the definition name passed in DATA) to `out_file`: that file is the runners'
own record of how often each task really ran, independent of Jobs and pods. `observe()` gathers
everything the tests assert on (Jobs and pods per task, lines per task, flow Events per object,
spans in the trace file) into one `Observed`.
Invariant: reads tolerate injected API faults (retried); nothing here asserts.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from lifecycle.core import model
from lifecycle.kube import AlreadyExists, KubeClient, KubeError, NotFound
from tests.e2e.flow.workloads import deployment
from tests.support.waiting import eventually_async
from tracing.setup import read_span_lines

__all__ = ["Observed", "Scenario", "retrying"]

Body = dict[str, Any]
T = TypeVar("T")

PY_CODE = """\
import json, os, time
data = json.loads(os.environ["DATA"])
ctx = json.loads(os.environ["KEPTN_CONTEXT"])
time.sleep(float(data["sleep"]))
parts = [ctx.get(k, "") for k in ("objectType", "appName", "workloadName", "taskType")]
with open(data["out"], "a") as out:
    out.write("/".join(parts + [data["definition"]]) + "\\n")
print("marked", parts)
"""

DENO_CODE = """\
const data = JSON.parse(Deno.env.get("DATA"));
const ctx = JSON.parse(Deno.env.get("KEPTN_CONTEXT"));
await new Promise((r) => setTimeout(r, parseFloat(data.sleep) * 1000));
const parts = ["objectType", "appName", "workloadName", "taskType"].map((k) => ctx[k] ?? "");
Deno.writeTextFileSync(data.out, parts.concat([data.definition]).join("/") + "\\n", { append: true });
console.log("marked", parts);
"""

PHASES = (
    "PreDeployTasks",
    "PreDeployEvaluations",
    "Deploy",
    "PostDeployTasks",
    "PostDeployEvaluations",
)
FLOW_SUFFIXES = ("Started", "Succeeded", "Errored", "Completed")


async def retrying(call: Callable[[], Awaitable[T]], *, within: float = 30.0) -> T:
    """`call()` again while the API answers with an (injected) transient error."""
    async with asyncio.timeout(within):
        while True:
            try:
                return await call()
            except NotFound:
                raise
            except (KubeError, TimeoutError):
                await asyncio.sleep(0.05)


@dataclass
class Observed:
    """Everything the tests check, read after the flow finished."""

    app_versions: list[Body]
    workload_versions: list[Body]
    tasks: list[Body]
    jobs_per_task: collections.Counter[str]
    pods_per_job: collections.Counter[str]
    lines: collections.Counter[str]
    flow_events: collections.Counter[tuple[str, str]]
    """(involved object name, reason) -> number of Event objects (each also has `count`)."""
    event_counts: dict[tuple[str, str], int]
    """(involved object name, reason) -> sum of the Events' `count` fields."""
    spans: list[Body] = field(default_factory=list)

    def expected_flow_events(self) -> set[tuple[str, str]]:
        """`<App|Workload><Phase><Started|Succeeded>` for every phase of every version seen."""
        expected = set()
        for prefix, objs in (("App", self.app_versions), ("Workload", self.workload_versions)):
            for obj in objs:
                for phase in PHASES:
                    for end in ("Started", "Succeeded"):
                        expected.add((obj["metadata"]["name"], f"{prefix}{phase}{end}"))
        return expected

    def transition_events(self) -> set[tuple[str, str]]:
        """The (object, reason) pairs of the `<Phase>Started/Succeeded/Errored` Events."""
        return {k for k in self.flow_events if k[1] != "Completed"}

    def duplicate_span_ids(self) -> list[str]:
        """Span ids written more than once (at-least-once delivery: a re-export after a kill)."""
        ids = collections.Counter(str(s.get("spanId")) for s in self.spans)
        return [i for i, n in ids.items() if n > 1]

    def conflicting_span_ids(self) -> dict[str, dict[str, tuple[Any, Any]]]:
        """Span ids written twice with different contents (a re-export must be the same span):
        span name -> the fields that differ (first, then later value). The resource is the
        exporting process's (its service.instance.id changes with each restart), not the span's."""
        seen: dict[str, Body] = {}
        conflicts: dict[str, dict[str, tuple[Any, Any]]] = {}
        for span in self.spans:
            first = seen.setdefault(str(span.get("spanId")), span)
            diff = {
                k: (first.get(k), span.get(k))
                for k in span
                if k != "resource" and first.get(k) != span.get(k)
            }
            if diff:
                conflicts[str(span.get("name"))] = diff
        return conflicts

    def span_names(self) -> collections.Counter[str]:
        """Names of the distinct span ids, with the random part of task names
        (`pre-py-mark-12345`) cut off."""
        unique = {str(s.get("spanId")): str(s.get("name")) for s in self.spans}
        return collections.Counter(re.sub(r"-\d{5}$", "", n) for n in unique.values())


@dataclass
class Scenario:
    """An app `app` of `workloads` Deployments in `namespace`, tasks writing to `out_file`."""

    client: KubeClient
    namespace: str
    out_file: Path
    app: str = "shop"
    workloads: tuple[str, ...] = ("cart", "front", "pay")
    version: str = "1.0"
    task_sleep: float = 0.4
    app_pre: tuple[str, ...] = ("py-mark", "deno-mark")
    app_post: tuple[str, ...] = ("py-mark",)
    workload_pre: tuple[str, ...] = ("py-mark", "deno-mark")
    workload_post: tuple[str, ...] = ("deno-mark",)

    @property
    def expected_tasks(self) -> int:
        per_workload = len(self.workload_pre) + len(self.workload_post)
        return len(self.app_pre) + len(self.app_post) + per_workload * len(self.workloads)

    @staticmethod
    def line_of(task: Body) -> str:
        """The line a task's runner writes, from the KeptnTask's own spec."""
        spec = task.get("spec") or {}
        ctx = spec.get("context") or {}
        parts = [str(ctx.get(k, "")) for k in ("objectType", "appName", "workloadName", "taskType")]
        return "/".join([*parts, str(spec.get("taskDefinition", ""))])

    def _definition(self, name: str, runtime: str, code: str) -> Body:
        params = {"out": str(self.out_file), "definition": name, "sleep": str(self.task_sleep)}
        return {
            "apiVersion": model.KEPTN_TASK_DEFINITION.api_version,
            "kind": "KeptnTaskDefinition",
            "metadata": {"name": name, "namespace": self.namespace},
            "spec": {
                runtime: {"inline": {"code": code}, "parameters": {"map": params}},
                "retries": 0,
                "timeout": "60s",
            },
        }

    async def _create(self, kind: model.ResourceKind, body: Body) -> None:
        async def call() -> Body:
            return await self.client.create(kind, body, self.namespace)

        with contextlib.suppress(AlreadyExists):  # an earlier attempt went through
            await retrying(call)

    async def apply_app(self) -> None:
        """Task definitions, the KeptnAppContext and the KeptnApp (no workloads yet)."""
        self.out_file.touch()
        await self._create(
            model.KEPTN_TASK_DEFINITION, self._definition("py-mark", "python", PY_CODE)
        )
        await self._create(
            model.KEPTN_TASK_DEFINITION, self._definition("deno-mark", "deno", DENO_CODE)
        )
        context = {
            "metadata": {"name": self.app, "namespace": self.namespace},
            "spec": {
                "preDeploymentTasks": list(self.app_pre),
                "postDeploymentTasks": list(self.app_post),
            },
        }
        await self._create(model.KEPTN_APP_CONTEXT, context)
        app = {
            "metadata": {"name": self.app, "namespace": self.namespace},
            "spec": {
                "version": self.version,
                "workloads": [{"name": w, "version": self.version} for w in self.workloads],
            },
        }
        await self._create(model.KEPTN_APP, app)

    async def deploy(self) -> None:
        """The Deployments (their pods are gated by the operator's webhook)."""
        for name in self.workloads:
            await self._create(model.DEPLOYMENT, self._deployment(name))

    def _deployment(self, name: str) -> Body:
        keys = {
            "keptn.sh/pre-deployment-tasks": ",".join(self.workload_pre),
            "keptn.sh/post-deployment-tasks": ",".join(self.workload_post),
        }
        return deployment(name, version=self.version, app=self.app, keys=keys)

    async def wait_admitted(self, within: float = 20.0) -> None:
        """Every workload's pod went through the webhook: gated, with its KeptnWorkload.

        The webhook's failurePolicy is Ignore, so a pod created while no operator serves it
        runs ungated and unmanaged; tests that kill the operator wait for this first.
        """
        async with asyncio.timeout(within):
            while True:
                pods = await self.list(model.POD, "app")
                gated = {
                    p["metadata"]["labels"]["app"]
                    for p in pods
                    if any(
                        g.get("name") == "keptn-prechecks-gate"
                        for g in (p.get("spec") or {}).get("schedulingGates") or ()
                    )
                    or (p["metadata"].get("annotations") or {}).get(
                        "keptn.sh/scheduling-gate-removed"
                    )
                }
                workloads = await self.list(model.KEPTN_WORKLOAD)
                if gated >= set(self.workloads) and len(workloads) == len(self.workloads):
                    return
                await asyncio.sleep(0.02)

    async def list(self, kind: model.ResourceKind, selector: str | None = None) -> list[Body]:
        async def call() -> tuple[list[Body], str]:
            return await self.client.list(kind, self.namespace, label_selector=selector)

        items, _ = await retrying(call)
        return items

    async def phase(self) -> str:
        """Where the flow is: the AppVersion's and the WorkloadVersions' current phases."""
        objs = await self.list(model.KEPTN_APP_VERSION) + await self.list(
            model.KEPTN_WORKLOAD_VERSION
        )
        return "/".join(str((o.get("status") or {}).get("currentPhase", "-")) for o in objs)

    async def wait_phase(self, phase: str, within: float = 30.0) -> None:
        """Until some version of the flow is in `phase` (e.g. mid-flow: WorkloadPreDeployTasks)."""

        async def reached() -> bool:
            return phase in await self.phase()

        await eventually_async(reached, within, step=0.05)

    async def done(self) -> bool:
        """The AppVersion and every WorkloadVersion finished (in any end state)."""
        avs = await self.list(model.KEPTN_APP_VERSION)
        wvs = await self.list(model.KEPTN_WORKLOAD_VERSION)
        ends = ("Succeeded", "Failed", "Warning", "Deprecated")
        return (
            len(avs) == 1
            and len(wvs) == len(self.workloads)
            and all((o.get("status") or {}).get("status") in ends for o in avs + wvs)
        )

    async def wait_done(self, within: float) -> float:
        """Seconds until `done()`; fails the test with the phases seen when it never gets there."""
        start = time.monotonic()
        try:
            async with asyncio.timeout(within):
                while True:
                    if await self.done():
                        break
                    await asyncio.sleep(0.05)
        except TimeoutError:
            pytest.fail(f"flow not finished within {within} s; phases: {await self.phase()}")
        return time.monotonic() - start

    async def wait_lines(self, within: float = 5.0) -> None:
        """Runner output trails the Job's completion by at most a moment; wait for all lines."""
        async with asyncio.timeout(within):
            while True:
                if len(self.out_file.read_text().splitlines()) >= self.expected_tasks:
                    return
                await asyncio.sleep(0.05)

    async def observe(self, trace_file: Path | None = None) -> Observed:
        tasks = await self.list(model.KEPTN_TASK)
        jobs = await self.list(model.JOB)
        pods = await self.list(model.POD, "job-name")
        events = await self.list(model.EVENT)
        flow_events: collections.Counter[tuple[str, str]] = collections.Counter()
        event_counts: dict[tuple[str, str], int] = collections.defaultdict(int)
        for e in events:
            if str(e.get("reason", "")).endswith(FLOW_SUFFIXES):
                key = (str(e["involvedObject"]["name"]), str(e["reason"]))
                flow_events[key] += 1
                event_counts[key] += int(e.get("count") or 1)
        return Observed(
            app_versions=await self.list(model.KEPTN_APP_VERSION),
            workload_versions=await self.list(model.KEPTN_WORKLOAD_VERSION),
            tasks=tasks,
            jobs_per_task=collections.Counter(
                str((j["metadata"].get("annotations") or {}).get("keptn.sh/task-name"))
                for j in jobs
            ),
            pods_per_job=collections.Counter(
                str(p["metadata"]["labels"]["job-name"]) for p in pods
            ),
            lines=collections.Counter(self.out_file.read_text().splitlines()),
            flow_events=flow_events,
            event_counts=dict(event_counts),
            spans=_spans(trace_file),
        )


def _spans(trace_file: Path | None) -> list[Body]:
    """The spans of a JSON-lines trace file; none when there is no file (nothing exported)."""
    if trace_file is None or not trace_file.exists():
        return []
    return read_span_lines(trace_file)
