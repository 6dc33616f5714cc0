"""EventRecorder against the sandbox API server: keyed no-op re-emission, folding, order."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from lifecycle.core.model import CONFIG_MAP, EVENT
from lifecycle.kube.client import Body, KubeClient
from lifecycle.kube.events import EventRecorder, event_name

FIXED = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


async def involved(client: KubeClient, name: str, ns: str = "ev") -> dict[str, Any]:
    return await client.create(
        CONFIG_MAP, {"metadata": {"name": name, "namespace": ns, "annotations": {}}}
    )


async def test_event_body_and_keyed_reemission_is_a_noop(client: KubeClient) -> None:
    obj = await involved(client, "app-1")
    seen: list[tuple[Body, Body]] = []
    rec = EventRecorder(client, "keptnappversion-controller", clock=lambda: FIXED)
    rec.subscribe(lambda ev, o: seen.append((ev, o)))
    annotations = {
        "namespace": "ev",
        "name": "app-1",
        "phase": "AppPreDeployTasks",
        "traceparent": "",
    }
    for _ in range(2):  # the second time plays an operator restart re-emitting the transition
        rec.emit(
            obj, "Normal", "AppPreDeployTasksStarted", "msg", annotations=annotations, key="k1"
        )
        await rec.flush()
    second = EventRecorder(client, "keptnappversion-controller", clock=lambda: FIXED)
    second.emit(obj, "Normal", "AppPreDeployTasksStarted", "msg", annotations=annotations, key="k1")
    await second.flush()

    items, _ = await client.list(EVENT, "ev")
    assert len(items) == 1
    ev = items[0]
    uid = obj["metadata"]["uid"]
    assert ev["metadata"]["name"] == event_name("app-1", uid, "k1")
    assert ev["metadata"]["annotations"] == annotations
    assert ev["involvedObject"] == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": "app-1",
        "namespace": "ev",
        "uid": uid,
        "resourceVersion": obj["metadata"]["resourceVersion"],
    }
    assert ev["source"] == {"component": "keptnappversion-controller"}
    assert ev["reportingComponent"] == "keptnappversion-controller"
    assert ev["firstTimestamp"] == ev["lastTimestamp"] == "2026-01-02T03:04:05Z"
    assert ev["eventTime"] == "2026-01-02T03:04:05.678901Z"
    assert (ev["type"], ev["reason"], ev["message"], ev["count"]) == (
        "Normal",
        "AppPreDeployTasksStarted",
        "msg",
        1,
    )
    assert len(seen) == 1 and seen[0][1] is obj, "subscribers hear of written events only"
    # the repeat in the same process is answered from memory (no request); after a restart
    # the API server's AlreadyExists makes it a no-op
    assert (rec.duplicates, rec.repeated) == (0, 1)
    assert (second.duplicates, second.repeated) == (1, 0)


async def test_keyed_repeat_in_flight_shares_the_write(client: KubeClient) -> None:
    obj = await involved(client, "app-2")
    rec = EventRecorder(client, "keptnappversion-controller", clock=lambda: FIXED)
    first = rec.emit(obj, "Normal", "AppDeployStarted", "msg", key="k2")
    again = rec.emit(obj, "Normal", "AppDeployStarted", "msg", key="k2")
    assert first is not None and again is first  # awaiting the repeat awaits the one write
    await EventRecorder.wait([again])
    assert rec.emit(obj, "Normal", "AppDeployStarted", "msg", key="k2") is None  # written
    items, _ = await client.list(EVENT, "ev")
    assert [e["reason"] for e in items if e["involvedObject"]["name"] == "app-2"] == [
        "AppDeployStarted"
    ]
    assert (rec.emitted, rec.duplicates, rec.repeated) == (1, 0, 2)


async def test_unkeyed_repeats_fold_into_count(client: KubeClient) -> None:
    obj = await involved(client, "wl-1")
    rec = EventRecorder(client, "keptnworkloadversion-controller")
    seen: list[Body] = []
    rec.subscribe(lambda ev, o: seen.append(ev))
    for _ in range(3):
        rec.emit(obj, "Warning", "ReconcileWorkloadNotFound", "could not find")
    rec.emit(obj, "Warning", "Other", "different")
    await rec.flush()
    items, _ = await client.list(EVENT, "ev")
    counts = {i["reason"]: i["count"] for i in items if i["involvedObject"]["name"] == "wl-1"}
    assert counts == {"ReconcileWorkloadNotFound": 3, "Other": 1}
    assert rec.emitted == 2 and rec.folded == 2
    assert len(seen) == 4


async def test_events_of_one_object_are_written_in_emission_order(client: KubeClient) -> None:
    obj = await involved(client, "ordered")
    rec = EventRecorder(client, "c", concurrency=8)
    reasons = [f"Step{i:02d}" for i in range(20)]
    for i, reason in enumerate(reasons):
        rec.emit(obj, "Normal", reason, "m", key=str(i))
    await rec.flush()
    items, _ = await client.list(EVENT, "ev")
    mine = [i for i in items if i["involvedObject"]["name"] == "ordered"]
    mine.sort(key=lambda i: int(i["metadata"]["resourceVersion"]))
    assert [i["reason"] for i in mine] == reasons


async def test_errors_are_logged_not_raised(client: KubeClient) -> None:
    ghost = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "g", "namespace": "ev", "uid": "u"},
    }
    rec = EventRecorder(client, "c")
    rec.emit(ghost, "Normal", "Bad Reason With Spaces", "m", key="x")
    rec.emit(ghost, "Normal", "Fine", "m", key="y")
    await rec.flush()
    assert rec.emitted + rec.failed == 2


async def test_emit_returns_its_write_task_to_wait_on(client: KubeClient) -> None:
    obj = await involved(client, "own")
    rec = EventRecorder(client, "c")
    mine = rec.emit(obj, "Normal", "Mine", "m", key="mine")
    assert mine is not None
    await EventRecorder.wait([mine, None])  # None (a dropped emission) is skipped
    assert mine.done()
    items, _ = await client.list(EVENT, "ev")
    assert [i["reason"] for i in items if i["involvedObject"]["name"] == "own"] == ["Mine"]
    full = EventRecorder(client, "c", max_pending=0)
    assert full.emit(obj, "Normal", "Dropped", "m", key="dropped") is None
    assert full.dropped == 1
