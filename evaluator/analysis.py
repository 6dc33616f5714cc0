"""The Analysis engine: render queries, fetch values once each, score, build `status.raw`.

No Kubernetes here. The controller resolves the AnalysisDefinition, its
AnalysisValueTemplates, their KeptnMetricsProviders and Secrets into plain data
(`AnalysisRequest`), reads previous Analyses of the same definition and args for relative
objectives (`previous`), and writes back what `run_analysis()` returns.

Invariants:
* identical (provider, rendered query) pairs are sent once per round, all concurrently;
* a `NoDataError` (also NaN) becomes "no data" and the objective's noData policy applies;
  any other provider error fails that objective with the error text (never the whole run),
  and `AnalysisOutcome.retryable` tells the controller whether retrying could help;
* `raw` has KLT's `status.raw` shape (reference/keptn.md §10.3) plus our explanations
  (`status`, `target`, `reason` per objective; `percentage`, `verdict`, `reason` at the top).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypedDict

import aiohttp

from evaluator.bodies import AnalysisRaw, RawCheck, RawObjectiveResult
from evaluator.durations import parse_duration
from evaluator.objectives import Check, Target
from evaluator.providers import (
    HTTPStatusError,
    NoDataError,
    Provider,
    ProviderConfig,
    ProviderError,
    TransportError,
    open_provider,
)
from evaluator.providers.limits import DEFAULT_LIMIT, limited
from evaluator.scoring import (
    AnalysisScore,
    ObjectiveResult,
    ObjectiveSpec,
    TotalScore,
    evaluate_objective,
    score_analysis,
)
from evaluator.templates import TemplateError, render_query

__all__ = [
    "AnalysisOutcome",
    "AnalysisRequest",
    "ObjectiveQuery",
    "ProviderPool",
    "StoredValue",
    "TimeframeError",
    "resolve_timeframe",
    "run_analysis",
]

Previous = Sequence[tuple[float | None, str]]
ProviderKey = tuple[str, str, tuple[tuple[str, str], ...] | None, str | None, bool, float]


class TimeframeError(ValueError):
    """An Analysis timeframe that the admission webhook would reject."""


def _parse_time(text: object) -> datetime:
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        raise TimeframeError(f"timeframe: {text!r} is not an RFC 3339 timestamp") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def resolve_timeframe(timeframe: Mapping[str, str], now: datetime) -> tuple[datetime, datetime]:
    """`spec.timeframe` -> (from, to): `recent` is now-d..now; messages as KLT's webhook."""
    recent, start, end = timeframe.get("recent"), timeframe.get("from"), timeframe.get("to")
    if recent and (start or end):
        raise TimeframeError("the field 'recent' can not be used in conjunction with 'from'/'to'")
    if recent:
        try:
            return now - parse_duration(str(recent)), now
        except ValueError as err:
            raise TimeframeError(f"timeframe: {err}") from None
    if not (start and end):
        raise TimeframeError("either 'recent' or both 'from' and 'to'  must be set")
    begin, finish = _parse_time(start), _parse_time(end)
    if finish <= begin:
        raise TimeframeError("value of 'to' must be a timestamp later than 'from'")
    return begin, finish


@dataclass(frozen=True, slots=True)
class ObjectiveQuery:
    """One objective with everything needed to fetch its value."""

    spec: ObjectiveSpec
    template: str  # AnalysisValueTemplate spec.query
    provider: ProviderConfig
    body: Mapping[str, object] = field(default_factory=dict)  # the CRD objective, for status.raw
    reference: Mapping[str, str] = field(default_factory=dict)  # {name, namespace} of the template


@dataclass(frozen=True, slots=True)
class AnalysisRequest:
    """A whole Analysis as plain data."""

    objectives: Sequence[ObjectiveQuery]
    total: TotalScore
    start: datetime
    end: datetime
    args: Mapping[str, str] = field(default_factory=dict)
    previous: Mapping[str, Previous] = field(default_factory=dict)
    """Per objective name: (value, overall verdict) of previous Analyses, newest first."""


class StoredValue(TypedDict):
    """One objective's entry of `status.storedValues` (KLT's ProviderResult)."""

    objectiveReference: dict[str, str]  # {name, namespace} of the AnalysisValueTemplate
    query: str
    value: float
    errMsg: str


@dataclass(frozen=True, slots=True)
class AnalysisOutcome:
    """What the controller writes back: score, KLT's raw JSON, stored values."""

    score: AnalysisScore
    raw: AnalysisRaw
    stored_values: Mapping[str, StoredValue]
    retryable: bool
    query_seconds: Mapping[tuple[str, str], float]
    """Wall time of each distinct (provider, query) fetch, for benchmarks and spans."""

    @property
    def raw_json(self) -> str:
        """`status.raw` as a compact JSON string."""
        return json.dumps(self.raw, separators=(",", ":"))


def _provider_key(config: ProviderConfig) -> ProviderKey:
    secret = tuple(sorted(config.secret.items())) if config.secret else None
    return (
        config.type,
        config.target_server,
        secret,
        config.secret_key,
        config.insecure_skip_tls_verify,
        config.timeout,
    )


