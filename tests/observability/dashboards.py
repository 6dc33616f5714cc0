"""Every Prometheus query of every Grafana dashboard, with Grafana variables substituted.

Used by the dashboard lint test here and by the later end-to-end test that runs each query
against a real Prometheus scraping the operator (:func:`dashboard_queries` gives it the list).
Variables default to ``.*`` (they are used with ``=~``); Grafana's interval macros become
fixed durations so that the expressions parse as plain PromQL.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import promql_parser

from tests.support.paths import REPO_ROOT

__all__ = [
    "DASHBOARDS_DIR",
    "DEFAULT_VALUES",
    "PanelQuery",
    "dashboard_queries",
    "load_dashboards",
    "metric_names",
    "substitute",
]

DASHBOARDS_DIR = REPO_ROOT / "dashboards"
DEFAULT_VALUES: Mapping[str, str] = {
    "__rate_interval": "1m",
    "__interval": "1m",
    "__range": "1h",
    "datasource": "prometheus",
    "traces": "tempo",
}
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")
_LABEL_VALUES = re.compile(r"^\s*label_values\((?:(.*),)?\s*(\w+)\s*\)\s*$", re.S)


@dataclass(frozen=True, slots=True)
class PanelQuery:
    dashboard: str
    """File name, e.g. keptn-applications.json."""
    panel: str
    """Panel title, or ``variable:<name>`` for a template variable's series selector."""
    expr: str
    """PromQL with variables substituted."""
    instant: bool


def substitute(expr: str, values: Mapping[str, str] | None = None) -> str:
    """Replace ``$var``, ``${var}``, ``${var:fmt}``, ``[[var]]``; unknown variables become ``.*``."""
    merged = {**DEFAULT_VALUES, **(values or {})}

    def repl(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(3)
        return merged.get(name, ".*")

    return _VARIABLE.sub(repl, expr)


def load_dashboards(directory: Path = DASHBOARDS_DIR) -> dict[str, dict[str, Any]]:
    return {path.name: json.loads(path.read_text()) for path in sorted(directory.glob("*.json"))}


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels") or [])


def _is_prometheus(*sources: Mapping[str, Any] | None) -> bool:
    for source in sources:
        datasource = (source or {}).get("datasource")
        if isinstance(datasource, Mapping) and datasource.get("type"):
            return bool(datasource["type"] == "prometheus")
    return False


def dashboard_queries(
    directory: Path = DASHBOARDS_DIR,
    values: Mapping[str, str] | None = None,
    *,
    include_variables: bool = True,
) -> list[PanelQuery]:
    """(dashboard, panel, expr) for every Prometheus target and annotation; variable queries as selectors."""
    found: list[PanelQuery] = []
    for name, dashboard in load_dashboards(directory).items():
        if include_variables:
            for variable in dashboard.get("templating", {}).get("list", []):
                if variable.get("type") != "query" or not _is_prometheus(variable):
                    continue
                query = variable.get("query")
                text = query.get("query", "") if isinstance(query, Mapping) else str(query)
                match = _LABEL_VALUES.match(text)
                if match and match.group(1):
                    found.append(
                        PanelQuery(name, f"variable:{variable['name']}",
                                   substitute(match.group(1), values), True)
                    )  # fmt: skip
        for annotation in dashboard.get("annotations", {}).get("list", []):
            if "expr" in annotation and _is_prometheus(annotation):
                found.append(
                    PanelQuery(name, f"annotation:{annotation['name']}",
                               substitute(annotation["expr"], values), False)
                )  # fmt: skip
        for panel in _panels(dashboard.get("panels", [])):
            for target in panel.get("targets") or []:
                if "expr" in target and _is_prometheus(target, panel):
                    found.append(
                        PanelQuery(name, panel.get("title", ""),
                                   substitute(target["expr"], values), bool(target.get("instant")))
                    )  # fmt: skip
    return found


def metric_names(expr: str) -> set[str]:
    """Metric names an expression selects (raises ValueError if it does not parse)."""
    names: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            if node.name:
                names.add(node.name)
            for matcher in node.matchers.matchers:
                if matcher.name == "__name__":
                    names.add(matcher.value)

    promql_parser.walk(promql_parser.parse(expr), visit)
    return names
