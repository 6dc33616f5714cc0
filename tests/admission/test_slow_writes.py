"""A KeptnWorkload write slower than the answer budget: the pod is gated at once, the write goes on.

Under failurePolicy Ignore, an answer that waits for a slow API server times out and the pod is
admitted ungated (its pre-deployment checks bypassed); these tests hold the store's writes until
the answer is out.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from lifecycle.admission.pod import GATE_NAME
from lifecycle.admission.webhook import PodMutator
from lifecycle.core.model import ResourceKind
from tests.admission.conftest import MemoryStore, apply_patch, decode_patch
from tests.admission.test_pod_mutation import KEYS, RS, GenuineMutator, pod, review

Spans = tuple[TracerProvider, InMemorySpanExporter]


class HeldStore(MemoryStore):
    """Creates wait until ``release`` is set (an API server too busy to take them)."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()

    async def create(self, kind: ResourceKind, body: Mapping[str, Any]) -> bool:
        await self.release.wait()
        return await super().create(kind, body)


def held_mutator(spans: Spans) -> tuple[HeldStore, PodMutator, GenuineMutator]:
    store = HeldStore()
    store.put(
        "Namespace",
        {"metadata": {"name": "demo", "annotations": {"keptn.sh/lifecycle-toolkit": "enabled"}}},
    )
    inner = PodMutator(store=store, tracer=spans[0].get_tracer("test"), answer_within=0.05)
    return store, inner, GenuineMutator(store, inner)


async def test_the_answer_gates_the_pod_before_the_write_is_done(spans: Spans) -> None:
    store, inner, mutator = held_mutator(spans)
    obj = pod(owners=[RS], annotations=KEYS)
    answer = await mutator.review(review(obj))
    assert answer["response"]["allowed"] is True
    assert apply_patch(obj, decode_patch(answer))["spec"]["schedulingGates"] == [
        {"name": GATE_NAME}
    ]
    assert answer["response"]["warnings"] == [
        "keptn: KeptnWorkload shop-web is still being written; the pod stays gated"
    ]
    assert store.created == []
    store.release.set()
    await inner.drain(5.0)
    assert [b["kind"] for b in store.created] == ["KeptnWorkload", "KeptnAppCreationRequest"]
    assert store.created[0]["metadata"]["name"] == "shop-web"


async def test_drain_gives_up_after_its_timeout(spans: Spans) -> None:
    store, inner, mutator = held_mutator(spans)
    await mutator.review(review(pod(owners=[RS], annotations=KEYS)))
    await inner.drain(0.05)  # the write is still held: drain returns, the write goes on
    assert store.created == []
    store.release.set()
    await inner.drain(5.0)
    assert len(store.created) == 2


async def test_a_write_in_time_is_answered_as_before(spans: Spans) -> None:
    store, _, mutator = held_mutator(spans)
    store.release.set()
    answer = await mutator.review(review(pod(owners=[RS], annotations=KEYS)))
    assert "warnings" not in answer["response"] or not answer["response"]["warnings"]
    assert [b["kind"] for b in store.created] == ["KeptnWorkload", "KeptnAppCreationRequest"]
