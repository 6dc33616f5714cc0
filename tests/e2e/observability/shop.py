"""The app the end-to-end observability tests deploy, and the checks of the trace it produces.

Role: `Shop` applies a KeptnAppContext (spanLinks, metadata with commitTime), a KeptnApp of two
or three Deployments, python task definitions, and a KeptnEvaluationDefinition on a KeptnMetric;
`release(version)` creates or updates all of it for one app version (an upgrade is a second
release). App-level pre-deployment task + post-deployment evaluation; workload-level pre task and
post evaluation; `failing=` makes one workload's pre task exit non-zero.
`trace_problems()` compares the spans of one AppVersion's trace with the objects the flow left in
the API (names, parentage, attributes, links, error status) and returns what is wrong as text,
so a test can print every problem at once.
Invariant: nothing here reads the operator's memory; only the API and the received spans.
"""

from __future__ import annotations

import base64
import collections
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lifecycle.core import model
from lifecycle.core.naming import format_time
from lifecycle.kube import AlreadyExists, KubeClient
from tests.e2e.flow.workloads import deployment
from tests.e2e.observability.conftest import ReceivedSpan

__all__ = ["LINK", "Shop", "trace_problems"]

Body = dict[str, Any]

LINK = "00-" + "12" * 16 + "-" + "34" * 8 + "-01"
PY_OK = 'import json, os\nprint("ok", json.loads(os.environ["KEPTN_CONTEXT"])["taskType"])\n'
PY_FAIL = 'import sys\nprint("failing on purpose")\nsys.exit(3)\n'
APP_PHASES = ("AppPreDeployTasks", "AppPreDeployEvaluations", "AppDeploy")
APP_POST = ("AppPostDeployTasks", "AppPostDeployEvaluations")
WORKLOAD_PHASES = (
    "WorkloadPreDeployTasks",
    "WorkloadPreDeployEvaluations",
    "WorkloadDeploy",
    "WorkloadPostDeployTasks",
    "WorkloadPostDeployEvaluations",
)


