"""KeptnTask controller: one Job per task, its outcome mirrored into ``status`` (keptn.md §9).

Reconcile, in this order:
1. a task whose ``status.status`` is final is done: no Job lookup, no new Job (KLT #3921 looks
   up the Job first and reruns a completed task whose Job was TTL-deleted);
2. the KeptnTaskDefinition (task namespace, then the Keptn namespace); when missing, wait until
   ``creationTimestamp + ctx.config().definition_wait`` (woken at once when the definition
   appears) and then fail with ``could not find KeptnTaskDefinition: <def>``;
3. the Job (``lifecycle.core.runtimes.job_name``: deterministic, so a crash between "create Job" and
   "record jobName" finds the same Job); missing -> create it from ``runtimes.build_job``
   (parameters, secureParameters, KEPTN_CONTEXT, retries -> backoffLimit, timeout ->
   activeDeadlineSeconds, TTL) and record jobName/Progressing/startTime; inline code of a
   definition in the Keptn namespace is first copied into ``keptnfn-<def>`` beside the task
   (pods mount ConfigMaps of their own namespace only), owned by every task using it;
4. Job conditions: Complete or SuccessCriteriaMet -> Succeeded; Failed or FailureTarget ->
   Failed with the condition's reason and message (BackoffLimitExceeded, DeadlineExceeded);
   a running Job not yet recorded (crash before the status write) is adopted. A recorded Job
   that disappears before finishing fails the task (``JobNotFound``) instead of running the
   task again (KLT recreates it).

Event-driven: woken by its own changes, its Job (ownerReference) and its definition appearing;
the only timer is the definition deadline. Telemetry ``task_started``/``task_finished`` is
recorded only by the reconcile that committed the transition, so a restarted operator never
counts a task twice; the task span goes through ``ctx.marks`` (spanmarks.py), which exports it
again on a later reconcile until its ``keptn.sh/span-exported`` mark is written, so a crash
before delivery loses no span. Events (keptn.md §3): ``CreateTaskNotFound``,
``CreateTaskFailed`` on the KeptnTask. Must not poll, and never deletes a Job.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from lifecycle.core import model
from lifecycle.core.conditions import with_conditions
from lifecycle.core.naming import format_time, parse_time
from lifecycle.core.phases import LONG_NAMES, Phase, State
from lifecycle.core.runtimes import (
    FUNCTION_CONFIG_MAP_PREFIX,
    RuntimeImages,
    TaskDefinitionError,
    build_job,
    function_config_map,
    job_name,
)
from lifecycle.flow.context import OperatorContext
from lifecycle.flow.jobslots import JobSlots
from lifecycle.flow.taskrefs import missing_references
from lifecycle.flow.wakeups import children_waiting_on
from lifecycle.kube import (
    AlreadyExists,
    Controller,
    KubeError,
    NotFound,
    ObjectKey,
    Result,
    format_message,
    owner_keys,
    self_key,
)
from tracing.spans import export_child_span

__all__ = ["COMPONENT", "job_outcome", "setup"]

log = logging.getLogger(__name__)

COMPONENT: Final = "keptntask-controller"
Body = dict[str, Any]
_SUCCESS_CONDITIONS: Final = ("Complete", "SuccessCriteriaMet")
_FAILURE_CONDITIONS: Final = ("Failed", "FailureTarget")
_CODE_PREFIX: Final = FUNCTION_CONFIG_MAP_PREFIX
_REF_RETRY_SECONDS: Final = 2.0


def job_outcome(job: Mapping[str, Any]) -> tuple[State, str, str] | None:
    """(state, reason, message) from a Job's true conditions, or None while it runs."""
    conditions = [
        c for c in (job.get("status") or {}).get("conditions") or () if c.get("status") == "True"
    ]
    for cond in conditions:
        if cond.get("type") in _FAILURE_CONDITIONS:
            return State.FAILED, str(cond.get("reason") or ""), str(cond.get("message") or "")
    for cond in conditions:
        if cond.get("type") in _SUCCESS_CONDITIONS:
            return State.SUCCEEDED, "", ""
    return None


def _annotations(task: Body) -> dict[str, str]:
    meta = task.get("metadata") or {}
    spec = task.get("spec") or {}
    context = spec.get("context") or {}
    return {
        "namespace": str(meta.get("namespace", "")),
        "name": str(meta.get("name", "")),
        "phase": Phase.CREATE_TASK.value,
        "traceparent": str((meta.get("annotations") or {}).get("traceparent", "")),
        "appName": str(context.get("appName", "")),
        "appVersion": str(context.get("appVersion", "")),
        "workloadName": str(context.get("workloadName", "")),
        "workloadVersion": str(context.get("workloadVersion", "")),
        "taskName": str(meta.get("name", "")),
        "taskDefinitionName": str(spec.get("taskDefinition", "")),
    }


