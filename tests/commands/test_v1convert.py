"""`klt convert sli|slo`: Keptn v1's documented SLI/SLO examples (keptn/spec) and the example of
KLT's SLO converter documentation, converted and checked against our CRD schemas."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from evaluator.objectives import parse_target
from lifecycle.commands.cli import main
from lifecycle.commands.v1convert import ConvertError, convert_sli, convert_slo
from tests.support import crdschema as schemas

# keptn/spec service_level_objective.md: the SLI example referencing the SLO's filter
SPEC_SLI = """
spec_version: "1.0"
indicators:
  throughput: "builtin:service.requestCount.total:merge(0):count?scope=tag(keptn_service:$SERVICE),mzId($mz_id)"
"""
# keptn/spec service_level_objective.md: "Example of a Service Level Objectives (SLO) configuration"
SPEC_SLO = """
spec_version: '1.0'
filter:
  mz_id: "4711"
  svc_id: "a14b-cd87-0d51"
comparison:
  compare_with: "several_results"
  include_result_with_score: "pass"
  number_of_comparison_results: 3
  aggregate_function: avg
objectives:
- sli: response_time_p95
  pass:
  - criteria:
    - "<=+10%"
    - "<600"
  warning:
  - criteria:
    - "<=800"
total_score:
  pass: "90%"
  warning: "75%"
"""
# KLT metrics-operator/converter/slo_converter.md, "Example"
KLT_SLO = """
spec_version: "0.1.1"
comparison: {aggregate_function: "avg", compare_with: "single_result", include_result_with_score: "pass", number_of_comparison_results: 1}
objectives:
  - {sli: "response_time_p90", key_sli: false, weight: 2,
     pass: [{criteria: [">600", "<800"]}], warning: [{criteria: ["<=1000", ">500"]}]}
  - {sli: "response_time_p80", key_sli: false, weight: 2,
     pass: [{criteria: [">600", "<800"]}], warning: [{criteria: ["<=1000"]}]}
  - {sli: "response_time_p70", key_sli: false, weight: 2,
     warning: [{criteria: [">600", "<800"]}], pass: [{criteria: ["<=1000"]}]}
  - {sli: "response_time_p95", key_sli: false, weight: 1,
     pass: [{criteria: ["<=+75%", "<800"]}], warning: [{criteria: ["<=1000", "<=+100%"]}]}
  - {sli: "cpu", pass: [{criteria: ["<=+100%", ">=80"]}, {criteria: ["<=+100%", ">=80"]}]}
  - {sli: "throughput", pass: [{criteria: ["<=+100%", ">=-80%"]}]}
  - {sli: "error_rate"}
