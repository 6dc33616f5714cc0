"""deploy/ on a cluster: applied with the real kubectl (validation on) to the sandbox, and checked
against what the operator really serves and needs.

The Prometheus Operator's CRDs are third-party, so the test registers minimal ones for
ServiceMonitor and PrometheusRule first; everything else is deploy/ exactly as a user applies it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from lifecycle.admission.validators import VALIDATORS
from lifecycle.core.runtimes import DEFAULT_DENO_IMAGE, DEFAULT_PYTHON_IMAGE
from lifecycle.flow.context import KINDS
from lifecycle.operator import settings as operator_settings
from lifecycle.operator.certs import dns_names
from lifecycle.operator.server import MUTATE_POD_PATH
from sandbox.server import Sandbox
from tests.support.paths import REPO_ROOT

ROOT = REPO_ROOT
DEPLOY = ROOT / "deploy"


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _third_party_crd(group: str, kind: str, plural: str) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {
                "kind": kind,
                "plural": plural,
                "singular": kind.lower(),
                "listKind": f"{kind}List",
            },
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                }
            ],
        },
    }


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[Sandbox]:
    async with Sandbox(node=False) as sb:
        yield sb


async def _kubectl(
    sb: Sandbox, home: Path, *args: str, stdin: str | None = None
) -> tuple[int, str, str]:
    env = {**os.environ, "HOME": str(home), "KUBECONFIG": str(sb.kubeconfig_path)}
    proc = await asyncio.create_subprocess_exec(
        "kubectl",
        f"--cache-dir={home / 'cache'}",
        *args,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate(stdin.encode() if stdin else None)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_kubectl_applies_all_of_deploy(sandbox: Sandbox, tmp_path: Path) -> None:
    crds = yaml.safe_dump_all(
        [
            _third_party_crd("monitoring.coreos.com", "ServiceMonitor", "servicemonitors"),
            _third_party_crd("monitoring.coreos.com", "PrometheusRule", "prometheusrules"),
        ]
    )
    rc, out, err = await _kubectl(sandbox, tmp_path, "apply", "-f", "-", stdin=crds)
    assert rc == 0, err
    rc, out, err = await _kubectl(
        sandbox, tmp_path, "apply", "--validate=strict", "-k", str(DEPLOY)
    )
    assert rc == 0, f"{out}\n{err}"
    assert "deployment.apps/lifecycle-operator created" in out
    assert (
        "mutatingwebhookconfiguration.admissionregistration.k8s.io/lifecycle-mutating-webhook-configuration created"
        in out
    )
    rc, out, err = await _kubectl(sandbox, tmp_path, "get", "kav,kwv,ktd,kmp", "-A")
    assert rc == 0, err
    rc, out, err = await _kubectl(
        sandbox,
        tmp_path,
        "get",
        "deployment",
        "lifecycle-operator",
        "-n",
        "keptn-system",
        "-o",
        "yaml",
    )
    assert rc == 0, err
    assert yaml.safe_load(out)["spec"]["replicas"] == 2


def test_webhook_configuration_matches_what_the_operator_serves() -> None:
    webhooks = {d["kind"]: d for d in _docs(DEPLOY / "operator" / "webhooks.yaml")}
    mutating = webhooks["MutatingWebhookConfiguration"]["webhooks"]
    validating = webhooks["ValidatingWebhookConfiguration"]["webhooks"]
    assert [w["clientConfig"]["service"]["path"] for w in mutating] == [MUTATE_POD_PATH]
    assert {w["clientConfig"]["service"]["path"] for w in validating} == set(VALIDATORS)
    for hook in mutating + validating:
        assert (
            hook["failurePolicy"] == "Ignore"
        )  # KLT #1828: an absent operator must not freeze a cluster
        assert hook["sideEffects"] == "NoneOnDryRun"  # dry-run requests write nothing
        assert hook["clientConfig"]["service"]["name"] == "lifecycle-webhook-service"
    # KLT's selector: by namespace name only (the opt-in annotation is invisible to selectors)
    selector = mutating[0]["namespaceSelector"]["matchExpressions"]
    assert {e["key"] for e in selector} == {"control-plane", "kubernetes.io/metadata.name"}
    excluded = {v for e in selector if e["operator"] == "NotIn" for v in e["values"]}
    assert {"kube-system", "kube-public", "kube-node-lease", "keptn-system"} <= excluded
    for config in webhooks.values():
        annotations = config["metadata"]["annotations"]
        assert annotations["cert-manager.io/inject-ca-from"] == "keptn-system/keptn-certs"


def test_runner_images_are_klts_and_the_operators_defaults() -> None:
    deployment = _docs(DEPLOY / "operator" / "deployment.yaml")[0]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["FUNCTION_RUNNER_IMAGE"] == DEFAULT_DENO_IMAGE
    assert env["PYTHON_RUNNER_IMAGE"] == DEFAULT_PYTHON_IMAGE
    assert DEFAULT_DENO_IMAGE.startswith("ghcr.io/keptn/deno-runtime:")
    assert DEFAULT_PYTHON_IMAGE.startswith("ghcr.io/keptn/python-runtime:")


def test_service_monitor_keeps_the_operators_namespace_label() -> None:
    monitor = _docs(DEPLOY / "prometheus" / "servicemonitor.yaml")[0]
    assert all(e["honorLabels"] is True for e in monitor["spec"]["endpoints"])
    metrics = next(
        d
        for d in _docs(DEPLOY / "operator" / "service.yaml")
        if d["metadata"]["name"] == "lifecycle-operator-metrics-service"
    )
    assert metrics["spec"]["clusterIP"] == "None"  # DNS names every replica (prometheus.yml)


def test_deployment_flags_and_ports_are_the_operators() -> None:
    deployment = _docs(DEPLOY / "operator" / "deployment.yaml")[0]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    parser = argparse.ArgumentParser()
    operator_settings.add_arguments(parser)
    args = parser.parse_args(container["args"][1:])  # the first is the subcommand
    assert container["args"][0] == "operator"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {
        "webhook": args.webhook_port,
        "metrics": args.metrics_port,
        "probes": args.probe_port,
    }
    services = {d["metadata"]["name"]: d for d in _docs(DEPLOY / "operator" / "service.yaml")}
    assert services[args.webhook_service]["spec"]["ports"][0]["targetPort"] == "webhook"
    security = container["securityContext"]
    assert (
        security["allowPrivilegeEscalation"] is False and security["readOnlyRootFilesystem"] is True
    )
    assert container["resources"]["requests"]


def test_rbac_grants_a_watch_on_every_cached_kind() -> None:
    role = next(
        d
        for d in _docs(DEPLOY / "operator" / "rbac.yaml")
        if d["metadata"]["name"] == "lifecycle-operator"
    )
    granted: dict[tuple[str, str], set[str]] = {}
    for rule in role["rules"]:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                granted.setdefault((group, resource), set()).update(rule["verbs"])
    for kind in KINDS:
        verbs = granted.get((kind.group, kind.plural), set())
        assert {"get", "list", "watch"} <= verbs, f"{kind.plural}: {sorted(verbs)}"
    assert "*" not in {v for verbs in granted.values() for v in verbs}
    assert granted[("", "secrets")] == {"get"}


def test_prometheusrule_is_the_rule_files() -> None:
    rule = _docs(DEPLOY / "operator" / "prometheusrule.yaml")[0]
    groups = [
        g
        for p in sorted((DEPLOY / "prometheus" / "rules").glob("*.yml"))
        for g in _docs(p)[0]["groups"]
    ]
    assert rule["spec"]["groups"] == groups, "run: python scripts/prometheusrule.py"


def test_dockerfile_entrypoint_is_the_cli() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["klt"]' in text
    assert shlex.split(text.splitlines()[-1].removeprefix("CMD "))  # a parsable CMD line


async def test_cert_manager_variant_renders_and_switches_the_operator_off(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        "kubectl", "kustomize", str(ROOT / "examples" / "cert-manager"),
        env={**os.environ, "HOME": str(tmp_path)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    texts = [t for t in out.decode().split("\n---\n") if "kind: CustomResourceDefinition" not in t]
    docs = {(d["kind"], d["metadata"]["name"]): d for d in map(yaml.safe_load, texts) if d}
    pod = docs[("Deployment", "lifecycle-operator")]["spec"]["template"]["spec"]
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert env["CERT_MANAGER_ENABLED"] == "false"
    assert pod["volumes"][0]["secret"]["secretName"] == "keptn-certs"
    certificate = docs[("Certificate", "keptn-certs")]["spec"]
    assert certificate["secretName"] == "keptn-certs"
    assert set(certificate["dnsNames"]) <= set(
        dns_names("lifecycle-webhook-service", "keptn-system")
    )
