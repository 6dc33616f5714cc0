"""The release view in a real headless Chromium, against the demo's live cluster.

Each test reads what the page shows (through data attributes on the drawn elements) and compares
it with the cluster's own objects read by kubectl. `KLT_UI_SCREENSHOTS=DIR` saves each page.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from lifecycle.commands import trace
from lifecycle.kube import KubeClient
from tests.ui.conftest import Demo, kubectl, kubectl_json

NS = "podtato-kubectl"


def _shot(page: Page, name: str) -> None:
    folder = os.environ.get("KLT_UI_SCREENSHOTS")
    if folder:
        page.screenshot(path=str(Path(folder) / f"ui-{name}.png"), full_page=False)


def _open(page: Page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("main[data-rendered]")


def _app_versions(kubeconfig: Path) -> dict[str, Any]:
    items = kubectl_json(kubeconfig, "get", "kav", "-n", NS)["items"]
    return {i["spec"]["version"]: i for i in items if i["spec"]["appName"] == "podtato-head"}


def test_applications_list_shows_the_three_versions_with_their_states(
    ui: str, page: Page, demo: Demo
) -> None:
    _open(page, ui + "/")
    card = page.locator('section[data-app="podtato-head"]')
    shown = {
        row.get_attribute("data-version"): row.get_attribute("data-state")
        for row in card.locator("tr[data-version]").all()
    }
    assert shown == {"0.1.0": "Succeeded", "0.2.0": "Failed", "0.3.0": "Failed"}
    assert shown == {
        v: kav["status"]["status"] for v, kav in _app_versions(demo.kubeconfig).items()
    }
    expect(card.locator('tr[data-version="0.3.0"] .reason')).to_contain_text(
        "Failed in WorkloadPreDeployTasks"
    )
    _shot(page, "applications")


async def _timeline_bars(kubeconfig: Path, name: str) -> int:
    async with await KubeClient.from_kubeconfig(str(kubeconfig)) as client:
        return len((await trace.load_timeline(client, name, NS)).bars)


def test_timeline_has_a_bar_per_phase_task_and_evaluation_and_the_reason(
    ui: str, page: Page, demo: Demo
) -> None:
    kav = _app_versions(demo.kubeconfig)["0.3.0"]
    name = kav["metadata"]["name"]
    _open(page, f"{ui}/appversions/{NS}/{name}")
    bars = page.locator(".timeline .bar")
    drawn = [(b.get_attribute("data-label"), b.get_attribute("data-state")) for b in bars.all()]
    # what `klt trace` draws (its own loop: Playwright's sync API holds this thread's)
    with ThreadPoolExecutor(1) as pool:
        assert (
            len(drawn) == pool.submit(asyncio.run, _timeline_bars(demo.kubeconfig, name)).result()
        )
    assert drawn[0] == (name, "Failed")

    # every task and evaluation of the app version and its workload versions has its bar
    workloads = [
        kubectl_json(
            demo.kubeconfig, "get", "kwv", "-n", NS, f"podtato-head-{w['name']}-{w['version']}"
        )
        for w in kav["spec"]["workloads"]
    ]
    for body in (kav, *workloads):
        status = body["status"]
        for field in (
            "preDeploymentTaskStatus",
            "preDeploymentEvaluationTaskStatus",
            "postDeploymentTaskStatus",
            "postDeploymentEvaluationTaskStatus",
        ):
            for item in status.get(field) or ():
                assert (item["definitionName"], item["status"]) in drawn, (field, item)
        for phase, carrier in status["phaseTraceIDs"].items():
            if phase != "root" and carrier.get("state") == "Failed":
                assert (phase, "Failed") in drawn

    failed_task = next(
        i
        for w in workloads
        for i in w["status"].get("preDeploymentTaskStatus") or ()
        if i["status"] == "Failed"
    )
    failed_phase = next(
        w["status"]["phaseTraceIDs"]["WorkloadPreDeployTasks"]
        for w in workloads
        if w["status"]["phaseTraceIDs"].get("WorkloadPreDeployTasks", {}).get("state") == "Failed"
    )
    expect(page.locator(".timeline")).to_contain_text(failed_phase["reason"])
    expect(page.locator("p[data-reason]")).to_have_text(
        "podtato-head-frontend-0.3.0 Failed in WorkloadPreDeployTasks"
    )
    task_row = page.locator(f'tr[data-task="{failed_task["name"]}"]')
    expect(task_row).to_have_attribute("data-state", "Failed")
    expect(task_row).to_contain_text("needs schema 42")  # the last lines of the task's log
    trace_id = kav["status"]["phaseTraceIDs"]["root"]["traceparent"].split("-")[1]
    expect(page.locator("[data-trace]")).to_have_attribute("data-trace", trace_id)
    expect(page.locator('tr[data-reason="AppDeployErrored"]')).to_have_count(1)
    _shot(page, "appversion")


LIVE_APP = """
apiVersion: lifecycle.keptn.sh/v1
kind: KeptnAppVersion
metadata:
  name: ui-live-0.9.0-6b86b273
  namespace: podtato-kubectl
