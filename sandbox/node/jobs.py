"""PURE Job controller logic: pods to start or stop, the Job status, deadline and TTL times.

Follows batch/v1 Job semantics closely enough for KLT's task controller, which reads the
conditions (Complete/SuccessCriteriaMet -> succeeded, Failed/FailureTarget -> failed, with
reason BackoffLimitExceeded or DeadlineExceeded). Simplifications, on purpose:
- every failed attempt is a new pod, for restartPolicy OnFailure as for Never (a real kubelet
  restarts the container in place under OnFailure; the count of failures is the same);
- no exponential back-off delay between attempts (the real one starts at 10 s);
- failures are counted from the owned pods (no uncountedTerminatedPods/finalizer tracking):
  the counters never go down, so deleting a failed pod does not buy another attempt.
No I/O and no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sandbox.node.pods import is_active, is_ready, parse_time, timestamp

__all__ = ["JobDecision", "decide_job", "finished_condition", "job_pod_labels"]

Body = dict[str, Any]


def job_pod_labels(job: Body) -> dict[str, str]:
    """The labels the Job controller puts on its pods."""
    meta = job.get("metadata", {})
    uid, name = str(meta.get("uid", "")), str(meta.get("name", ""))
    return {
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": name,
        "controller-uid": uid,
        "job-name": name,
    }


@dataclass(frozen=True, slots=True)
class JobDecision:
    """What the Job controller should do now."""

    status: Body
    create: int = 0
    delete: tuple[str, ...] = ()
    wake_at: float | None = None
    """When to look again (activeDeadlineSeconds)."""
    delete_job_at: float | None = None
    """When ttlSecondsAfterFinished expires (the Job is deleted then)."""


def finished_condition(job: Body) -> Body | None:
    """The Complete or Failed condition with status True, if any."""
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("type") in ("Complete", "Failed") and cond.get("status") == "True":
            return dict(cond)
    return None


def _pair(first: str, second: str, reason: str, message: str, now: float) -> list[Body]:
    return [
        {
            "type": kind,
            "status": "True",
            "reason": reason,
            "message": message,
            "lastProbeTime": timestamp(now),
            "lastTransitionTime": timestamp(now),
        }
        for kind in (first, second)
    ]


def _failed(reason: str, message: str, now: float) -> list[Body]:
    return _pair("FailureTarget", "Failed", reason, message, now)


def decide_job(
    job: Body, pods: list[Body], now: float, started: float | None = None
) -> JobDecision:
    """One reconcile of a Job with its owned pods; ``started`` is a precise start time if known."""
    spec = job.get("spec", {})
    old: Body = dict(job.get("status") or {})
    status = dict(old)
    active = [p for p in pods if is_active(p)]
    succeeded = max(int(old.get("succeeded", 0)), sum(1 for p in pods if _phase(p) == "Succeeded"))
    failed = max(int(old.get("failed", 0)), sum(1 for p in pods if _phase(p) == "Failed"))
    done = finished_condition(job)
    create = 0
    delete: tuple[str, ...] = ()
    wake_at: float | None = None
    delete_job_at: float | None = None
    if done is None:
        start = parse_time(old.get("startTime"))
        if start is None:
            start = started if started is not None else now
            status["startTime"] = timestamp(start)
        elif started is not None and abs(started - start) < 1.0:
            start = started  # the same start, known to more than the second precision
        completions = int(spec.get("completions") or 1)
        parallelism = int(spec.get("parallelism") if spec.get("parallelism") is not None else 1)
        backoff_limit = int(spec.get("backoffLimit") if spec.get("backoffLimit") is not None else 6)
        deadline = spec.get("activeDeadlineSeconds")
        verdict: list[Body] = []
        if succeeded >= completions:
            verdict = _pair(
                "SuccessCriteriaMet",
                "Complete",
                "CompletionsReached",
                "Reached expected number of succeeded pods",
                now,
            )
            status["completionTime"] = timestamp(now)
        elif failed > backoff_limit:
            verdict = _failed(
                "BackoffLimitExceeded", "Job has reached the specified backoff limit", now
            )
        elif deadline is not None and now >= start + float(deadline):
            verdict = _failed(
                "DeadlineExceeded", "Job was active longer than specified deadline", now
            )
        else:
            if not spec.get("suspend"):
                create = max(0, min(parallelism, completions - succeeded) - len(active))
            if deadline is not None:
                wake_at = start + float(deadline)
        if verdict:
            done = verdict[-1]
            status["conditions"] = [dict(c) for c in old.get("conditions") or []] + verdict
    if done is not None:
        delete = tuple(p["metadata"]["name"] for p in active)
        active = []
        ttl = spec.get("ttlSecondsAfterFinished")
        finished_at = parse_time(status.get("completionTime")) or parse_time(
            done.get("lastTransitionTime")
        )
        if ttl is not None:
            delete_job_at = (finished_at if finished_at is not None else now) + float(ttl)
    for key, value in (
        ("active", len(active) + create),
        ("succeeded", succeeded),
        ("failed", failed),
    ):
        if value:
            status[key] = value
        else:
            status.pop(key, None)
    status["ready"] = sum(1 for p in active if is_ready(p))
    status["terminating"] = 0
    status.setdefault("uncountedTerminatedPods", {})
    return JobDecision(
        status=status, create=create, delete=delete, wake_at=wake_at, delete_job_at=delete_job_at
    )


def _phase(pod: Body) -> str:
    return str(pod.get("status", {}).get("phase", "Pending"))
