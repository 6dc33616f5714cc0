"""JSON log lines carry the reconcile's object, controller, reconcile id and phase span ids."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator

import pytest

from lifecycle.kube.controller import Controller, ObjectKey
from lifecycle.observability import logs

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    """JSON records of the `klt.test` logger, as `--log-format json` writes them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.json_formatter())
    logger = logging.getLogger("klt.test")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)


def records(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


async def test_a_reconcile_logs_its_object_controller_id_and_phase_span(
    lines: io.StringIO,
) -> None:
    log = logging.getLogger("klt.test")
    done = asyncio.Event()

    async def reconcile(key: ObjectKey) -> None:
        log.info("deciding %s", key.name, extra={"phase": "AppDeploy"})
        logs.bind_phase(
            {
                "status": {
                    "currentPhase": "AppDeploy",
                    "phaseTraceIDs": {"AppDeploy": {"traceparent": f"00-{TRACE}-{SPAN}-01"}},
                }
            }
        )
        log.warning("in the flow")
        done.set()

    controller: Controller[ObjectKey] = Controller("keptnappversion", reconcile, 1)
    controller.start()
    controller.enqueue(ObjectKey("shop", "podtato-head-0.1.0"))
    await asyncio.wait_for(done.wait(), 10)
    await controller.stop()
    log.info("after")
    first, second, after = records(lines)
    for record in (first, second):
        assert record["namespace"] == "shop" and record["name"] == "podtato-head-0.1.0"
        assert record["kind"] == "KeptnAppVersion" and record["controller"] == "keptnappversion"
        assert record["logger"] == "klt.test" and isinstance(record["ts"], str)
    assert first["reconcile_id"] == second["reconcile_id"] and len(str(first["reconcile_id"])) == 16
    assert first["msg"] == "deciding podtato-head-0.1.0" and first["phase"] == "AppDeploy"
    assert first["level"] == "info" and "trace_id" not in first
    assert (second["trace_id"], second["span_id"], second["level"]) == (TRACE, SPAN, "warning")
    # outside a reconcile: none of its fields, never stale ones
    assert not set(logs.CONTEXT_FIELDS) & after.keys()


def test_each_reconcile_gets_its_own_id(lines: io.StringIO) -> None:
    log = logging.getLogger("klt.test")
    for _ in range(2):
        with logs.reconciling("keptntask", ObjectKey("shop", "pre-task")):
            log.info("x")
    one, two = records(lines)
    assert one["kind"] == two["kind"] == "KeptnTask"
    assert one["reconcile_id"] != two["reconcile_id"]


def test_a_traceback_stays_inside_its_json_line(lines: io.StringIO) -> None:
    try:
        raise ValueError("bad")
    except ValueError:
        logging.getLogger("klt.test").exception("failed")
    (record,) = records(lines)
    assert "ValueError: bad" in str(record["exc_info"])
