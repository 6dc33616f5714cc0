"""The cluster-shape lane: deploy/ as shipped, two operator replicas as the Deployment runs them.

What it does, in order (``run_lane``), on the strict sandbox (RBAC for ServiceAccount tokens,
real-server name/size validation, webhook Services resolved to their ready pods):

1. ``kubectl apply -k`` of a kustomization in the test's tmp dir whose only content is
   ``resources: [<deploy dir>]`` plus an ``images:`` entry (the image reference is the one thing a
   user sets). The Prometheus Operator's and Argo Rollouts' CRDs are registered first
   (third-party, minimal, as in tests/e2e/test_deploy.py). Nothing of deploy/ is edited.
2. The simulated node runs the Deployment's two pods (Ready). A ServiceAccount token is taken
   the standard way (``kubectl create token lifecycle-operator``) and written into a kubeconfig,
   as a pod's mounted token would be.
3. Two ``klt operator`` processes stand in for the two pods. Each runs the container's own args
   and env from deploy/operator/deployment.yaml with only the in-process addresses substituted:
   ``--in-cluster`` -> ``--kubeconfig=<the ServiceAccount's kubeconfig>`` (so RBAC applies),
   ``--webhook-port/--metrics-port/--probe-port`` -> free loopback ports, ``--bind=127.0.0.1``
   (the pod IP), ``--cert-dir`` -> an empty dir of its own (the ``emptyDir``), and the env's
   fieldRefs (POD_NAME, POD_NAMESPACE) resolved to its pod. Added for the test's timing and
   observation only: a 3 s Lease (``--lease-duration 3 --renew-deadline 2 --retry-period 0.5``
   instead of 15/10/2) and ``--trace-file`` (to see which replica answered each pod admission).
   Each pod gets the annotation ``sandbox.klt.dev/address: 127.0.0.1:<its webhook port>``: the
   webhook Service resolves to the two ready pods and the sandbox spreads calls over them.
4. A namespace opted in by the ANNOTATION only runs a three-workload app with pre/post tasks
   (python and deno) and pre/post evaluations; while it runs, every pod is sampled: a pod without
   the gate must belong to a WorkloadVersion whose pre-deployment tasks and evaluations
   succeeded. A second namespace runs a workload whose pre-deployment task fails; a third a pod
   whose spec is over 1 MiB. Mid-flow the leader is SIGKILLed: the other replica takes the
   Lease once it runs out and finishes every flow; the killed one is then restarted (a container
   restart, now a follower); nothing runs twice.
5. ``kubectl auth can-i --as=system:serviceaccount:keptn-system:lifecycle-operator`` for the
   verbs the operator uses and a sample it does not (the lists are in test_cluster.py).

Everything observed is returned in a ``LaneResult``; the sandbox is gone when the tests look.
``KLT_DEPLOY_DIR`` points the lane at another deploy dir (used once to show it fails on the
manifests before issue 10; see the notes).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lifecycle.core import model
from lifecycle.core.naming import format_time
from lifecycle.kube import KubeClient, NotFound
from sandbox.node import NodeSettings, Outcome
from sandbox.server import Sandbox
from tests.e2e.deploy.test_deploy import _third_party_crd
from tests.e2e.flow.workloads import deployment, gated
from tests.e2e.reliability.operator_process import OperatorProcess
from tests.e2e.reliability.scenario import Observed, Scenario
from tests.e2e.reliability.test_failover import holder
from tests.support.paths import REPO_ROOT
from tracing.setup import read_span_lines

Body = dict[str, Any]
ROOT = REPO_ROOT
DEPLOY = Path(os.environ.get("KLT_DEPLOY_DIR") or ROOT / "deploy")
KEPTN_NS = "keptn-system"
SA = "lifecycle-operator"
LEASE = (3.0, 2.0, 0.5)
APP_NS = "shop"
FAIL_NS = "failing"
BIG_NS = "big"
BIG_BYTES = 1_100_000  # the pod's spec is over 1 MiB (aiohttp's default body limit)


@dataclass
class LaneResult:
    applied: str
    seen: Observed | None = None
    scenario: Scenario | None = None
    violations: list[str] = field(default_factory=list)
    """Pods seen ungated before their WorkloadVersion's pre-deployment checks succeeded."""
    answered: dict[str, int] = field(default_factory=dict)
    """Replica -> pod admissions it answered (annotate_pod spans)."""
    failing_pod_gated: bool = False
    failing_version: str = ""
    big_pod: Body | None = None
    big_workload: Body | None = None
    takeover: bool = False
    logs: dict[str, str] = field(default_factory=dict)
    can_i: dict[tuple[str, ...], bool] = field(default_factory=dict)
    ca_bundles: set[str] = field(default_factory=set)
    secret_ca: str = ""
    served_certs: set[bytes] = field(default_factory=set)


