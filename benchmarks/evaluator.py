"""Benchmark: N concurrent Analyses x 5 objectives against a real Prometheus.

Measures, in the same run and against the same Prometheus:
* raw: the very same HTTP queries the engine sends (query_range, step 1m), issued directly
  with aiohttp with the same concurrency (all at once), JSON-decoded, nothing else;
* engine: `run_analysis()` for every Analysis concurrently (render, dedupe, fetch, judge,
  score, build status.raw).
Each round runs raw and engine back to back (alternating order); the median round counts.
The sum of the raw query times is measured once with each query alone on the wire.
wall_over_raw = engine wall / raw wall; overhead_per_objective_ms = (engine wall - raw wall)
/ objectives; wall_over_raw_query_sum = engine wall / that sum (what concurrency buys).
The last line of output is one JSON object.

    python benchmarks/evaluator.py [--quick] [--analyses N] [--rounds R]
"""

from __future__ import annotations

import sys
from pathlib import Path

# benchmarks/evaluator.py would shadow the `evaluator` package: put the repo root first.
ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402
from typing import Any  # noqa: E402

import aiohttp  # noqa: E402

from evaluator.analysis import (  # noqa: E402
    AnalysisRequest,
    ObjectiveQuery,
    ProviderPool,
    run_analysis,
)
from evaluator.providers import ProviderConfig  # noqa: E402
from evaluator.scoring import TotalScore, parse_objective  # noqa: E402
from evaluator.templates import render_query  # noqa: E402
from tests.evaluator.promlauncher import Series, running_prometheus  # noqa: E402

OBJECTIVES = 5
TEMPLATES = [f'klt_bench_{k}{{app="{{{{.app}}}}"}}' for k in range(OBJECTIVES)]
TARGETS: list[dict[str, Any]] = [
    {"failure": {"greaterThan": {"fixedValue": 900}}},
    {"failure": {"lessThan": {"fixedValue": 1}}, "warning": {"lessThan": {"fixedValue": 10}}},
    {"failure": {"notInRange": {"lowBound": 0, "highBound": 1000}}},
    {"warning": {"relative": {"operator": ">", "percent": 10}}},
    {"failure": {"equalTo": {"fixedValue": "0"}}},
]


def history(apps: int, end: datetime) -> list[Series]:
    """30 minutes of 15 s samples for every app and metric."""
    start = end.timestamp() - 1800
    return [
        Series(
            {"__name__": f"klt_bench_{k}", "app": f"app{i}"},
            [(start + 15 * s, float(100 + i + k + s % 7)) for s in range(121)],
        )
        for i in range(apps)
        for k in range(OBJECTIVES)
    ]


def requests_for(url: str, apps: int, start: datetime, end: datetime) -> list[AnalysisRequest]:
    prom = ProviderConfig("prometheus", url)
    objectives = []
    for k, (template, target) in enumerate(zip(TEMPLATES, TARGETS, strict=True)):
        body = {"analysisValueTemplateRef": {"name": f"m{k}"}, "target": target, "weight": k + 1}
        objectives.append(ObjectiveQuery(parse_objective(body), template, prom, body))
    previous = {"m3": [(100.0, "pass"), (110.0, "pass"), (105.0, "warning")]}
    return [
        AnalysisRequest(objectives, TotalScore(90, 75), start, end, {"app": f"app{i}"}, previous)
        for i in range(apps)
    ]


async def raw_round(
    http: aiohttp.ClientSession, url: str, requests: list[AnalysisRequest]
) -> tuple[float, float]:
    """Send the engine's queries directly; return (wall seconds, sum of latencies)."""

    async def one(query: str, start: datetime, end: datetime) -> float:
        began = time.perf_counter()
        params = {
            "query": query,
            "start": f"{start.timestamp():.3f}",
            "end": f"{end.timestamp():.3f}",
            "step": "60s",
        }
        async with http.get(f"{url}/api/v1/query_range", params=params) as response:
            doc = json.loads(await response.read())
        assert doc["status"] == "success" and len(doc["data"]["result"]) == 1
        return time.perf_counter() - began

    queries = [
        (render_query(o.template, r.args), r.start, r.end) for r in requests for o in r.objectives
    ]
    began = time.perf_counter()
    latencies = await asyncio.gather(*(one(*q) for q in queries))
    return time.perf_counter() - began, sum(latencies)


