"""Fuzzing the operator with hostile manifests of every kind it reads (issue 11).

Hypothesis generates 10,000 malformed or hostile manifests (fixed seed; ``--many``: 100,000 with
a random seed) in-process; they are applied concurrently over the sandbox's HTTP API while the
whole operator runs (webhooks, controllers). Then:

* the operator never crashed: no reconcile or webhook raised (no ERROR log record), it stayed
  ready and ``/readyz`` answered 200 throughout (polled every 50 ms);
* every manifest was either refused at admission (4xx) with a message naming one of the fields
  its mutations touched, or accepted; every accepted object of a kind the operator reconciles
  (KeptnMetric, KeptnEvaluation, KeptnTask, Analysis) carries a reason: a status or a Warning
  Event, within seconds.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import time
from dataclasses import dataclass

import aiohttp
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from lifecycle.core import model
from lifecycle.kube import KubeError
from tests.e2e.flow.conftest import Cluster

from .hostile import BASES, STATUS_KINDS, Hostile, hostile

SEED = 11
BATCH = 20
CONCURRENCY = 8


def generate(count: int, seed: int) -> list[Hostile]:
    """``count`` hostile manifests from hypothesis, in batches of ``BATCH`` per example."""
    out: list[Hostile] = []

    @hypothesis_seed(seed)
    @settings(
        max_examples=count // BATCH,
        database=None,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.lists(hostile(), min_size=BATCH, max_size=BATCH))
    def collect(batch: list[Hostile]) -> None:
        out.extend(batch)

    collect()
    return out


def _words(path: str) -> set[str]:
    """The field names of a dotted path, also split at camelCase: "fixedValue" -> fixed, value."""
    words: set[str] = set()
    for part in path.split("."):
        if part.isdigit():
            continue
        words.add(part.lower())
        words.update(w.lower() for w in re.findall(r"[A-Z]?[a-z]+", part))
    return {w for w in words if len(w) > 2}


def names_a_field(message: str, item: Hostile) -> bool:
    if message.startswith("409") and "metadata.name" in item.paths:
        return True  # AlreadyExists: a mutated name met another manifest's (it names the object)
    text = message.lower()
    return any(word in text for path in item.paths for word in _words(path))


async def _readyz(url: str, failures: list[str], stop: asyncio.Event) -> None:
    async with aiohttp.ClientSession() as session:
        while not stop.is_set():
            try:
                async with session.get(url) as response:
                    if response.status != 200:
                        failures.append(f"/readyz {response.status}")
            except aiohttp.ClientError as err:
                failures.append(f"/readyz {err!r}")
            await asyncio.sleep(0.05)


async def _apply(cluster: Cluster, items: list[Hostile]) -> tuple[dict[int, str], list[int]]:
    """Create every manifest; (index -> refusal message, accepted indexes)."""
    refused: dict[int, str] = {}
    accepted: list[int] = []
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(index: int, item: Hostile) -> None:
        async with gate:
            try:
                await cluster.client.create(item.kind, item.body, cluster.namespace)
                accepted.append(index)
            except KubeError as err:
                refused[index] = f"{getattr(err, 'status', '')} {err}"

    await asyncio.gather(*(one(i, item) for i, item in enumerate(items)))
    return refused, accepted


def _name(index: int, item: Hostile) -> None:
    meta = (
        item.body.setdefault("metadata", {})
        if isinstance(item.body.get("metadata"), dict | None)
        else None
    )
    if meta is not None and meta.get("name") == "placeholder":
        meta["name"] = f"fz-{item.key}-{index}"


async def _unexplained(cluster: Cluster, items: list[Hostile], accepted: list[int]) -> list[str]:
    """Accepted objects of reconciled kinds with neither a status nor a Warning Event."""
    events, _ = await cluster.client.list(model.EVENT, cluster.namespace)
    warned = {e["involvedObject"].get("name") for e in events if e.get("type") == "Warning"}
    missing: list[str] = []
    for key in STATUS_KINDS:
        kind = BASES[key][0]
        objects, _ = await cluster.client.list(kind, cluster.namespace)
        by_name = {o["metadata"]["name"]: o for o in objects}
        for index in accepted:
            item = items[index]
            if item.key != key:
                continue
            name = item.body["metadata"]["name"]
            obj = by_name.get(name)
            if obj is not None and not obj.get("status") and name not in warned:
                missing.append(f"{kind.kind} {name}: {json.dumps(obj)[:600]}")
    return missing


@dataclass
class Generated:
    items: list[Hostile]
    seed: int
    seconds: float
    cpu: float


@pytest.fixture
def generated(request: pytest.FixtureRequest) -> Generated:
    """The manifests, made before the operator starts: generation is CPU-bound, and run on the
    operator's event loop (or beside it, under the GIL) it would starve the leader election."""
    many = bool(request.config.getoption("--many"))
    count, seed = (100_000, random.randrange(2**32)) if many else (10_000, SEED)
    started, cpu = time.perf_counter(), time.process_time()
    items = generate(count, seed)
    for index, item in enumerate(items):
        _name(index, item)
    return Generated(items, seed, time.perf_counter() - started, time.process_time() - cpu)


@pytest.mark.timeout(600)
async def test_hostile_manifests(
    generated: Generated, cluster: Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    items, seed = generated.items, generated.seed
    caplog.set_level(logging.WARNING)
    await cluster.keptn_config(definitionWaitSeconds=60)
    started, cpu = time.perf_counter(), time.process_time()
    probe = f"http://127.0.0.1:{cluster.operator.ports['probes']}/readyz"
    failures: list[str] = []
    stop = asyncio.Event()
    poller = asyncio.create_task(_readyz(probe, failures, stop))
    try:
        refused, accepted = await _apply(cluster, items)
        applied = time.perf_counter()
        deadline = time.monotonic() + 30
        missing = await _unexplained(cluster, items, accepted)
        while missing and time.monotonic() < deadline:
            await asyncio.sleep(1.0)
            missing = await _unexplained(cluster, items, accepted)
    finally:
        stop.set()
        await poller
    finished = time.perf_counter()
    print(
        f"\nfuzz seed={seed}: {len(items)} manifests, {len(refused)} refused, {len(accepted)} accepted;"
        f" generate {generated.seconds:.1f}s (CPU {generated.cpu:.1f}s), apply"
        f" {applied - started:.1f}s, settle {finished - applied:.1f}s; CPU of apply and settle"
        f" {time.process_time() - cpu:.1f}s (sandbox, operator and test share this process)"
    )
    crashes = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    server_errors = [m for m in refused.values() if m.startswith("5")]
    unnamed = [
        f"{m[:200]} <- {items[i].paths}"
        for i, m in refused.items()
        if not names_a_field(m, items[i])
    ]
    for label, found in (
        ("crashes", crashes),
        ("5xx", server_errors),
        ("unnamed", unnamed),
        ("missing", missing),
    ):
        if found:
            print(f"{label}: {len(found)}", *found[:8], sep="\n  ")
    assert crashes == []
    assert failures == [] and cluster.operator.ready
    assert not cluster.operator.lost_leadership.is_set()  # an operator in a cluster would restart
    assert server_errors == []
    assert unnamed == []
    assert missing == []
    assert len(refused) + len(accepted) == len(items) >= 10_000
