"""Prometheus rules and configs under deploy/prometheus pass promtool's checks and unit tests."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml
from prometheus_client import CollectorRegistry

from lifecycle.telemetry import Telemetry
from tests.observability.dashboards import metric_names
from tests.observability.test_telemetry import exercise

PROMETHEUS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
ALERTS = {
    "KeptnPhaseErrored",
    "KeptnDeploymentStuck",
    "KeptnAppVersionStuck",
    "KeptnEvaluationsFailing",
    "KeptnCloudEventsDropping",
    "KeptnOperatorDown",
}


def run(promtool: str, *args: str) -> str:
    result = subprocess.run(
        [promtool, *args], cwd=PROMETHEUS, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def test_promtool_check_rules_and_configs(promtool: str) -> None:
    out = run(promtool, "check", "rules", "rules/keptn-alerts.yml", "rules/keptn-dora.yml")
    assert out.count("SUCCESS") == 2
    run(promtool, "check", "config", "prometheus.yml")
    run(promtool, "check", "config", "prometheus-local.yml")


def test_promtool_unit_tests_fire_every_alert(promtool: str) -> None:
    tests = sorted(str(p.relative_to(PROMETHEUS)) for p in (PROMETHEUS / "tests").glob("*.yml"))
    assert "SUCCESS" in run(promtool, "test", "rules", *tests)
    fired: set[str] = set()
    for path in tests:
        for case in yaml.safe_load((PROMETHEUS / path).read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                if check.get("exp_alerts"):
                    fired.add(check["alertname"])
    assert fired == ALERTS


def test_rules_use_only_exported_metrics() -> None:
    registry = CollectorRegistry()
    exercise(Telemetry(registry))
    exported = {s.name for family in registry.collect() for s in family.samples} | {"up"}
    for path in (PROMETHEUS / "rules").glob("*.yml"):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                names = metric_names(rule["expr"])
                assert names <= exported, (path.name, rule.get("alert") or rule.get("record"))