class ProviderPool:
    """Providers built once per distinct config on one shared aiohttp session.

    Each provider is wrapped by ``providers.limits.limited``: at most ``limit`` queries in flight
    per targetServer, shared by every pool of the process.
    """

    def __init__(self, session: aiohttp.ClientSession, *, limit: int = DEFAULT_LIMIT) -> None:
        self._session = session
        self._limit = limit
        self._providers: dict[ProviderKey, Provider] = {}

    def get(self, config: ProviderConfig) -> Provider:
        """The provider for `config` (built on first use; may raise ConfigError)."""
        key = _provider_key(config)
        provider = self._providers.get(key)
        if provider is None:
            provider = self._providers[key] = limited(
                open_provider(config, self._session), config.target_server, self._limit
            )
        return provider


@dataclass(slots=True)
class _Fetched:
    value: float | None = None
    error: ProviderError | None = None
    seconds: float = 0.0


async def _fetch(
    pool: ProviderPool, config: ProviderConfig, query: str, request: AnalysisRequest
) -> _Fetched:
    started = time.perf_counter()
    try:
        provider = pool.get(config)
        result = await provider.analysis_value(
            query, start=request.start, end=request.end, args=request.args
        )
        return _Fetched(result.value, None, time.perf_counter() - started)
    except ProviderError as err:  # NoDataError included: run_analysis tells them apart
        return _Fetched(None, err, time.perf_counter() - started)


async def run_analysis(request: AnalysisRequest, *, pool: ProviderPool) -> AnalysisOutcome:
    """Fetch every objective's value (deduplicated, concurrent), judge and score them."""
    rendered: dict[str, str] = {}
    render_errors: dict[str, str] = {}
    keys: dict[str, tuple[ProviderKey, str]] = {}  # objective name -> (provider key, query)
    distinct: dict[tuple[ProviderKey, str], ObjectiveQuery] = {}
    for objective in request.objectives:
        name = objective.spec.name
        try:
            rendered[name] = render_query(objective.template, request.args)
        except TemplateError as err:
            render_errors[name] = f"template: {err}"
            continue
        keys[name] = key = (_provider_key(objective.provider), rendered[name])
        distinct.setdefault(key, objective)
    fetched_list = await asyncio.gather(
        *(_fetch(pool, o.provider, key[1], request) for key, o in distinct.items())
    )
    fetched = dict(zip(distinct, fetched_list, strict=True))

    results: list[ObjectiveResult] = []
    for objective in request.objectives:
        name = objective.spec.name
        got = fetched[keys[name]] if name in keys else _Fetched()
        # no data (NoDataError, also NaN) is no error: the objective's noData policy applies
        failed = got.error is not None and not isinstance(got.error, NoDataError)
        error = render_errors.get(name) or (str(got.error) if failed else None)
        previous = request.previous.get(name, ())
        results.append(
            evaluate_objective(objective.spec, got.value, error=error, previous=previous)
        )
    score = score_analysis(results, request.total)
    retryable = any(
        isinstance(f.error, TransportError)
        or (isinstance(f.error, HTTPStatusError) and f.error.status >= 500)
        for f in fetched.values()
    )
    return AnalysisOutcome(
        score=score,
        raw=_raw(request, score, rendered),
        stored_values=_stored(request, results, rendered),
        retryable=retryable,
        query_seconds={(k[0][0], k[1]): f.seconds for k, f in fetched.items()},
    )


def _check_json(target: Target | None, check: Check | None) -> RawCheck:
    operator = dict(target.body or {}) if target is not None else {}
    return {"operator": operator, "fulfilled": check is not None and check.fulfilled}


def _raw(
    request: AnalysisRequest, score: AnalysisScore, rendered: Mapping[str, str]
) -> AnalysisRaw:
    objective_results = []
    for objective, result in zip(request.objectives, score.objectives, strict=True):
        entry: RawObjectiveResult = {
            "result": {
                "failResult": _check_json(objective.spec.failure, result.failure),
                "warnResult": _check_json(objective.spec.warning, result.warning),
                "warning": result.status.value == "warning",
                "pass": result.status.value == "pass",
            },
            "objective": dict(objective.body),
            "value": result.value if result.value is not None else 0.0,
            "query": rendered.get(objective.spec.name, objective.template),
            "score": result.score,
            # our extensions: every verdict explains itself
            "status": result.status.value,
            "target": result.target,
            "reason": result.reason,
        }
        if result.error:
            entry["error"] = result.error
        objective_results.append(entry)
    return {
        "objectiveResults": objective_results,
        "totalScore": score.total_score,
        "maximumScore": score.maximum_score,
        "pass": score.passed,
        "warning": score.warning,
        "percentage": round(score.percentage, 3),
        "verdict": score.verdict.value,
        "reason": score.reason,
    }


def _stored(
    request: AnalysisRequest, results: Sequence[ObjectiveResult], rendered: Mapping[str, str]
) -> dict[str, StoredValue]:
    return {
        objective.spec.name: StoredValue(
            objectiveReference=dict(objective.reference),
            query=rendered.get(objective.spec.name, ""),
            value=result.value if result.value is not None else 0.0,
            errMsg=result.error or "",
        )
        for objective, result in zip(request.objectives, results, strict=True)
    }