@dataclass
class Shop:
    client: KubeClient
    namespace: str
    app: str = "shop"
    workloads: tuple[str, ...] = ("cart", "front")
    metric_server: str = "http://127.0.0.1:1"
    """Prometheus of the KeptnMetricsProvider; the default is unreachable (static value used)."""
    metric_query: str = "unused"
    static_value: str | None = "312"
    """Written into the KeptnMetric's status at once; None lets the metric controller fetch."""
    task_sleep: float = 0.0

    async def _upsert(self, kind: model.ResourceKind, body: Body) -> None:
        try:
            await self.client.create(kind, body, self.namespace)
        except AlreadyExists:
            name = body["metadata"]["name"]
            await self.client.patch(kind, name, {"spec": body["spec"]}, self.namespace)

    async def define(self) -> None:
        """Task definitions, the metrics provider, the KeptnMetric and the evaluation definition."""
        sleep = f"import time\ntime.sleep({self.task_sleep})\n" if self.task_sleep else ""
        for name, code in (("py-ok", sleep + PY_OK), ("py-fail", PY_FAIL)):
            body = {
                "metadata": {"name": name},
                "spec": {"python": {"inline": {"code": code}}, "retries": 0, "timeout": "30s"},
            }
            await self._upsert(model.KEPTN_TASK_DEFINITION, body)
        provider = {
            "metadata": {"name": "prom"},
            "spec": {"type": "prometheus", "targetServer": self.metric_server},
        }
        await self._upsert(model.KEPTN_METRICS_PROVIDER, provider)
        interval = 3600 if self.static_value is not None else 1
        metric = {
            "metadata": {"name": "latency"},
            "spec": {
                "provider": {"name": "prom"},
                "query": self.metric_query,
                "fetchIntervalSeconds": interval,
            },
        }
        await self._upsert(model.KEPTN_METRIC, metric)
        if self.static_value is not None:
            value = self.static_value
            status = {
                "value": value,
                "rawValue": base64.b64encode(value.encode()).decode(),
                "lastUpdated": format_time(datetime.now(UTC)),
            }
            await self.client.patch_status(
                model.KEPTN_METRIC, "latency", {"status": status}, self.namespace
            )
        slo = {
            "metadata": {"name": "slo"},
            "spec": {
                "objectives": [{"keptnMetricRef": {"name": "latency"}, "evaluationTarget": "<500"}],
                "retries": 3,
                "retryInterval": "1s",  # the minimum (lifecycle.core.bounds)
            },
        }
        await self._upsert(model.KEPTN_EVALUATION_DEFINITION, slo)

    async def release(
        self,
        version: str,
        *,
        commit_time: datetime,
        failing: str | None = None,
        span_links: tuple[str, ...] = (LINK,),
    ) -> None:
        """Context, app and Deployments at `version`; `failing` names a workload whose task fails."""
        context = {
            "metadata": {"name": self.app},
            "spec": {
                "preDeploymentTasks": ["py-ok"],
                "postDeploymentEvaluations": ["slo"],
                "spanLinks": list(span_links),
                "metadata": {
                    "commitTime": format_time(commit_time),
                    "stage": "e2e",
                    "owner": "team-shop",
                },
            },
        }
        await self._upsert(model.KEPTN_APP_CONTEXT, context)
        app = {
            "metadata": {"name": self.app},
            "spec": {
                "version": version,
                "workloads": [{"name": w, "version": version} for w in self.workloads],
            },
        }
        await self._upsert(model.KEPTN_APP, app)
        for workload in self.workloads:
            task = "py-fail" if workload == failing else "py-ok"
            await self._upsert(model.DEPLOYMENT, self._deployment(workload, version, task))

    def _deployment(self, name: str, version: str, task: str) -> Body:
        keys = {
            "keptn.sh/pre-deployment-tasks": task,
            "keptn.sh/post-deployment-evaluations": "slo",
        }
        return deployment(name, version=version, app=self.app, keys=keys)

    async def objects(self, kind: model.ResourceKind) -> list[Body]:
        items, _ = await self.client.list(kind, self.namespace)
        return items

    async def app_version(self, version: str) -> Body | None:
        for av in await self.objects(model.KEPTN_APP_VERSION):
            if av["spec"].get("appName") == self.app and av["spec"].get("version") == version:
                return av
        return None

    async def finished(self, version: str) -> bool:
        """The AppVersion of `version` and its WorkloadVersions ended (any end state)."""
        av = await self.app_version(version)
        ends = ("Succeeded", "Failed", "Warning", "Deprecated")
        if av is None or (av.get("status") or {}).get("status") not in ends:
            return False
        wvs = [w for w in await self.objects(model.KEPTN_WORKLOAD_VERSION) if _of(w, av)]
        return len(wvs) == len(self.workloads) and all(
            (w.get("status") or {}).get("status") in ends for w in wvs
        )


def _of(wv: Body, av: Body) -> bool:
    return bool(
        wv["spec"].get("app") == av["spec"]["appName"]
        and wv["spec"].get("version") == av["spec"]["version"]
    )


def _owned(child: Body, uids: set[str]) -> bool:
    return any(ref.get("uid") in uids for ref in child["metadata"].get("ownerReferences") or ())