total_score: {pass: "100%", warning: "65%"}
"""


def _ref(name: str) -> dict[str, str]:
    return {"name": name, "namespace": "default"}


def test_klt_documented_slo_example_converts_as_klt_does() -> None:
    body, notes = convert_slo(yaml.safe_load(KLT_SLO), "defname", "default")
    # KLT's documented output, with valid names and 1000 for Go's "1k"
    assert body["spec"]["objectives"] == [
        {
            "analysisValueTemplateRef": _ref("response-time-p90"),
            "target": {
                "failure": {"notInRange": {"lowBound": "500", "highBound": "1000"}},
                "warning": {"notInRange": {"lowBound": "600", "highBound": "800"}},
            },
            "weight": 2,
        },
        {
            "analysisValueTemplateRef": _ref("response-time-p80"),
            "target": {
                "failure": {"greaterThan": {"fixedValue": "1000"}},
                "warning": {"notInRange": {"lowBound": "600", "highBound": "800"}},
            },
            "weight": 2,
        },
        {
            "analysisValueTemplateRef": _ref("response-time-p70"),
            "target": {
                "failure": {"greaterThan": {"fixedValue": "1000"}},
                "warning": {"inRange": {"lowBound": "600", "highBound": "800"}},
            },
            "weight": 2,
        },
        {
            "analysisValueTemplateRef": _ref("response-time-p95"),
            "target": {
                "failure": {"greaterThan": {"fixedValue": "1000"}},
                "warning": {"greaterThanOrEqual": {"fixedValue": "800"}},
            },
            "weight": 1,
        },
        {"analysisValueTemplateRef": _ref("cpu"), "target": {}},
        {"analysisValueTemplateRef": _ref("throughput"), "target": {}},
        {"analysisValueTemplateRef": _ref("error-rate"), "target": {}},
    ]
    assert body["spec"]["totalScore"] == {"passPercentage": 100, "warningPercentage": 65}
    assert schemas.validate(body) == []
    assert any("'<=+75%' dropped" in n for n in notes)
    assert any("(cpu).pass: several criteria blocks" in n for n in notes)


def test_keptn_v1_spec_slo_example() -> None:
    body, notes = convert_slo(yaml.safe_load(SPEC_SLO), "checkout", "")
    [objective] = body["spec"]["objectives"]
    assert objective == {
        "analysisValueTemplateRef": {"name": "response-time-p95"},
        "target": {
            "failure": {"greaterThan": {"fixedValue": "800"}},
            "warning": {"greaterThanOrEqual": {"fixedValue": "600"}},
        },
    }
    assert notes == [
        "objectives[0] (response_time_p95).pass: relative criterion '<=+10%' dropped beside fixed ones"
    ]
    assert schemas.validate(body) == []


def test_relative_criteria_klt_drops_become_relative_targets() -> None:
    slo = yaml.safe_load(SPEC_SLO)
    slo["comparison"]["aggregate_function"] = "p90"
    slo["comparison"]["include_result_with_score"] = "pass_or_warn"
    slo["objectives"] = [
        {
            "sli": "error_rate",
            "pass": [{"criteria": ["<=+10%"]}],
            "warning": [{"criteria": ["<=+25%"]}],
        },
        {"sli": "throughput", "pass": [{"criteria": [">=-5"]}], "key_sli": True, "weight": 3},
    ]
    body, notes = convert_slo(slo, "rel", "")
    comp = {"aggregation": "p90", "lookback": 3, "include": "pass_or_warn"}
    first, second = body["spec"]["objectives"]
    assert first["target"] == {
        "failure": {"relative": {"operator": ">", "percent": 25.0, **comp}},
        "warning": {"relative": {"operator": ">", "percent": 10.0, **comp}},
    }
    assert second["target"] == {
        "failure": {"relative": {"operator": "<", "absolute": -5.0, **comp}}
    }
    assert second["keyObjective"] is True and second["weight"] == 3
    assert notes == []
    assert schemas.validate(body) == []
    # the evaluator reads them as Keptn v1 read the criteria
    assert str(parse_target(first["target"]["warning"])) == ">+10% of p90(last 3)"


def test_sli_files_become_value_templates() -> None:
    templates = convert_sli(yaml.safe_load(SPEC_SLI), "dynatrace", "keptn")
    assert templates == [
        {
            "apiVersion": "metrics.keptn.sh/v1",
            "kind": "AnalysisValueTemplate",
            "metadata": {"name": "throughput"},
            "spec": {
                "provider": {"name": "dynatrace", "namespace": "keptn"},
                "query": "builtin:service.requestCount.total:merge(0):count"
                "?scope=tag(keptn_service:{{.service}}),mzId({{.mz_id}})",
            },
        }
    ]
    assert schemas.validate(templates[0]) == []


def test_cli_prints_yaml_and_names_bad_fields(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sli = tmp_path / "sli.yaml"
    sli.write_text(
        'spec_version: "1.0"\nindicators:\n  response_time_p95: "histogram_quantile(0.95, $SERVICE)"\n'
    )
    assert main(["convert", "sli", str(sli), "--provider", "prom"]) == 0
    [doc] = list(yaml.safe_load_all(capsys.readouterr().out))
    assert doc["metadata"]["name"] == "response-time-p95"
    assert doc["spec"]["query"] == "histogram_quantile(0.95, {{.service}})"
    bad = tmp_path / "slo.yaml"
    bad.write_text("objectives:\n- sli: x\n  pass: [{criteria: ['about 5']}]\n")
    assert main(["convert", "slo", str(bad)]) == 1
    assert "objectives[0] (x).pass: cannot read criterion 'about 5'" in capsys.readouterr().err
    with pytest.raises(ConvertError, match="indicators"):
        convert_sli({"spec_version": "1.0"}, "p", "")