spec:
  appName: ui-live
  version: 0.9.0
  revision: 1
  workloads: []
  preDeploymentTasks: [ui-live-check]
"""
LIVE_TASK = """
apiVersion: lifecycle.keptn.sh/v1
kind: KeptnTaskDefinition
metadata:
  name: ui-live-check
  namespace: podtato-kubectl
spec:
  python:
    inline:
      code: print("checked")
"""


def test_a_phase_change_shows_on_the_open_page_without_a_reload(
    ui: str, page: Page, demo: Demo
) -> None:
    kubectl(demo.kubeconfig, "apply", "-f", "-", stdin=LIVE_APP)
    # waits in AppPreDeployTasks for its task definition
    page.goto(f"{ui}/appversions/{NS}/ui-live-0.9.0-6b86b273")
    page.wait_for_selector(".timeline .bar")
    expect(page.locator(".timeline .bar").first).to_have_attribute("data-state", "Progressing")
    page.evaluate("window.__sameDocument = true")
    rendered = int(page.locator("main").get_attribute("data-rendered") or 0)

    kubectl(demo.kubeconfig, "apply", "-f", "-", stdin=LIVE_TASK)
    expect(page.locator(".timeline .bar").first).to_have_attribute(
        "data-state", "Succeeded", timeout=30_000
    )
    expect(page.locator('.bar[data-label="ui-live-check"]')).to_have_attribute(
        "data-state", "Succeeded"
    )
    assert page.evaluate("window.__sameDocument") is True  # no reload: the same document
    assert int(page.locator("main").get_attribute("data-rendered") or 0) > rendered
    kav = kubectl_json(demo.kubeconfig, "get", "kav", "-n", NS, "ui-live-0.9.0-6b86b273")
    assert kav["status"]["status"] == "Succeeded"


QUALITY = """
apiVersion: metrics.keptn.sh/v1
kind: AnalysisValueTemplate
metadata: {name: ui-availability, namespace: podtato-kubectl}
spec:
  provider: {name: prometheus-provider}
  query: min(podtato_head_availability_ratio{app="{{.app}}"})
---
apiVersion: metrics.keptn.sh/v1
kind: AnalysisValueTemplate
metadata: {name: ui-latency, namespace: podtato-kubectl}
spec:
  provider: {name: prometheus-provider}
  query: max(podtato_head_request_duration_seconds{app="{{.app}}"}) * {{.factor}}
---
apiVersion: metrics.keptn.sh/v1
kind: AnalysisValueTemplate
metadata: {name: ui-latency-trend, namespace: podtato-kubectl}
spec:
  provider: {name: prometheus-provider}
  query: max(podtato_head_request_duration_seconds{app="{{.app}}"}) * {{.factor}}
---
apiVersion: metrics.keptn.sh/v1
kind: AnalysisDefinition
metadata: {name: ui-quality, namespace: podtato-kubectl}
spec:
  objectives:
    - analysisValueTemplateRef: {name: ui-availability}
      target: {failure: {lessThan: {fixedValue: "0.99"}}}
      weight: 1
    - analysisValueTemplateRef: {name: ui-latency}
      target:
        failure: {greaterThan: {fixedValue: "1"}}
        warning: {greaterThan: {fixedValue: 500m}}
      weight: 2
    - analysisValueTemplateRef: {name: ui-latency-trend}
      target:
        warning:
          relative: {operator: ">", percent: 50, aggregation: avg, lookback: 3, include: all}
  totalScore: {passPercentage: 90, warningPercentage: 60}
"""


def _analysis(name: str, factor: str) -> str:
    return f"""
apiVersion: metrics.keptn.sh/v1
kind: Analysis
metadata: {{name: {name}, namespace: podtato-kubectl}}
spec:
  timeframe: {{recent: 1m}}
  args: {{app: podtato-head, factor: "{factor}"}}
  analysisDefinition: {{name: ui-quality}}
