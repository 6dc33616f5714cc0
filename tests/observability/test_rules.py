"""Prometheus rules and configs under deploy/prometheus pass promtool's checks and unit tests."""

from __future__ import annotations

import re
import subprocess
from typing import Any

import yaml
from prometheus_client import CollectorRegistry

from lifecycle.observability.telemetry import Telemetry
from tests.observability.dashboards import metric_names
from tests.observability.test_telemetry import exercise
from tests.support.paths import REPO_ROOT

PROMETHEUS = REPO_ROOT / "deploy" / "prometheus"
ALERTS = {
    "KeptnPhaseErrored",
    "KeptnDeploymentStuck",
    "KeptnAppVersionStuck",
    "KeptnEvaluationsFailing",
    "KeptnCloudEventsDropping",
    "KeptnOperatorDown",
    "KeptnWebhookErrors",
    "KeptnWebhookSlow",
    "KeptnNoLeader",
    "KeptnCertificateExpiresSoon",
    "KeptnProviderFailing",
    "KeptnWorkqueueBacklog",
}
RUNBOOKS = PROMETHEUS.parents[1] / "docs" / "runbooks.md"
# level:metric:operations (https://prometheus.io/docs/practices/rules/)
RECORD_NAME = re.compile(r"^(?P<level>[a-z_]+):(?P<metric>[a-z][a-z0-9_]*):(?P<ops>[a-z0-9_]+)$")


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


def _rules() -> list[dict[str, Any]]:
    return [
        rule
        for path in sorted((PROMETHEUS / "rules").glob("*.yml"))
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
    ]


def _runbook_sections() -> dict[str, str]:
    """GitHub anchors of docs/runbooks.md's second-level headings and each section's text."""
    sections: dict[str, str] = {}
    anchor = ""
    for line in RUNBOOKS.read_text().splitlines():
        if line.startswith("## "):
            anchor = re.sub(r"[^a-z0-9 -]", "", line[3:].strip().lower()).replace(" ", "-")
            sections[anchor] = ""
        elif anchor:
            sections[anchor] += line + "\n"
    return sections


def test_every_alert_links_its_runbook_section() -> None:
    sections = _runbook_sections()
    alerts = [rule for rule in _rules() if "alert" in rule]
    assert {rule["alert"] for rule in alerts} == ALERTS
    for rule in alerts:
        url = rule["annotations"]["runbook_url"]
        page, _, anchor = url.partition("#")
        assert page.endswith("/docs/runbooks.md"), url
        assert anchor in sections, (rule["alert"], anchor)
        for part in ("Meaning", "Check", "Fix"):
            assert f"**{part}**" in sections[anchor], (rule["alert"], part)


def test_recording_rules_follow_level_metric_operations() -> None:
    records = [rule for rule in _rules() if "record" in rule]
    assert len(records) == 6
    for rule in records:
        match = RECORD_NAME.match(rule["record"])
        assert match, rule["record"]
        # the level names the labels kept, the metric part starts with the metric read
        labels = re.search(r"by \(([^)]*)\)", rule["expr"])
        assert labels, rule["record"]
        kept = [label.strip() for label in labels.group(1).split(",") if label.strip() != "le"]
        assert match["level"] == "_".join(kept), rule["record"]
        read = {
            name.removesuffix("_total").rsplit("_bucket")[0] for name in metric_names(rule["expr"])
        }
        read = {name.removesuffix("_sum").removesuffix("_count") for name in read}
        assert any(match["metric"].startswith(name) for name in read), rule["record"]