async def trace_problems(
    shop: Shop,
    version: str,
    spans: list[ReceivedSpan],
    *,
    previous_root: ReceivedSpan | None = None,
) -> list[str]:
    """What is wrong with the trace of the AppVersion of `version`, against the API's objects."""
    problems: list[str] = []
    av = await shop.app_version(version)
    assert av is not None, version
    wvs = [w for w in await shop.objects(model.KEPTN_WORKLOAD_VERSION) if _of(w, av)]
    uids = {av["metadata"]["uid"]} | {w["metadata"]["uid"] for w in wvs}
    tasks = [t for t in await shop.objects(model.KEPTN_TASK) if _owned(t, uids)]
    evaluations = [e for e in await shop.objects(model.KEPTN_EVALUATION) if _owned(e, uids)]
    by_id = {s.span_id: s for s in spans}
    # A re-delivery after a crash is the same span again (ids and times come from status); two
    # different spans under one id would be a bug.
    problems += [
        f"span {s.name} received with different content under one id"
        for s in spans
        if s != by_id[s.span_id]
    ]
    problems += [
        f"orphan {s.name}" for s in by_id.values() if s.parent_id and s.parent_id not in by_id
    ]
    names = collections.Counter(s.name for s in by_id.values())
    problems += [f"two spans named {n}" for n, k in names.items() if k > 1]
    named = {s.name: s for s in by_id.values()}
    root = named.get(av["metadata"]["name"])
    if root is None:
        return [*problems, f"no root span {av['metadata']['name']}; got {sorted(named)}"]
    if root.parent_id:
        problems.append("root has a parent")

    def parent_is(span: str, parent: str) -> None:
        s, p = named.get(span), named.get(parent)
        if s is None:
            problems.append(f"missing span {span}")
        elif p is None or s.parent_id != p.span_id:
            problems.append(f"{span}: parent is {by_id.get(s.parent_id)}, want {parent}")

    av_status = av["status"]
    failed = av_status.get("status") == "Failed"
    for phase in APP_PHASES + (() if failed else APP_POST):
        parent_is(phase, root.name)
    for wv in wvs:
        parent_is(wv["metadata"]["name"], "AppDeploy")
        workload = wv["spec"]["workloadName"]
        ended = [
            p
            for p in WORKLOAD_PHASES
            if (wv["status"].get("phaseTraceIDs") or {}).get(p, {}).get("endTime")
        ]
        for phase in ended:
            parent_is(f"{workload}/{phase}", wv["metadata"]["name"])
        if not failed and len(ended) != len(WORKLOAD_PHASES):
            problems.append(f"{wv['metadata']['name']} ended only {ended}")
    for child in tasks + evaluations:
        under = _child_phase(child, av, wvs)
        if under is not None and child.get("status", {}).get("endTime"):
            parent_is(child["metadata"]["name"], under)
    problems += _attribute_problems(named, av, wvs)
    problems += _link_problems(root, previous_root)
    problems += _error_problems(named, av, wvs, tasks)
    return problems


def _child_phase(child: Body, av: Body, wvs: list[Body]) -> str | None:
    """The phase span a task/evaluation hangs under, from its owner and check type."""
    owner = (child["metadata"].get("ownerReferences") or [{}])[0].get("uid")
    is_task = child["kind"] == "KeptnTask"
    check = str(
        child["spec"].get("checkType") or (child["spec"].get("context") or {}).get("taskType")
    )
    stage = "Pre" if check.startswith("pre") else "Post"
    what = "Tasks" if is_task else "Evaluations"
    if owner == av["metadata"]["uid"]:
        return f"App{stage}Deploy{what}"
    for wv in wvs:
        if owner == wv["metadata"]["uid"]:
            return f"{wv['spec']['workloadName']}/Workload{stage}Deploy{what}"
    return None