"""


def _completed(kubeconfig: Path, name: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        body: dict[str, Any] = kubectl_json(kubeconfig, "get", "analysis", "-n", NS, name)
        if (body.get("status") or {}).get("state") == "Completed":
            return body
        time.sleep(0.3)
    raise AssertionError(f"analysis {name} did not complete: {body.get('status')}")


def test_heatmap_cells_match_the_stored_results(ui: str, page: Page, demo: Demo) -> None:
    kubectl(demo.kubeconfig, "apply", "-f", "-", stdin=QUALITY)
    # pass, warning (fixed), fail: the demo's latency varies between runs, so the factors of
    # the 2nd and 3rd runs scale the 1st run's value to 0.75 (warning) and 2 (failure); the
    # 4th has the args of the 1st: a baseline for the trend
    runs = {}
    kubectl(demo.kubeconfig, "apply", "-f", "-", stdin=_analysis("ui-run-1", "1"))
    runs["ui-run-1"] = json.loads(_completed(demo.kubeconfig, "ui-run-1")["status"]["raw"])
    base = next(
        e["value"]
        for e in runs["ui-run-1"]["objectiveResults"]
        if e["objective"]["analysisValueTemplateRef"]["name"] == "ui-latency"
    )
    assert base > 0, runs["ui-run-1"]
    for name, factor in (
        ("ui-run-2", f"{0.75 / base:.4f}"),
        ("ui-run-3", f"{2 / base:.4f}"),
        ("ui-run-4", "1"),
    ):
        kubectl(demo.kubeconfig, "apply", "-f", "-", stdin=_analysis(name, factor))
        runs[name] = json.loads(_completed(demo.kubeconfig, name)["status"]["raw"])

    _open(page, f"{ui}/quality/definitions/{NS}/ui-quality")
    expect(page.locator("td.cell[data-result]")).to_have_count(12)
    verdicts = set()
    for name, raw in runs.items():
        for entry in raw["objectiveResults"]:
            row = entry["objective"]["analysisValueTemplateRef"]["name"]
            cell = page.locator(f'td.cell[data-col="{name}"][data-row="{row}"]')
            assert cell.get_attribute("data-result") == entry["status"], (name, row)
            assert float(cell.get_attribute("data-value") or "nan") == entry["value"]
            assert float(cell.get_attribute("data-score") or "nan") == entry["score"]
            expect(cell).to_contain_text(entry["target"])
        total = page.locator(f'td[data-col="{name}"][data-verdict]')
        assert total.get_attribute("data-verdict") == raw["verdict"]
        assert total.get_attribute("data-total") == f"{raw['totalScore']:g}/{raw['maximumScore']:g}"
        verdicts.add(raw["verdict"])
    summary = {
        n: (
            r["verdict"],
            r["percentage"],
            [(e["status"], e["value"]) for e in r["objectiveResults"]],
        )
        for n, r in runs.items()
    }
    assert verdicts == {"pass", "warning", "fail"}, summary  # the runs really differ
    # the relative objective shows the baseline it was compared with (none for the first run)
    trend = 'td[data-col="ui-run-{}"][data-row="ui-latency-trend"] [data-baseline]'
    expect(page.locator(trend.format(4))).to_contain_text("avg=")
    expect(page.locator(trend.format(1))).to_have_count(0)
    _shot(page, "quality-analyses")

    # the app's heatmap: evaluation objectives x versions, as the KeptnEvaluations recorded
    _open(page, f"{ui}/quality/apps/{NS}/podtato-head")
    versions = _app_versions(demo.kubeconfig)
    evaluations = kubectl_json(demo.kubeconfig, "get", "keptnevaluations", "-n", NS)["items"]
    checked = 0
    for evaluation in evaluations:
        spec = evaluation["spec"]
        if spec["appName"] != "podtato-head" or not spec["appVersion"]:
            continue
        column = versions[spec["appVersion"]]["metadata"]["name"]
        for metric, result in evaluation["status"]["evaluationStatus"].items():
            row = f"{spec['checkType']} · app · {spec['evaluationDefinition']} · {metric}"
            cell = page.locator(f'td.cell[data-col="{column}"][data-row="{row}"]')
            expected = {"Succeeded": "pass", "Failed": "fail"}[result["status"]]
            assert cell.get_attribute("data-result") == expected, (column, row)
            assert cell.get_attribute("data-value") == result["value"]
            checked += 1
    assert checked >= 4
    fail = page.locator('td.cell[data-result="fail"]')
    expect(fail.first).to_contain_text("did not meet objective")
    _shot(page, "quality-app")


def test_demo_keep_serves_the_release_view_too(demo: Demo, page: Page) -> None:
    line = next(x for x in demo.output.splitlines() if x.startswith("release view (klt ui): "))
    url = line.split(": ", 1)[1].strip()
    _open(page, url)
    expect(page.locator('section[data-app="podtato-head"] tr[data-version]')).to_have_count(3)
    expect(page.locator("#live")).to_have_text("live")
