"""What the release view's pages show, as JSON-ready dicts built from cluster objects.

Role: the pure half of `klt ui`. `applications` groups KeptnAppVersions by app; `timeline_json`
turns the `lifecycle.commands.timeline` of an app version (the one `klt trace` draws) into bars;
`app_quality` and `definition_quality` build the release-quality heatmaps: objectives x versions
from KeptnEvaluations, objectives x runs from Analyses' `status.raw`.

Invariants: pure and deterministic (the caller passes `now`); reads only the fields named here;
every value is a str, number, bool or None so `json.dumps` takes the result as is.
Must not: import asyncio, aiohttp or kubernetes_asyncio, or call an API.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TypedDict, cast

from evaluator.bodies import AnalysisRaw, RawObjectiveResult
from lifecycle.commands.status import last_error
from lifecycle.commands.timeline import Timeline
from lifecycle.core import naming
from lifecycle.core.bodies import (
    AnalysisBody,
    AnalysisDefinitionBody,
    KeptnAppVersionBody,
    KeptnEvaluationBody,
)
from lifecycle.core.meta import created_key, name_of, namespace_of, owner_uids, uid_of

__all__ = [
    "Cell",
    "Column",
    "Heatmap",
    "app_quality",
    "applications",
    "definition_quality",
    "timeline_json",
]

_VERDICTS = {"Succeeded": "pass", "Failed": "fail", "Warning": "warning"}
_BASELINE = re.compile(r"\(([^()]* of [a-z0-9]+=[^()]+)\)")


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _seconds(start: str, end: str, now: datetime) -> float | None:
    if not start:
        return None
    began = naming.parse_time(start)
    ended = naming.parse_time(end) if end else now
    return round(max(0.0, (ended - began).total_seconds()), 3)


class AppEntry(TypedDict):
    namespace: str
    app: str
    versions: list[dict[str, object]]


def _version_entry(body: KeptnAppVersionBody, now: datetime) -> dict[str, object]:
    spec, status = body.get("spec", {}), body.get("status", {})
    start, end = status.get("startTime", ""), status.get("endTime", "")
    return {
        "namespace": namespace_of(body),
        "name": name_of(body),
        "version": _text(spec.get("version")),
        "revision": spec.get("revision") or 1,
        "created": created_key(body)[0],
        "phase": _text(status.get("currentPhase")),
        "state": _text(status.get("status")) or "Pending",
        "start": start,
        "end": end,
        "seconds": _seconds(start, end, now),
        "reason": last_error(status),
        "workloads": len(spec.get("workloads") or ()),
    }


def applications(app_versions: Iterable[KeptnAppVersionBody], now: datetime) -> list[AppEntry]:
    """One entry per (namespace, app) with its versions, newest first."""
    apps: dict[tuple[str, str], list[dict[str, object]]] = {}
    for body in app_versions:
        key = (namespace_of(body), _text(body.get("spec", {}).get("appName")))
        apps.setdefault(key, []).append(_version_entry(body, now))
    out: list[AppEntry] = []
    for (namespace, app), versions in sorted(apps.items()):
        versions.sort(key=lambda v: (str(v["created"]), str(v["name"])), reverse=True)
        out.append({"namespace": namespace, "app": app, "versions": versions})
    return out


def timeline_json(tl: Timeline) -> dict[str, object]:
    """The timeline's bars with offsets in seconds from its start (what the page draws)."""
    span = max(tl.end_ns - tl.start_ns, 1)
    bars = [
        {
            "label": bar.label,
            "depth": bar.depth,
            "state": bar.state,
            "note": bar.note,
            "offset": (bar.start_ns - tl.start_ns) / 1e9,
            "seconds": ((bar.end_ns if bar.end_ns is not None else tl.end_ns) - bar.start_ns) / 1e9,
            "running": bar.end_ns is None,
            "left": (bar.start_ns - tl.start_ns) / span,
            "width": ((bar.end_ns if bar.end_ns is not None else tl.end_ns) - bar.start_ns) / span,
        }
        for bar in tl.bars
    ]
    return {"title": tl.title, "state": tl.state, "seconds": span / 1e9, "bars": bars}


# --- release quality -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cell:
    """One objective in one column: pass, warning, fail, info (informational) or error."""

    result: str
    value: str
    target: str
    score: float | None
    reason: str
    baseline: str = ""


@dataclass(frozen=True, slots=True)
class Column:
    """A version (of an app) or a run (an Analysis of a definition)."""

    name: str
    label: str
    state: str
    verdict: str
    score: str
    reason: str
    cells: dict[str, Cell] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Heatmap:
    """Objectives (rows) x columns, in order."""

    title: str
    rows: list[str]
    columns: list[Column]

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def _belongs(evaluation: KeptnEvaluationBody, app_version: KeptnAppVersionBody) -> bool:
    """Is the KeptnEvaluation one of the app version's (app-level, or of one of its workloads)?"""
    spec, version_spec = evaluation.get("spec", {}), app_version.get("spec", {})
    app = _text(version_spec.get("appName"))
    if _text(spec.get("appName")) != app:
        return False
    workload = _text(spec.get("workload"))
    if not workload:
        owners, uid = set(owner_uids(evaluation)), uid_of(app_version)
        if owners and uid:
            return uid in owners
        return _text(spec.get("appVersion")) == _text(version_spec.get("version"))
    return any(
        naming.workload_name(app, _text(w.get("name"))) == workload
        and _text(w.get("version")) == _text(spec.get("workloadVersion"))
        for w in version_spec.get("workloads") or ()
    )