class EvaluatedScenario(Scenario):
    """tests/e2e/reliability's app plus a pre- and a post-deployment evaluation on every workload."""

    async def apply_app(self) -> None:
        await super().apply_app()
        ns = self.namespace
        provider = {
            "apiVersion": model.KEPTN_METRICS_PROVIDER.api_version,
            "kind": "KeptnMetricsProvider",
            "metadata": {"name": "prom", "namespace": ns},
            "spec": {"type": "prometheus", "targetServer": "http://127.0.0.1:1"},
        }
        await self._create(model.KEPTN_METRICS_PROVIDER, provider)
        metric = {
            "apiVersion": model.KEPTN_METRIC.api_version,
            "kind": "KeptnMetric",
            "metadata": {"name": "latency", "namespace": ns},
            "spec": {"provider": {"name": "prom"}, "query": "unused", "fetchIntervalSeconds": 3600},
        }
        await self._create(model.KEPTN_METRIC, metric)
        now = format_time(dt.datetime.now(dt.UTC))
        status = {"value": "3", "rawValue": base64.b64encode(b"3").decode(), "lastUpdated": now}
        await self.client.patch_status(model.KEPTN_METRIC, "latency", {"status": status}, ns)
        definition = {
            "apiVersion": model.KEPTN_EVALUATION_DEFINITION.api_version,
            "kind": "KeptnEvaluationDefinition",
            "metadata": {"name": "slo", "namespace": ns},
            "spec": {
                "objectives": [{"keptnMetricRef": {"name": "latency"}, "evaluationTarget": "<5"}]
            },
        }
        await self._create(model.KEPTN_EVALUATION_DEFINITION, definition)

    def _deployment(self, name: str) -> Body:
        body = super()._deployment(name)
        annotations = body["spec"]["template"]["metadata"]["annotations"]
        annotations["keptn.sh/pre-deployment-evaluations"] = "slo"
        annotations["keptn.sh/post-deployment-evaluations"] = "slo"
        return body


async def kubectl(sb: Sandbox, home: Path, *args: str, stdin: str | None = None) -> tuple[int, str]:
    env = {**os.environ, "HOME": str(home), "KUBECONFIG": str(sb.kubeconfig_path)}
    proc = await asyncio.create_subprocess_exec(
        "kubectl", f"--cache-dir={home / 'cache'}", *args, env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await proc.communicate(stdin.encode() if stdin else None)
    return int(proc.returncode or 0), out.decode()


def write_overlay(work: Path) -> Path:
    """A kustomization of deploy/ as shipped that only sets the image reference."""
    overlay = work / "overlay"
    overlay.mkdir()
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [os.path.relpath(DEPLOY, overlay)],
        "images": [{"name": "klt/lifecycle-operator", "newName": "test.local/klt-operator"}],
    }
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    return overlay


async def apply_deploy(sb: Sandbox, work: Path) -> str:
    crds = yaml.safe_dump_all(
        [
            _third_party_crd("monitoring.coreos.com", "ServiceMonitor", "servicemonitors"),
            _third_party_crd("monitoring.coreos.com", "PrometheusRule", "prometheusrules"),
            # Argo Rollouts: the pod webhook follows their pods; kubectl auth can-i needs the kind
            _third_party_crd("argoproj.io", "Rollout", "rollouts"),
        ]
    )
    rc, out = await kubectl(sb, work, "apply", "-f", "-", stdin=crds)
    assert rc == 0, out
    overlay = write_overlay(work)
    rc, out = await kubectl(sb, work, "apply", "--validate=strict", "-k", str(overlay))
    assert rc == 0, out
    return out


async def operator_pods(client: KubeClient, within: float = 20.0) -> list[Body]:
    """The Deployment's two pods, Running and Ready on the simulated node."""
    async with asyncio.timeout(within):
        while True:
            pods, _ = await client.list(
                model.POD, KEPTN_NS, label_selector="app.kubernetes.io/name=lifecycle-operator"
            )
            ready = [
                p
                for p in pods
                if any(
                    c.get("type") == "Ready" and c.get("status") == "True"
                    for c in (p.get("status") or {}).get("conditions") or ()
                )
            ]
            if len(ready) == 2:
                return sorted(ready, key=lambda p: p["metadata"]["name"])
            await asyncio.sleep(0.05)