async def raw_sequential(
    http: aiohttp.ClientSession, url: str, requests: list[AnalysisRequest]
) -> float:
    """The sum of raw query times with each query alone on the wire (no queueing)."""
    total = 0.0
    for r in requests:
        for o in r.objectives:
            params = {
                "query": render_query(o.template, r.args),
                "start": f"{r.start.timestamp():.3f}",
                "end": f"{r.end.timestamp():.3f}",
                "step": "60s",
            }
            began = time.perf_counter()
            async with http.get(f"{url}/api/v1/query_range", params=params) as response:
                json.loads(await response.read())
            total += time.perf_counter() - began
    return total


async def engine_round(pool: ProviderPool, requests: list[AnalysisRequest]) -> tuple[float, float]:
    """Run every Analysis concurrently; return (wall seconds, sum of in-engine query times)."""
    began = time.perf_counter()
    outcomes = await asyncio.gather(*(run_analysis(r, pool=pool) for r in requests))
    wall = time.perf_counter() - began
    for outcome in outcomes:
        assert not any(r.error for r in outcome.score.objectives), outcome.raw
    return wall, sum(sum(o.query_seconds.values()) for o in outcomes)


async def measure(url: str, apps: int, rounds: int, end: datetime) -> dict[str, Any]:
    requests = requests_for(url, apps, end - timedelta(minutes=10), end)
    connector = aiohttp.TCPConnector(limit=100)
    async with aiohttp.ClientSession(connector=connector) as http:
        pool = ProviderPool(http)
        await raw_round(http, url, requests)  # warm up connections and Prometheus caches
        await engine_round(pool, requests)
        sequential = await raw_sequential(http, url, requests)
        raw_walls, raw_sums, engine_walls, engine_sums = [], [], [], []
        for n in range(rounds):
            order = (True, False) if n % 2 == 0 else (False, True)
            for is_raw in order:
                if is_raw:
                    wall, total = await raw_round(http, url, requests)
                    raw_walls.append(wall)
                    raw_sums.append(total)
                else:
                    wall, total = await engine_round(pool, requests)
                    engine_walls.append(wall)
                    engine_sums.append(total)
    objectives = apps * OBJECTIVES
    raw_wall, engine_wall = statistics.median(raw_walls), statistics.median(engine_walls)
    return {
        "analyses": apps,
        "objectives": objectives,
        "rounds": rounds,
        "raw_wall_s": round(raw_wall, 4),
        "raw_query_sum_s": round(sequential, 4),
        "raw_concurrent_latency_sum_s": round(statistics.median(raw_sums), 4),
        "engine_wall_s": round(engine_wall, 4),
        "engine_query_sum_s": round(statistics.median(engine_sums), 4),
        "wall_over_raw": round(engine_wall / raw_wall, 3),
        "wall_over_raw_query_sum": round(engine_wall / sequential, 3),
        "overhead_per_objective_ms": round((engine_wall - raw_wall) / objectives * 1000, 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 analyses, 3 rounds")
    parser.add_argument("--analyses", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    apps, rounds = (20, 3) if args.quick else (args.analyses, args.rounds)
    end = datetime.fromtimestamp(int(time.time()) // 60 * 60, UTC) - timedelta(minutes=1)
    with running_prometheus(history(apps, end)) as prom:
        result = asyncio.run(measure(prom.url, apps, rounds, end))
    print(
        f"{result['analyses']} concurrent Analyses x {OBJECTIVES} objectives "
        f"({result['objectives']} queries) against Prometheus, median of {rounds} rounds"
    )
    print(f"  raw queries (same concurrency): wall {result['raw_wall_s'] * 1000:8.1f} ms")
    print(f"  raw query times summed (one at a time): {result['raw_query_sum_s'] * 1000:8.1f} ms")
    print(f"  engine (run_analysis):          wall {result['engine_wall_s'] * 1000:8.1f} ms")
    print(
        f"  wall/raw {result['wall_over_raw']:.3f}x; wall/sum of raw query times "
        f"{result['wall_over_raw_query_sum']:.3f}x; overhead per objective "
        f"{result['overhead_per_objective_ms']:.3f} ms"
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
