"""The compact metric store exposes exactly what prometheus_client's own metrics expose."""

from __future__ import annotations

import re
import sys
from types import ModuleType

import prometheus_client
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics

from lifecycle.observability import compact

TRACE = {"trace_id": "ab" * 16, "span_id": "cd" * 8}


def _fill(registry: CollectorRegistry, mod: ModuleType) -> None:
    """The same metrics and observations through either implementation."""
    counter = mod.Counter("t_count", "Counts.", ["a", "b"], registry=registry)
    gauge = mod.Gauge("t_active", "Active.", ["a"], registry=registry)
    plain = mod.Counter("t_starts", "Starts.", registry=registry)
    hist = mod.Histogram("t_seconds", "Durations.", ["p"], buckets=(0.1, 1, 10), registry=registry)
    counter.labels("1", "2").inc()
    counter.labels(a="x", b='q"\n\\').inc(3)
    counter.labels("0", "0")  # a series at zero
    gauge.labels("up").set(4.5)
    gauge.labels("down").dec(2)
    gauge.labels("gone").set(1)
    gauge.remove("gone")
    plain.inc()
    hist.labels("A").observe(0.05, TRACE)
    hist.labels("A").observe(0.07, {**TRACE, "trace_id": "ef" * 16})  # the bucket's latest
    hist.labels("A").observe(5)
    hist.labels("B").observe(50, {"trace_id": "1" * 32})


def _normalized(text: bytes) -> str:
    """Creation times and exemplar timestamps differ between two registries."""
    out = re.sub(r"(_created(\{[^}]*\})?) \S+", r"\1 T", text.decode())
    return re.sub(r"(# \{[^}]*\} \S+) \S+", r"\1 T", out)


@pytest.mark.parametrize("render", [generate_latest, openmetrics], ids=["text", "openmetrics"])
def test_exposition_is_prometheus_clients(render: object) -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    _fill(ours, compact)
    _fill(theirs, prometheus_client)
    assert callable(render)
    got, want = _normalized(render(ours)), _normalized(render(theirs))
    assert got == want
    assert ("trace_id" in got) is (render is openmetrics)


def test_sample_values_read_back_and_bad_use_is_refused() -> None:
    registry = CollectorRegistry()
    hist = compact.Histogram("t_seconds", "Durations.", ["p"], buckets=(1, 2), registry=registry)
    hist.labels(p="x").observe(1.5)
    assert registry.get_sample_value("t_seconds_bucket", {"p": "x", "le": "1.0"}) == 0.0
    assert registry.get_sample_value("t_seconds_bucket", {"p": "x", "le": "2.0"}) == 1.0
    assert registry.get_sample_value("t_seconds_sum", {"p": "x"}) == 1.5
    counter = compact.Counter("t_total", "Counts.", ["a"], registry=registry)
    with pytest.raises(ValueError, match="non-negative"):
        counter.labels("a").inc(-1)
    with pytest.raises(ValueError, match="expected labels"):
        counter.labels("a", "b")
    with pytest.raises(ValueError, match="128 runes"):
        hist.labels("y").observe(0.5, {"trace_id": "x" * 200})
    with pytest.raises(KeyError):
        counter.remove("never")
    counter.labels("a").inc(2)
    counter.labels("b").inc(5)
    counter.remove("a")
    counter.labels("c").inc()  # reuses the removed series' slot, from zero
    assert registry.get_sample_value("t_total", {"a": "c"}) == 1.0
    assert registry.get_sample_value("t_total", {"a": "b"}) == 5.0
    assert registry.get_sample_value("t_total", {"a": "a"}) is None
    assert sys.intern("x") is next(iter(hist._series))[0]  # label values are interned
