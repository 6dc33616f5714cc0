"""KeptnTask controller: one Job per task, its outcome mirrored into ``status`` (keptn.md §9).

A thin shell around the pure ``core.taskcore.decide`` (its docstring has the rules): read the
task, its KeptnTaskDefinition and its Job from the caches, decide, carry the decision out
(``flow.children.ChildShell``). ``StartJob`` builds the Job (``runtimes.build_job``), checks the
ConfigMaps and Secrets it mounts (``flow.taskrefs``), takes a ``--max-jobs`` slot
(``flow.jobslots``) and creates it; inline code of a definition in the Keptn namespace is first
copied beside the task (pods mount ConfigMaps of their own namespace only), owned by every task
using it. Telemetry and the task span only come from the reconcile that committed the transition
(a span a crash kept undelivered is exported again through ``ctx.marks``).

Event-driven: woken by its own changes, its Job (ownerReference), its definition appearing and,
waiting for a Job slot, a slot freeing (``flow.jobslots``); the only timers are the definition
deadline and the short retries of a missing reference. Must not poll, and never deletes a Job.
"""

from __future__ import annotations

import contextlib
from typing import Final

from lifecycle.core import model, taskcore
from lifecycle.core.bodies import JSON, KeptnTaskBody
from lifecycle.core.childcore import Step
from lifecycle.core.kubebodies import ConfigMapBody
from lifecycle.core.meta import namespace_of
from lifecycle.core.runtimes import (
    FUNCTION_CONFIG_MAP_PREFIX,
    RuntimeImages,
    TaskDefinitionError,
    build_job,
    function_config_map,
)
from lifecycle.flow.children import ChildShell
from lifecycle.flow.codemaps import ensure_code
from lifecycle.flow.context import OperatorContext
from lifecycle.flow.jobslots import JobSlots
from lifecycle.flow.taskrefs import missing_references
from lifecycle.flow.wakeups import children_waiting_on
from lifecycle.kube import (
    AlreadyExists,
    BadRequest,
    Controller,
    Invalid,
    KubeError,
    NotFound,
    ObjectKey,
    Result,
    owner_keys,
    self_key,
)

__all__ = ["COMPONENT", "setup"]

COMPONENT: Final = "keptntask-controller"


def setup(ctx: OperatorContext) -> Controller[ObjectKey]:
    """The KeptnTask controller: woken by tasks, their Jobs and their definitions."""
    tasks = ctx.informer(model.KEPTN_TASK)
    jobs = ctx.informer(model.JOB)
    job_slots = JobSlots(
        ctx.settings.max_concurrent_jobs,
        ctx.cache(model.JOB),
        lambda job: taskcore.job_outcome(job) is None,
        wake=lambda key: controller.enqueue(key),
    )

    async def release(task: KeptnTaskBody) -> None:
        job_slots.release(task)

    images = RuntimeImages(
        deno=ctx.settings.deno_runner_image, python=ctx.settings.python_runner_image
    )
    shell = ChildShell(
        ctx,
        model.KEPTN_TASK,
        COMPONENT,
        source=taskcore.event_source,
        started=ctx.telemetry.task_started,
        finished=ctx.telemetry.task_finished,
        steps={Step.START_JOB: lambda task: start_job(task), Step.RELEASE_SLOT: release},
    )

    async def start_job(task: KeptnTaskBody) -> Result:
        ns, now = namespace_of(task), ctx.now()
        definition = ctx.find_here_or_keptn(
            model.KEPTN_TASK_DEFINITION, ns, (task.get("spec") or {}).get("taskDefinition") or ""
        )
        if definition is None:
            return Result()  # gone meanwhile: its return wakes the task
        try:
            body = build_job(
                task,
                definition,
                images=images,
                resolve=lambda n: ctx.find_here_or_keptn(model.KEPTN_TASK_DEFINITION, ns, n),
            )
        except TaskDefinitionError as err:
            return await shell.run(task, taskcore.invalid_definition(task, str(err), now))
        missing = await missing_references(
            ctx.client, ns, body, skip_prefix=FUNCTION_CONFIG_MAP_PREFIX
        )
        if missing:
            wait = ctx.config().definition_wait
            return await shell.run(task, taskcore.references_missing(task, missing, now, wait))
        if not job_slots.acquire(task):
            return await shell.run(task, taskcore.no_slot(job_slots.limit))
        try:
            await copy_shared_code(task, body)
            await ctx.client.create(model.JOB, body)
        except AlreadyExists:
            pass  # created before a crash or by a racing worker: the same Job, not a second run
        except (Invalid, BadRequest) as err:  # the same body would be refused again
            job_slots.release(task)
            return await shell.run(task, taskcore.job_rejected(task, str(err), ctx.now()))
        except KubeError:
            shell.emit(task, taskcore.create_failed(task))
            raise
        name = str(body["metadata"]["name"])
        return await shell.run(task, taskcore.job_running(task, name, ctx.now()))

    async def copy_shared_code(task: KeptnTaskBody, job: JSON) -> None:
        """Inline code of a definition in another (the Keptn) namespace, copied beside the task.

        A pod can only mount ConfigMaps of its own namespace. The copy is owned by every task
        that uses it, so garbage collection removes it with the last of them.
        """
        ns = namespace_of(task)
        owner = model.owner_reference(task, model.KEPTN_TASK, controller=None)
        for volume in job["spec"]["template"]["spec"].get("volumes") or ():
            name = str((volume.get("configMap") or {}).get("name") or "")
            if not name.startswith(FUNCTION_CONFIG_MAP_PREFIX):
                continue
            source = ctx.find_here_or_keptn(
                model.KEPTN_TASK_DEFINITION, ns, name.removeprefix(FUNCTION_CONFIG_MAP_PREFIX)
            )
            wanted = function_config_map(source) if source else None
            if source is None or wanted is None or namespace_of(source) == ns:
                continue  # the definition controller keeps a same-namespace ConfigMap
            copy: ConfigMapBody = {
                **wanted,
                "metadata": {"name": name, "namespace": ns, "ownerReferences": [owner]},
            }
            await ensure_code(ctx.client, copy, owner)

    async def reconcile(key: ObjectKey) -> Result:
        task = ctx.cache(model.KEPTN_TASK).get(key.namespace, key.name)
        if task is None or taskcore.done(task):
            job_slots.forget(key)  # out of the line for a Job slot
        if task is None:
            return Result()
        definition = ctx.find_here_or_keptn(
            model.KEPTN_TASK_DEFINITION,
            key.namespace,
            (task.get("spec") or {}).get("taskDefinition") or "",
        )
        name, recorded = taskcore.recorded_job(task)
        job = ctx.cache(model.JOB).get(key.namespace, name)
        if job is None and recorded and definition is not None and not taskcore.done(task):
            with contextlib.suppress(NotFound):  # the cache may lag behind our own create
                job = model.JOB.view(await ctx.client.get(model.JOB, name, key.namespace))
        wait = ctx.config().definition_wait
        decision = taskcore.decide(task, definition is not None, job, ctx.now(), wait)
        return await shell.run(task, decision)

    controller: Controller[ObjectKey] = Controller("keptntask", reconcile, ctx.settings.workers)
    controller.watch(tasks, self_key)
    controller.watch(jobs, owner_keys("KeptnTask", controller_only=True))
    ctx.watch(controller, model.JOB, job_slots.freed)

    controller.watch(
        ctx.informer(model.KEPTN_TASK_DEFINITION),
        children_waiting_on(ctx, model.KEPTN_TASK, "taskDefinition", "status"),
    )
    return controller