def _evaluation_cells(app: str, evaluation: KeptnEvaluationBody) -> dict[str, Cell]:
    spec = evaluation.get("spec", {})
    check = _text(spec.get("checkType")) or "eval"
    scope = _text(spec.get("workload")).removeprefix(f"{app}-") or "app"
    definition = _text(spec.get("evaluationDefinition"))
    cells = {}
    for metric, result in (evaluation.get("status", {}).get("evaluationStatus") or {}).items():
        verdict = _VERDICTS.get(_text(result.get("status")), "pending")
        cells[f"{check} · {scope} · {definition} · {metric}"] = Cell(
            result=verdict,
            value=_text(result.get("value")),
            target=_text(result.get("target")),
            score=None if verdict == "pending" else (1.0 if verdict == "pass" else 0.0),
            reason=_text(result.get("message")),
        )
    return cells


def app_quality(
    app: str,
    app_versions: Sequence[KeptnAppVersionBody],
    evaluations: Iterable[KeptnEvaluationBody],
) -> Heatmap:
    """Every evaluation objective of `app` (rows) across its versions (columns, oldest first).

    Evaluation objectives are pass/fail and weigh 1 each (KLT's KeptnEvaluation); a column's
    score is passed/total, its verdict the worst objective.
    """
    versions = sorted(
        (v for v in app_versions if _text(v.get("spec", {}).get("appName")) == app), key=created_key
    )
    # later runs of the same objective win
    evaluations = sorted(evaluations, key=lambda e: created_key(e)[0])
    rows: list[str] = []
    columns = []
    for version in versions:
        cells: dict[str, Cell] = {}
        for evaluation in evaluations:
            if _belongs(evaluation, version):
                cells.update(_evaluation_cells(app, evaluation))
        for key in cells:
            if key not in rows:
                rows.append(key)
        scored = [c for c in cells.values() if c.score is not None]
        passed = sum(1 for c in scored if c.result == "pass")
        verdict = "fail" if passed < len(scored) else ("pass" if scored else "none")
        status = version.get("status", {})
        columns.append(
            Column(
                name=name_of(version),
                label=_text(version.get("spec", {}).get("version")),
                state=_text(status.get("status")) or "Pending",
                verdict=verdict,
                score=f"{passed}/{len(scored)}",
                reason=last_error(status),
                cells=cells,
            )
        )
    return Heatmap(title=app, rows=sorted(rows), columns=columns)


def _raw(analysis: AnalysisBody) -> AnalysisRaw:
    """`status.raw` parsed ({} when unreadable); KLT's or evaluator.analysis' JSON, each field
    checked as it is read."""
    try:
        parsed = json.loads(analysis.get("status", {}).get("raw") or "{}")
    except ValueError:
        return {}
    return cast(AnalysisRaw, parsed) if isinstance(parsed, Mapping) else {}


def _objective_name(objective: Mapping[str, object] | None) -> str:
    ref = (objective or {}).get("analysisValueTemplateRef")
    return _text(ref.get("name")) if isinstance(ref, Mapping) else ""


def _analysis_cell(entry: RawObjectiveResult) -> Cell:
    status = _text(entry.get("status"))
    if not status:  # KLT's raw has only pass/warning flags
        flags = entry.get("result") or {}
        status = "pass" if flags.get("pass") else ("warning" if flags.get("warning") else "fail")
    target = _text(entry.get("target"))
    reason = _text(entry.get("error")) or _text(entry.get("reason"))
    found = _BASELINE.search(target) or _BASELINE.search(reason)  # "(>+10% of avg=0.2 of 3)"
    score = entry.get("score")
    return Cell(
        result="error" if entry.get("error") else status,
        value=_text(entry.get("value")),
        target=target,
        score=float(score) if isinstance(score, int | float) else None,
        reason=reason,
        baseline=found.group(1) if found else "",
    )


def definition_quality(
    definition: AnalysisDefinitionBody | None, name: str, analyses: Iterable[AnalysisBody]
) -> Heatmap:
    """The objectives of AnalysisDefinition `name` (rows) across its Analyses (columns)."""
    objectives = (definition or {}).get("spec", {}).get("objectives") or ()
    rows = [_objective_name(o) for o in objectives]
    runs = sorted(
        (
            a
            for a in analyses
            if _text(a.get("spec", {}).get("analysisDefinition", {}).get("name")) == name
        ),
        key=created_key,
    )
    columns = []
    for analysis in runs:
        raw = _raw(analysis)
        cells = {
            _objective_name(e.get("objective")): _analysis_cell(e)
            for e in raw.get("objectiveResults") or ()
            if isinstance(e, Mapping)
        }
        for key in cells:
            if key not in rows:
                rows.append(key)
        total, maximum = raw.get("totalScore"), raw.get("maximumScore")
        state = _text(analysis.get("status", {}).get("state")) or "Pending"
        args = analysis.get("spec", {}).get("args") or {}
        columns.append(
            Column(
                name=name_of(analysis),
                label=", ".join(f"{k}={v}" for k, v in sorted(args.items())) or name_of(analysis),
                state=state,
                verdict=_text(raw.get("verdict")) or ("pending" if not raw else "fail"),
                score=f"{total:g}/{maximum:g}"
                if isinstance(total, int | float) and isinstance(maximum, int | float)
                else "",
                reason=_text(raw.get("reason")),
                cells=cells,
            )
        )
    return Heatmap(title=name, rows=rows, columns=columns)