def _created(task: Body, now: datetime) -> datetime:
    text = (task.get("metadata") or {}).get("creationTimestamp")
    try:
        return parse_time(str(text)) if text else now
    except ValueError:
        return now


def setup(ctx: OperatorContext) -> Controller[ObjectKey]:
    """The KeptnTask controller: woken by tasks, their Jobs and their definitions."""
    tasks = ctx.informer(model.KEPTN_TASK)
    jobs = ctx.informer(model.JOB)
    job_slots = JobSlots(
        ctx.settings.max_concurrent_jobs, jobs.store, lambda job: job_outcome(job) is None
    )
    images = RuntimeImages(
        deno=ctx.settings.deno_runner_image, python=ctx.settings.python_runner_image
    )

    def emit(task: Body, reason: str, text: str, *, once: bool = False) -> None:
        meta = task.get("metadata") or {}
        context = (task.get("spec") or {}).get("context") or {}
        version = str(context.get("workloadVersion") or context.get("appVersion") or "")
        ctx.recorder(COMPONENT).emit(
            task,
            "Warning",
            reason,
            format_message(
                LONG_NAMES[Phase.CREATE_TASK],
                text,
                namespace=str(meta.get("namespace", "")),
                name=str(meta.get("name", "")),
                version=version,
            ),
            annotations=_annotations(task),
            key=reason if once else None,
        )

    async def write(task: Body, fields: Body) -> Body | None:
        """The changed status fields, written conditionally; None if nothing changed."""
        fields = with_conditions(model.KEPTN_TASK.kind, task, fields, ctx.now())
        return await ctx.client.write_status_fields(model.KEPTN_TASK, task, fields)

    async def finish(task: Body, state: State, reason: str, message: str) -> None:
        now = format_time(ctx.now())
        status = task.get("status") or {}
        fields: Body = {"status": state.value, "reason": reason, "message": message, "endTime": now}
        if not status.get("startTime"):
            fields["startTime"] = now
        done = await write(task, fields)
        if done is None:
            return
        if not status.get("startTime"):
            ctx.telemetry.task_started(done)
        ctx.telemetry.task_finished(done)
        export(done)

    def export(task: Body) -> None:
        """Its span, through the span marks (exported again after a crash until marked)."""
        if ctx.marks is not None:
            ctx.marks.child(model.KEPTN_TASK, task)
        else:
            export_child_span(ctx.spans, task)

    async def adopt(task: Body, name: str) -> None:
        """Record a running Job created before a crash (or before the status write landed)."""
        fields: Body = {"jobName": name, "status": State.PROGRESSING.value}
        if not (task.get("status") or {}).get("startTime"):
            fields["startTime"] = format_time(ctx.now())
        started = await write(task, fields)
        if started is not None and "startTime" in fields:
            ctx.telemetry.task_started(started)

    async def start_job(task: Body, definition: Body) -> Result:
        meta = task["metadata"]
        ns = str(meta.get("namespace") or "")
        try:
            body = build_job(
                task,
                definition,
                images=images,
                resolve=lambda n: ctx.find_here_or_keptn(model.KEPTN_TASK_DEFINITION, ns, n),
            )
        except TaskDefinitionError as err:
            emit(task, "CreateTaskFailed", f"could not merge KeptnTaskDefinition: {err} ")
            await finish(task, State.FAILED, "InvalidTaskDefinition", str(err))
            return Result()
        missing = await missing_references(ctx.client, ns, body, skip_prefix=_CODE_PREFIX)
        if missing:
            return await wait_for_references(task, missing)
        if not job_slots.acquire(task):
            await write(task, {"reason": "WaitingForJobSlot",
                               "message": f"{job_slots.limit} Jobs already running (--max-jobs)"})  # fmt: skip
            return Result(requeue_after=_REF_RETRY_SECONDS)
        try:
            await copy_shared_code(task, body)
            await ctx.client.create(model.JOB, body)
        except AlreadyExists:
            pass  # created before a crash or by a racing worker: the same Job, not a second run
        except KubeError:
            emit(task, "CreateTaskFailed", f"could not create Job: {meta['name']} ")
            raise
        await adopt(task, str(body["metadata"]["name"]))
        return Result()

    async def wait_for_references(task: Body, missing: list[str]) -> Result:
        """Say which ConfigMap/Secret is missing within seconds; fail after the definition wait."""
        kind = missing[0].split(" ", 1)[0]
        reason = f"{kind}NotFound"
        text = f"could not find {', '.join(missing)} the task's Job needs"
        now = ctx.now()
        if now >= _created(task, now) + ctx.config().definition_wait:
            await finish(task, State.FAILED, reason, text)
            return Result()
        emit(task, reason, f"{text} ", once=True)
        await write(task, {"reason": reason, "message": f"{text}; waiting"})
        return Result(requeue_after=_REF_RETRY_SECONDS)

    async def copy_shared_code(task: Body, job: Body) -> None:
        """Inline code of a definition in another (the Keptn) namespace, copied beside the task.

        A pod can only mount ConfigMaps of its own namespace. The copy is owned by every task
        that uses it, so garbage collection removes it with the last of them.
        """
        ns = str(task["metadata"].get("namespace") or "")
        owner = model.owner_reference(task, model.KEPTN_TASK, controller=None)
        for volume in job["spec"]["template"]["spec"].get("volumes") or ():
            name = str((volume.get("configMap") or {}).get("name") or "")
            if not name.startswith(_CODE_PREFIX):
                continue
            source = ctx.find_here_or_keptn(
                model.KEPTN_TASK_DEFINITION, ns, name.removeprefix(_CODE_PREFIX)
            )
            if source is None:
                continue
            wanted = function_config_map(source)
            if wanted is None or source["metadata"].get("namespace") == ns:
                continue  # the definition controller keeps a same-namespace ConfigMap
            try:
                current = await ctx.client.get(model.CONFIG_MAP, name, ns)
            except NotFound:
                copy = {**wanted, "metadata": {"name": name, "namespace": ns,
                                               "ownerReferences": [owner]}}  # fmt: skip
                try:
                    await ctx.client.create(model.CONFIG_MAP, copy)
                    continue
                except AlreadyExists:
                    current = await ctx.client.get(model.CONFIG_MAP, name, ns)
            owners = list(current["metadata"].get("ownerReferences") or [])
            patch: Body = {}
            if (current.get("data") or {}).get("code") != wanted["data"]["code"]:
                patch["data"] = wanted["data"]
            if all(o.get("uid") != owner["uid"] for o in owners):
                patch["metadata"] = {"ownerReferences": [*owners, owner]}
            if patch:
                await ctx.client.patch(model.CONFIG_MAP, name, patch, ns)

    async def reconcile(key: ObjectKey) -> Result:
        task = tasks.store.get(key.namespace, key.name)
        if task is None:
            return Result()
        status = task.get("status") or {}
        if State.parse(status.get("status")).is_completed:
            if ctx.marks is not None:  # a span a crash kept undelivered (no-op once marked)
                export(task)
            return Result()  # completion before the Job lookup (KLT #3921)
        spec = task.get("spec") or {}
        definition_name = str(spec.get("taskDefinition") or "")
        definition = ctx.find_here_or_keptn(
            model.KEPTN_TASK_DEFINITION, key.namespace, definition_name
        )
        if definition is None:
            now = ctx.now()
            deadline = _created(task, now) + ctx.config().definition_wait
            text = f"could not find KeptnTaskDefinition: {definition_name}"
            if now < deadline:
                emit(task, "CreateTaskNotFound", f"{text} ", once=True)
                await write(task, {"reason": "DefinitionNotFound", "message": f"{text}; waiting"})
                return Result(requeue_at=deadline)
            await finish(task, State.FAILED, "DefinitionNotFound", text)
            return Result()
        name = str(status.get("jobName") or job_name(task))
        job = jobs.store.get(key.namespace, name)
        if job is None and status.get("jobName"):
            try:  # the cache may lag behind our own create
                job = await ctx.client.get(model.JOB, name, key.namespace)
            except NotFound:
                await finish(
                    task, State.FAILED, "JobNotFound", f"Job {name} was deleted before it finished"
                )
                return Result()
        if job is None:
            return await start_job(task, definition)
        outcome = job_outcome(job)
        if outcome is None:
            await adopt(task, name)
            return Result()
        job_slots.release(task)
        await finish(task, *outcome)
        return Result()

    controller: Controller[ObjectKey] = Controller("keptntask", reconcile, ctx.settings.workers)
    controller.watch(tasks, self_key)
    controller.watch(jobs, owner_keys("KeptnTask", controller_only=True))

    controller.watch(
        ctx.informer(model.KEPTN_TASK_DEFINITION),
        children_waiting_on(ctx, tasks.store, "taskDefinition", "status"),
    )
    return controller
