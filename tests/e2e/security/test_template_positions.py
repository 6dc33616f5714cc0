"""Finding 5: a template arg cannot break out of its position, whatever the quoting (issue 11).

Each case renders a hostile arg into one position and sends the result to a real Prometheus
holding `klt_sec{team="a"} 1` and `klt_sec{team="b"} 100`: the arg must be refused (TemplateError
naming it) or stay inside its position (no data); it must never select the other team's series
or force a value with `or vector(0)`. A benign arg in the same position still works.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import pytest

from evaluator.providers import NoDataError, ProviderConfig, open_provider
from evaluator.templates import TemplateError, render_query
from tests.evaluator.promlauncher import Prometheus, Series, push

CASES = [
    # (position, template, hostile arg, benign arg)
    ("single quotes", "klt_sec{team='{{.svc}}'}", "x'} or vector(0) or klt_sec{team='", "a"),
    ("backticks", "klt_sec{team=`{{.svc}}`}", "x`} or vector(0) or klt_sec{team=`", "a"),
    ("double quotes", 'klt_sec{team="{{.svc}}"}', 'x"} or vector(0) or klt_sec{team="', "a"),
    ("regex matcher", 'sum(klt_sec{team=~"{{.svc}}"})', ".*", "a"),
    ("regex, single quotes", "sum(klt_sec{team=~'{{.svc}}'})", "a|b", "b"),
    ("range", 'sum_over_time(klt_sec{team="a"}[{{.svc}}])', "5m]) or vector(0) or (up[5m", "5m"),
    ("comparison", 'klt_sec{team="a"} > {{.svc}}', "0 or vector(0)", "0.5"),
    ("metric name", '{{.svc}}{team="a"}', 'up or vector(0) or klt_sec{team="b"} or x', "klt_sec"),
]


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.mark.parametrize(
    ("position", "template", "hostile", "benign"), CASES, ids=[c[0] for c in CASES]
)
async def test_arg_stays_in_its_position(
    prometheus: Prometheus,
    http: aiohttp.ClientSession,
    position: str,
    template: str,
    hostile: str,
    benign: str,
) -> None:
    now = time.time()
    push(
        prometheus.url,
        [
            Series({"__name__": "klt_sec", "team": t}, [(now, v)])
            for t, v in (("a", 1.0), ("b", 100.0))
        ],
    )
    prom = open_provider(ProviderConfig("prometheus", prometheus.url), http)
    at = datetime.now(UTC)
    good = await prom.query(render_query(template, {"svc": benign}), at=at)
    assert good.value >= 1.0  # the series exists and the benign arg selects it
    try:
        query = render_query(template, {"svc": hostile})
    except TemplateError as err:
        assert "'svc'" in str(err)  # the message names the arg
        return
    with pytest.raises(NoDataError):  # the arg stayed one value: nothing matches it
        await prom.query(query, at=at)