async def service_account_kubeconfig(sb: Sandbox, work: Path) -> Path:
    rc, token = await kubectl(sb, work, "create", "token", SA, "-n", KEPTN_NS)
    assert rc == 0, token
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "sandbox",
                "cluster": {"server": sb.https_url, "certificate-authority": str(sb.ca_path)},
            }
        ],
        "users": [{"name": SA, "user": {"token": token.strip()}}],
        "contexts": [{"name": SA, "context": {"cluster": "sandbox", "user": SA}}],
        "current-context": SA,
    }
    path = work / "sa-kubeconfig"
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


def container_of_deploy() -> Body:
    docs = yaml.safe_load_all((DEPLOY / "operator" / "deployment.yaml").read_text())
    deployment = next(d for d in docs if d and d.get("kind") == "Deployment")
    return dict(deployment["spec"]["template"]["spec"]["containers"][0])


def replica_flags(kubeconfig: Path, trace: Path) -> Any:
    """The container's args with the in-process substitutions of the module docstring."""
    args = [str(a) for a in container_of_deploy()["args"]]
    assert args[0] == "operator"

    def flags(p: OperatorProcess) -> list[str]:
        subs = {
            "--webhook-port": str(p.webhook_port),
            "--metrics-port": str(p.metrics_port),
            "--probe-port": str(p.probe_port),
            "--cert-dir": str(p.work_dir / "certs"),
        }
        out = []
        for arg in args[1:]:
            name = arg.split("=", 1)[0]
            if arg == "--in-cluster":
                out.append(f"--kubeconfig={kubeconfig}")
            elif name in subs:
                out.append(f"{name}={subs[name]}")
            else:
                out.append(arg)
        return [*out, "--bind=127.0.0.1", "--trace-file", str(trace)]

    return flags


