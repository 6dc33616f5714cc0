"""Finding 6: one object cannot cause unbounded work.

`retryInterval: "0"` with a huge `retries` is refused at admission naming the fields; and whatever
a spec says, the client bounds the writes per object per second (a token bucket per object).
"""

from __future__ import annotations

import asyncio
import time

from lifecycle.core import model
from lifecycle.kube import KubeError
from tests.controllers.conftest import Env, OperatorFactory

from . import manifests as m


async def _writes_within(env: Env, name: str, seconds: float) -> int:
    """Status writes of a KeptnEvaluation seen by a watch during ``seconds``."""
    _, rv = await env.client.list(model.KEPTN_EVALUATION, env.namespace)
    count = 0
    try:
        async with asyncio.timeout(seconds):
            async for _, obj in env.client.watch(
                model.KEPTN_EVALUATION, env.namespace, resource_version=rv, timeout_seconds=30
            ):
                count += obj["metadata"].get("name") == name
    except TimeoutError:
        pass
    return count


async def test_retry_storm_is_refused_at_admission(
    env: Env, operator_factory: OperatorFactory
) -> None:
    await operator_factory(["evaluation"])
    await env.create(model.KEPTN_EVALUATION_DEFINITION, m.evaluation_definition("d", "missing"))
    error = ""
    try:
        await env.create(
            model.KEPTN_EVALUATION, m.evaluation("storm", "d", retries=10**9, retryInterval="0")
        )
    except KubeError as err:
        error = str(err)
    if not error:  # admitted: it must not write more than a few times a second anyway
        writes = await _writes_within(env, "storm", 2.0)
        assert writes <= 5, f"{writes} status writes in 2 s"
    assert "spec.retryInterval" in error
    assert "spec.retries" in error
    for interval in ("500ms", "0.5s", "0s"):
        try:
            await env.create(
                model.KEPTN_EVALUATION,
                m.evaluation(f"i{len(interval)}", "d", retryInterval=interval),
            )
        except KubeError as err:
            assert "spec.retryInterval" in str(err)
        else:
            raise AssertionError(f"retryInterval {interval} admitted")


async def test_writes_per_object_are_bounded(env: Env) -> None:
    """Whatever a controller asks, one object's writes pass at the limiter's rate."""
    from lifecycle.kube.ratelimit import ObjectWriteLimiter

    env.client.write_limiter = ObjectWriteLimiter(rate=50.0, burst=5)
    await env.create(model.KEPTN_EVALUATION_DEFINITION, m.evaluation_definition("d", "x"))
    await env.create(model.KEPTN_EVALUATION_DEFINITION, m.evaluation_definition("other", "x"))
    started = time.monotonic()
    for i in range(55):
        await env.client.patch(
            model.KEPTN_EVALUATION_DEFINITION,
            "d",
            {"metadata": {"labels": {"n": str(i)}}},
            env.namespace,
        )
    assert time.monotonic() - started >= 0.9  # 5 at once, then 50 at 50/s
    quick = time.monotonic()
    await env.client.patch(
        model.KEPTN_EVALUATION_DEFINITION,
        "other",
        {"metadata": {"labels": {"n": "1"}}},
        env.namespace,
    )
    assert time.monotonic() - quick < 0.5  # another object has its own bucket
