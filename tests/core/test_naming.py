"""KLT resource naming, deterministic child names and trace ids, timestamps (keptn.md §1.2-§1.8)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lifecycle.core import naming
from lifecycle.core.naming import (
    app_version_name,
    child_name,
    create_resource_name,
    format_time,
    generation_hash,
    multi_workload_app_version,
    parse_time,
    parse_traceparent,
    span_id_for,
    trace_id_for,
    traceparent,
    workload_name,
    workload_version_name,
)


@pytest.mark.parametrize(
    ("generation", "digest"), [(1, "6b86b273"), (2, "d4735e3a"), (3, "4e074085")]
)
def test_generation_hash(generation: int, digest: str) -> None:
    assert generation_hash(generation) == digest


def test_klt_names() -> None:
    assert app_version_name("myapp", "0.0.1", 1) == "myapp-0.0.1-6b86b273"
    assert app_version_name("MyApp", "V2", 2) == "myapp-v2-d4735e3a"
    assert workload_name("podtato", "Front_End") == "podtato-front-end"
    assert workload_version_name("podtato-frontend", "0.1.0") == "podtato-frontend-0.1.0"


@pytest.mark.parametrize(
    ("max_len", "min_len", "parts", "name"),
    [
        (253, 80, ("a", "b", "c"), "a-b-c"),
        (10, 5, ("abcdefghij", "klmnop", "q"), "ab-klmno-q"),  # min halved to 2 for 3 parts
        (12, 4, ("abcdefgh", "ij"), "abcdefgh-ij"),  # fits already
        (8, 4, ("abcdefgh", "ij"), "abcde-ij"),  # cut exactly what is needed
        (6, 4, ("abcdefgh", "ij"), "abc-ij"),  # minimum halved to 2 for 2 parts * 4 > 6
        (5, 2, ("a", "bbbbbb", "c"), "a-b-c"),  # a part already at the minimum is skipped
        (5, 2, ("aaaa", "bbbb", "c"), "a-b-c"),  # cut to the minimum, then the next part
        (4, 2, ("aaaa", "bbbb", "cccc"), "a-b-cccc"),  # the last part is never cut
    ],
)
def test_create_resource_name(
    max_len: int, min_len: int, parts: tuple[str, ...], name: str
) -> None:
    assert create_resource_name(max_len, min_len, *parts) == name


@given(
    st.lists(
        st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=120),
        min_size=2,
        max_size=4,
    )
)
def test_create_resource_name_fits_253(parts: list[str]) -> None:
    name = create_resource_name(253, 80, *parts)
    assert len(name) <= 253 or len(parts[-1]) > 100


def test_child_name_is_klt_shaped_and_deterministic() -> None:
    name = child_name("pre", "notify", "uid-1", "AppPreDeployTasks")
    assert re.fullmatch(r"pre-notify-\d{5}", name)
    assert 10000 <= int(name.rsplit("-", 1)[1]) <= 99998
    assert name == child_name("pre", "notify", "uid-1", "AppPreDeployTasks")
    assert name != child_name("pre", "notify", "uid-2", "AppPreDeployTasks")
    assert child_name("pre-eval", "cpu", "u", "AppPreDeployEvaluations").startswith("pre-eval-cpu-")


def test_multi_workload_app_version() -> None:
    import hashlib

    expected = hashlib.sha256(b"a-1b-2").hexdigest()[:10]
    assert multi_workload_app_version([("a", "1"), ("b", "2")]) == expected
    assert multi_workload_app_version([]) == "e3b0c44298"


def test_trace_ids_are_deterministic_w3c_ids() -> None:
    trace = trace_id_for("uid-1")
    span = span_id_for("uid-1", "root")
    assert re.fullmatch(r"[0-9a-f]{32}", trace) and re.fullmatch(r"[0-9a-f]{16}", span)
    assert trace == trace_id_for("uid-1") and trace != trace_id_for("uid-2")
    assert span != span_id_for("uid-1", "AppDeploy")
    header = traceparent(trace, span)
    assert header == f"00-{trace}-{span}-01"
    assert parse_traceparent(header) == (trace, span)


def test_all_zero_digest_prefix_is_replaced() -> None:
    import hashlib

    seed = next(
        f"s{i}" for i in range(1000) if hashlib.sha256(f"s{i}".encode()).hexdigest()[0] == "0"
    )
    assert naming._nonzero_hex(seed, 1) == "1"
    assert naming._nonzero_hex(seed, 2) != "00"


@pytest.mark.parametrize(
    "header",
    [
        "",
        "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b71692033-01",
        "00-0af7651916cd43dd8448eb211c80319g-b7ad6b7169203331-01",
        "00-00000000000000000000000000000000-b7ad6b7169203331-01",
        "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
        "00-0af7651916cd43dd8448eb211c80319c",
    ],
)
def test_parse_traceparent_rejects_invalid(header: str) -> None:
    assert parse_traceparent(header) is None


def test_format_and_parse_time() -> None:
    moment = datetime(2026, 11, 27, 11, 0, 0, 123456, tzinfo=UTC)
    assert format_time(moment) == "2026-11-27T11:00:00.123456Z"
    assert format_time(datetime(2026, 11, 27, 11, 0)) == "2026-11-27T11:00:00.000000Z"
    assert format_time(moment.astimezone(timezone(timedelta(hours=2)))) == format_time(moment)
    assert parse_time("2026-11-27T11:00:00.123456Z") == moment
    assert parse_time("2026-11-27T11:00:00Z") == moment.replace(microsecond=0)
    assert parse_time("2026-11-27T13:00:00+02:00") == moment.replace(microsecond=0)
    assert parse_time("2026-11-27T11:00:00") == moment.replace(microsecond=0)
    with pytest.raises(ValueError):
        parse_time("yesterday")


@given(st.datetimes(timezones=st.just(UTC)))
def test_time_round_trip(moment: datetime) -> None:
    assert parse_time(format_time(moment)) == moment