def _attribute_problems(named: dict[str, ReceivedSpan], av: Body, wvs: list[Body]) -> list[str]:
    problems: list[str] = []
    spec = av["spec"]

    def want(span_name: str, expected: dict[str, Any]) -> None:
        span = named.get(span_name)
        if span is None:
            return
        wrong = {
            k: span.attributes.get(k) for k, v in expected.items() if span.attributes.get(k) != v
        }
        if wrong:
            problems.append(f"{span_name}: attributes {wrong}, want {expected}")

    app_keys = {
        "keptn.deployment.app.name": spec["appName"],
        "keptn.deployment.app.version": spec["version"],
        "keptn.deployment.app.namespace": av["metadata"]["namespace"],
        "cicd.pipeline.name": spec["appName"],
        "deployment.name": av["metadata"]["name"],
        "commitTime": (spec.get("metadata") or {}).get("commitTime"),
        "deployment.environment.name": "e2e",
    }
    result = {"Succeeded": "success", "Failed": "failure"}[av["status"]["status"]]
    want(av["metadata"]["name"], {**app_keys, "cicd.pipeline.result": result})
    want("AppDeploy", {**app_keys, "keptn.deployment.phase": "AppDeploy"})
    if spec.get("previousVersion"):
        want(
            av["metadata"]["name"],
            {"keptn.deployment.app.previousversion": spec["previousVersion"]},
        )
    for wv in wvs:
        keys = {
            "keptn.deployment.app.name": spec["appName"],
            "keptn.deployment.workload.name": wv["spec"]["workloadName"],
            "keptn.deployment.workload.version": wv["spec"]["version"],
            "keptn.deployment.workload.namespace": wv["metadata"]["namespace"],
            "owner": "team-shop",
        }
        want(wv["metadata"]["name"], keys)
        want(f"{wv['spec']['workloadName']}/WorkloadPreDeployTasks", keys)
    for span in named.values():
        versioned = span.scope.endswith(("appversion", "workloadversion"))
        if versioned and "keptn.deployment.app.name" not in span.attributes:
            problems.append(f"{span.name}: no keptn.deployment.app.name")
        if "keptn.deployment.task.name" in span.attributes:
            for key in (
                "cicd.pipeline.task.name",
                "cicd.pipeline.task.run.id",
                "keptn.deployment.task.type",
            ):
                if key not in span.attributes:
                    problems.append(f"task span {span.name}: no {key}")
    return problems


def _link_problems(root: ReceivedSpan, previous_root: ReceivedSpan | None) -> list[str]:
    problems: list[str] = []
    targets = {(t, s): a for t, s, a in root.links}
    if ("12" * 16, "34" * 8) not in targets:
        problems.append(f"root: no link to spanLinks' {LINK}; links {root.links}")
    elif targets[("12" * 16, "34" * 8)].get("opentracing.ref_type") != "follows-from":
        problems.append("root: spanLinks link is not follows-from")
    if previous_root is not None and (previous_root.trace_id, previous_root.span_id) not in targets:
        problems.append(
            f"root: no link to the previous version's root {previous_root.name}; links {root.links}"
        )
    return problems


def _error_problems(
    named: dict[str, ReceivedSpan], av: Body, wvs: list[Body], tasks: list[Body]
) -> list[str]:
    problems: list[str] = []
    failed_av = av["status"]["status"] == "Failed"
    root = named.get(av["metadata"]["name"])
    if root is not None and root.error != failed_av:
        problems.append(f"root error={root.error}, AppVersion {av['status']['status']}")
    for wv in wvs:
        for phase, carrier in (wv["status"].get("phaseTraceIDs") or {}).items():
            span = named.get(f"{wv['spec']['workloadName']}/{phase}")
            if span is None or not isinstance(carrier, dict):
                continue
            failed = carrier.get("state") == "Failed"
            if span.error != failed:
                problems.append(
                    f"{span.name}: error={span.error}, carrier state {carrier.get('state')}"
                )
            if failed and not span.status_message:
                problems.append(f"{span.name}: failed without a reason")
            if failed and not any("has failed" in e for e in span.events):
                problems.append(f"{span.name}: no 'has failed' event: {span.events}")
    for task in tasks:
        span = named.get(task["metadata"]["name"])
        if span is None:
            continue
        failed = task.get("status", {}).get("status") == "Failed"
        if span.error != failed:
            problems.append(f"task {span.name}: error={span.error}, status {task.get('status')}")
        if failed and not any("failed with reason" in e for e in span.events):
            problems.append(f"task {span.name}: no reason event {span.events}")
    return problems