def replica_env(pod: Body) -> dict[str, str]:
    env: dict[str, str] = {}
    for item in container_of_deploy().get("env") or ():
        ref = ((item.get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath")
        if ref == "metadata.name":
            env[item["name"]] = pod["metadata"]["name"]
        elif ref == "metadata.namespace":
            env[item["name"]] = pod["metadata"]["namespace"]
        elif "value" in item:
            env[item["name"]] = str(item["value"])
    return env


async def opt_in_by_annotation(client: KubeClient, name: str) -> None:
    annotations = {"keptn.sh/lifecycle-toolkit": "enabled"}
    await client.create(model.NAMESPACE, {"metadata": {"name": name, "annotations": annotations}})


FAIL_CODE = "raise SystemExit('pre-deployment check failed on purpose')\n"


async def start_failing(client: KubeClient) -> None:
    """A workload whose only pre-deployment task fails: its pod must stay gated."""
    await opt_in_by_annotation(client, FAIL_NS)
    definition = {
        "apiVersion": model.KEPTN_TASK_DEFINITION.api_version,
        "kind": "KeptnTaskDefinition",
        "metadata": {"name": "must-fail", "namespace": FAIL_NS},
        "spec": {"python": {"inline": {"code": FAIL_CODE}}, "retries": 0, "timeout": "30s"},
    }
    await client.create(model.KEPTN_TASK_DEFINITION, definition, FAIL_NS)
    body = deployment(
        "risky",
        version="2.0.0+build.7",  # a version that is no valid name part
        keys={"keptn.sh/pre-deployment-tasks": "must-fail"},
    )
    await client.create(model.DEPLOYMENT, body, FAIL_NS)


async def start_big(client: KubeClient) -> None:
    """A workload whose pod spec is over 1 MiB: still admitted through the webhook and gated."""
    await opt_in_by_annotation(client, BIG_NS)
    body = deployment("bulky")
    container = body["spec"]["template"]["spec"]["containers"][0]
    container["env"] = [{"name": "PAYLOAD", "value": "x" * BIG_BYTES}]
    await client.create(model.DEPLOYMENT, body, BIG_NS)


async def sample_gates(client: KubeClient, stop: asyncio.Event, violations: list[str]) -> None:
    """Until ``stop``: every ungated workload pod's WorkloadVersion passed its pre-deployment."""
    while not stop.is_set():
        for ns in (APP_NS, FAIL_NS, BIG_NS):
            try:
                pods, _ = await client.list(model.POD, ns, label_selector="app")
                versions, _ = await client.list(model.KEPTN_WORKLOAD_VERSION, ns)
            except Exception:  # a transient read error: sample again
                continue
            passed = {
                str(v["spec"].get("workloadName"))
                for v in versions
                if (v.get("status") or {}).get("preDeploymentStatus") == "Succeeded"
                and (v.get("status") or {}).get("preDeploymentEvaluationStatus") == "Succeeded"
            }
            for pod in pods:
                annotations = pod["metadata"].get("annotations") or {}
                workload = annotations.get("keptn.sh/workload")
                if workload is None or gated(pod):
                    continue
                if f"{annotations.get('keptn.sh/app', workload)}-{workload}" not in passed:
                    violations.append(f"{ns}/{pod['metadata']['name']} ungated, {workload}")
        await asyncio.sleep(0.05)


def answered(trace: Path) -> int:
    if not trace.exists():
        return 0
    return sum(1 for s in read_span_lines(trace) if s.get("name") == "annotate_pod")


_ERROR_RE = re.compile(r"\b(403|422)\b|forbidden|unprocessable", re.IGNORECASE)


def api_errors(log: str) -> list[str]:
    """Log lines that mention a 403 or a 422 (the JSON timestamp is not looked at)."""
    found = []
    for line in log.splitlines():
        try:
            entry = json.loads(line) if line.startswith("{") else {"msg": line}
        except ValueError:
            entry = {"msg": line}
        text = (
            f"{entry.get('msg', '')} {entry.get('error', '')}" if isinstance(entry, dict) else line
        )
        if _ERROR_RE.search(text):
            found.append(line[:300])
    return found


async def can_i(
    sb: Sandbox, work: Path, queries: list[tuple[str, ...]]
) -> dict[tuple[str, ...], bool]:
    limit = asyncio.Semaphore(6)
    user = f"--as=system:serviceaccount:{KEPTN_NS}:{SA}"

    async def ask(query: tuple[str, ...]) -> tuple[tuple[str, ...], bool]:
        async with limit:
            _, out = await kubectl(sb, work, "auth", "can-i", *query, user)
        answer = out.strip().splitlines()[-1] if out.strip() else ""
        assert answer in ("yes", "no"), (query, out)
        return query, answer == "yes"

    return dict(await asyncio.gather(*(ask(q) for q in queries)))


async def run_lane(work: Path, queries: list[tuple[str, ...]]) -> LaneResult:
    node = NodeSettings(pod_start_delay=0.05, default_outcome=Outcome.RUN, work_dir=work / "node")
    sb = await Sandbox.start(node_settings=node, bookmark_interval=1.0)
    client = KubeClient.for_url(sb.url, token=sb.token)
    replicas: list[OperatorProcess] = []
    try:
        result = LaneResult(applied=await apply_deploy(sb, work))
        result.can_i = await can_i(sb, work, queries)
        pods = await operator_pods(client)
        kubeconfig = await service_account_kubeconfig(sb, work)
        for pod in pods:
            name = pod["metadata"]["name"]
            replicas.append(
                OperatorProcess(
                    kubeconfig=kubeconfig,
                    work_dir=work / name,
                    keptn_namespace=KEPTN_NS,
                    identity=name,
                    lease=LEASE,
                    flags=replica_flags(kubeconfig, work / f"{name}.spans.jsonl"),
                    env=replica_env(pod),
                )
            )
        for pod, replica in zip(pods, replicas, strict=True):
            patch = {
                "metadata": {
                    "annotations": {"sandbox.klt.dev/address": f"127.0.0.1:{replica.webhook_port}"}
                }
            }
            await client.patch(model.POD, pod["metadata"]["name"], patch, KEPTN_NS)
        await asyncio.gather(*(r.start() for r in replicas))
        await asyncio.gather(*(r.wait_ready(within=30) for r in replicas))
        await run_flows(sb, client, work, replicas, result)
        secret = await client.get(model.SECRET, "keptn-certs", KEPTN_NS)
        result.secret_ca = str(secret["data"]["ca.crt"])
        for kind in ("mutatingwebhookconfigurations", "validatingwebhookconfigurations"):
            rc, out = await kubectl(sb, work, "get", kind, "-o", "yaml")
            assert rc == 0, out
            for item in yaml.safe_load(out)["items"]:
                for hook in item["webhooks"]:
                    result.ca_bundles.add(str(hook["clientConfig"].get("caBundle", "")))
        result.served_certs = {(r.work_dir / "certs" / "tls.crt").read_bytes() for r in replicas}
    except BaseException:
        for r in replicas:
            print(f"--- {r.identity}\n{r.log_tail(60)}")
        await print_state(client)
        raise
    finally:
        for r in replicas:
            await r.stop()
        await client.close()
        await sb.stop()
    for r in replicas:
        result.logs[r.identity] = r.log.read_text(errors="replace") if r.log.exists() else ""
        result.answered[r.identity] = answered(work / f"{r.identity}.spans.jsonl")
    return result


async def print_state(client: KubeClient) -> None:
    """Where every flow stood when the lane failed (for the failure's captured output)."""
    with contextlib.suppress(Exception):
        for ns in (APP_NS, FAIL_NS, BIG_NS):
            for kind in (model.KEPTN_APP_VERSION, model.KEPTN_WORKLOAD_VERSION, model.KEPTN_TASK):
                items, _ = await client.list(kind, ns)
                for item in items:
                    status = item.get("status") or {}
                    print(kind.kind, ns, item["metadata"]["name"], status.get("currentPhase"),
                          status.get("status"))  # fmt: skip
            pods, _ = await client.list(model.POD, ns, label_selector="app")
            for pod in pods:
                print("Pod", ns, pod["metadata"]["name"], "gated" if gated(pod) else "ungated",
                      (pod.get("status") or {}).get("phase"))  # fmt: skip


async def run_flows(
    sb: Sandbox, client: KubeClient, work: Path, replicas: list[OperatorProcess], result: LaneResult
) -> None:
    await opt_in_by_annotation(client, APP_NS)
    scenario = EvaluatedScenario(client=client, namespace=APP_NS, out_file=work / "runs.txt")
    scenario.task_sleep = 1.0
    result.scenario = scenario
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample_gates(client, stop, result.violations))
    try:
        await scenario.apply_app()
        await start_failing(client)
        await start_big(client)
        await scenario.deploy()
        await scenario.wait_admitted()
        await scenario.wait_phase("WorkloadPreDeployTasks")  # mid-flow: pre-deployment tasks run
        leader_name = await holder(client)
        leader = next(r for r in replicas if r.identity == leader_name)
        other = next(r for r in replicas if r is not leader)
        await leader.kill()
        async with asyncio.timeout(15):  # the Lease runs out (3 s): the other replica takes it
            while True:
                if await holder(client) == other.identity:
                    break
                await asyncio.sleep(0.1)
        result.takeover = True
        # The container restarts after the takeover (a restart within the Lease would take its
        # own Lease back at once: the identity is the pod name) and must not run anything again.
        await leader.start()
        await leader.wait_ready(within=30)
        await scenario.wait_done(within=60)
        await scenario.wait_lines()
        result.failing_version, result.failing_pod_gated = await failing_outcome(client)
        result.big_pod, result.big_workload = await big_outcome(client)
    finally:
        stop.set()
        await sampler
    result.seen = await scenario.observe()


async def failing_outcome(client: KubeClient, within: float = 30.0) -> tuple[str, bool]:
    """The WorkloadVersion's pre-deployment status once it failed (its name is derived from the
    version ``2.0.0+build.7``), and whether the pod is still gated a moment later."""
    status = ""
    async with asyncio.timeout(within):
        while True:
            versions, _ = await client.list(model.KEPTN_WORKLOAD_VERSION, FAIL_NS)
            statuses = [
                str((v.get("status") or {}).get("preDeploymentStatus", "")) for v in versions
            ]
            if "Failed" in statuses:
                status = f"{versions[statuses.index('Failed')]['metadata']['name']}: Failed"
                break
            await asyncio.sleep(0.1)
    # an observation window: a wrongly released pod loses its gate in the same reconcile
    await asyncio.sleep(1.0)
    pods, _ = await client.list(model.POD, FAIL_NS, label_selector="app=risky")
    return status, bool(pods) and all(gated(p) for p in pods)


async def big_outcome(client: KubeClient, within: float = 20.0) -> tuple[Body | None, Body | None]:
    """The big pod and its KeptnWorkload once the flow released it (or the last seen)."""
    pod: Body | None = None
    workload: Body | None = None
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        pods, _ = await client.list(model.POD, BIG_NS, label_selector="app=bulky")
        pod = pods[0] if pods else None
        try:
            workload = await client.get(model.KEPTN_WORKLOAD, "bulky-bulky", BIG_NS)
        except NotFound:
            workload = None
        released = pod and (pod["metadata"].get("annotations") or {}).get(
            "keptn.sh/scheduling-gate-removed"
        )
        if released and workload:
            break
        await asyncio.sleep(0.1)
    return pod, workload
