"""Fixtures for the evaluator tests: one real Prometheus per session, an aiohttp session per test.

The Prometheus holds deterministic history (backfilled with promtool before it starts) and
live samples pushed through remote write; see `HISTORY` for what each series is for. `T0` is
the start of the current minute when the session began; every historic time is relative to it.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from tests.evaluator.promlauncher import Prometheus, Series, push, running_prometheus

T0 = datetime.fromtimestamp(int(time.time()) // 60 * 60, UTC)

# step-aggregation series: one sample per minute from T0-60m to T0-51m
STEP_VALUES = [4.0, 8.0, 15.0, 16.0, 23.0, 42.0, 1.0, 2.0, 3.0, 5.0]
STEP_START = T0 - timedelta(minutes=60)
STEP_END = STEP_START + timedelta(minutes=len(STEP_VALUES) - 1)

# the worked example: earlier versions' analysis windows, 40 minutes apart
VERSION_VALUES = {"1": 500.0, "2": 520.0, "3": 540.0}


def version_window(version: str) -> tuple[datetime, datetime]:
    """The 10-minute analysis timeframe of an earlier version."""
    start = T0 - timedelta(minutes=200 - 40 * int(version))
    return start, start + timedelta(minutes=10)


def _ts(moment: datetime) -> float:
    return moment.timestamp()


def _history() -> list[Series]:
    series = [
        Series(
            {"__name__": "klt_steps", "case": "agg"},
            [(_ts(STEP_START) + 60 * i, v) for i, v in enumerate(STEP_VALUES)],
        ),
        Series({"__name__": "klt_multi", "instance": "a"}, [(_ts(T0) - 1800, 1.0)]),
        Series({"__name__": "klt_multi", "instance": "b"}, [(_ts(T0) - 1800, 2.0)]),
    ]
    for version, value in VERSION_VALUES.items():
        start, end = version_window(version)
        times = [_ts(start) - 60 + 30 * i for i in range(int((end - start).seconds / 30) + 3)]
        series.append(
            Series(
                {"__name__": "klt_response_time_p95", "app": "podtato", "version": version},
                [(t, value) for t in times],
            )
        )
        series.append(
            Series(
                {"__name__": "klt_error_rate", "app": "podtato", "version": version},
                [(t, 0.0) for t in times],
            )
        )
    return series


@pytest.fixture(scope="session")
def prometheus() -> Iterator[Prometheus]:
    """A real Prometheus with the history above and live samples pushed at start-up."""
    with running_prometheus(_history()) as prom:
        now = time.time()
        live_times = [now - 150 + 30 * i for i in range(6)]
        push(
            prom.url,
            [
                Series({"__name__": "klt_live", "app": "podtato"}, [(now - 1, 42.5)]),
                Series(
                    {"__name__": "klt_response_time_p95", "app": "podtato", "version": "4"},
                    [(t, 580.0) for t in live_times],
                ),
                Series(
                    {"__name__": "klt_error_rate", "app": "podtato", "version": "4"},
                    [(t, 0.0) for t in live_times],
                ),
            ],
        )
        yield prom


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """One aiohttp session per test, as the operator shares one across providers."""
    async with aiohttp.ClientSession() as session:
        yield session
