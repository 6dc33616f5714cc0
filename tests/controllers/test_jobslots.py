"""Tasks beyond ``--max-jobs`` wait for a slot without polling: a finishing Job wakes them.

Not timed: the assertions are on reconcile counts, fired and pending work-queue timers, and
statuses; the only sleep is a short window in which nothing may happen.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from lifecycle.core import model
from lifecycle.flow.jobslots import JobSlots
from lifecycle.kube import ObjectKey

from .conftest import Env, OperatorFactory
from .test_tasks import definition, keptn_task, status_is

LIMIT, EXTRA = 2, 2


def hold_code(release: Path) -> str:
    """Python task code that runs until ``release`` exists."""
    return f"import os, time\nwhile not os.path.exists({str(release)!r}):\n    time.sleep(0.05)\n"


async def test_tasks_waiting_for_a_job_slot_are_woken_by_a_finished_job_not_a_timer(
    env: Env, operator_factory: OperatorFactory, tmp_path: Path
) -> None:
    op = await operator_factory(["taskdefinition", "task"], max_jobs=LIMIT)
    controller = op.controllers["task"]
    release = tmp_path / "release"
    await env.create(model.KEPTN_TASK_DEFINITION, definition("hold", "python", hold_code(release)))
    names = [f"pre-hold-{i}" for i in range(LIMIT + EXTRA)]
    for name in names:
        await env.create(model.KEPTN_TASK, keptn_task(name, "hold"))
    for name in names[:LIMIT]:
        await env.wait_for(model.KEPTN_TASK, name, status_is("Progressing"))
    for name in names[LIMIT:]:
        waiting = await env.wait_for(
            model.KEPTN_TASK,
            name,
            lambda t: (
                t is not None and (t.get("status") or {}).get("reason") == "WaitingForJobSlot"
            ),
        )
        assert waiting["status"]["message"] == f"{LIMIT} Jobs already running (--max-jobs)"
        assert "jobName" not in waiting["status"]

    # quiet: the waiting tasks set no timer and are not reconciled while the Jobs run
    last, still = -1, 0
    while still < 10:
        still = still + 1 if controller.reconciles == last else 0
        last = controller.reconciles
        await asyncio.sleep(0.1)
    fired = controller.queue.fired
    assert controller.queue.deadlines() == [], "a timer for a task waiting on a Job slot"
    await asyncio.sleep(1.0)
    assert (controller.reconciles, controller.queue.fired) == (last, fired)
    jobs, _ = await env.client.list(model.JOB, env.namespace)
    assert len(jobs) == LIMIT

    release.touch()  # the running Jobs finish: their slots wake the waiting tasks
    for name in names:
        done = await env.wait_for(model.KEPTN_TASK, name, status_is("Succeeded", "Failed"))
        assert done["status"]["status"] == "Succeeded", done["status"]


class _Jobs:
    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def list(self, namespace: str | None = None) -> list[dict[str, Any]]:
        return self.items


def _task(i: int) -> dict[str, Any]:
    meta = {"name": f"t{i}", "namespace": "demo", "uid": f"u{i}"}
    return {"metadata": meta | {"creationTimestamp": f"2026-01-01T00:00:0{i}Z"}}


def _job(i: int, done: bool) -> dict[str, Any]:
    owner = {"kind": "KeptnTask", "uid": f"u{i}", "controller": True}
    conditions = [{"type": "Complete", "status": "True"}] if done else []
    return {"metadata": {"ownerReferences": [owner]}, "status": {"conditions": conditions}}


def test_waiting_tasks_go_first_come_first_served_and_are_woken_by_a_freed_slot() -> None:
    jobs, woken = _Jobs(), list[ObjectKey]()
    slots = JobSlots(1, jobs, lambda j: not j["status"]["conditions"], wake=woken.append)
    t = [_task(i) for i in range(4)]
    assert slots.acquire(t[0])
    jobs.items = [_job(0, done=False)]
    assert not slots.acquire(t[2]) and not slots.acquire(t[1])  # t1 is older: first in line
    assert slots.freed("MODIFIED", jobs.items[0], None) == []  # still running
    jobs.items = [_job(0, done=True)]
    assert slots.freed("MODIFIED", jobs.items[0], None) == [ObjectKey("demo", "t1")]
    assert not slots.acquire(t[3]) and not slots.acquire(t[2])  # the slot is t1's turn
    assert slots.acquire(t[1])
    slots.release(t[1])  # e.g. its Job was refused: the next in line is woken
    assert woken == [ObjectKey("demo", "t2")]
    slots.forget(ObjectKey("demo", "t2"))  # t2 deleted meanwhile: t3 is next
    assert woken[-1] == ObjectKey("demo", "t3") and slots.acquire(t[3])
