"""The generated ConfigMaps (Grafana sidecar dashboards, Argo CD health) match their sources."""

from __future__ import annotations

import json
import subprocess
import sys

import yaml

from tests.support.paths import REPO_ROOT

ROOT = REPO_ROOT


def test_generated_configmaps_are_in_sync() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "configmaps.py"), "--check"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_dashboard_is_a_sidecar_configmap() -> None:
    maps = list(yaml.safe_load_all((ROOT / "deploy" / "grafana" / "dashboards.yaml").read_text()))
    shipped = {}
    for cm in maps:
        assert cm["kind"] == "ConfigMap"
        assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
        shipped.update({name: json.loads(text) for name, text in cm["data"].items()})
    sources = {p.name: json.loads(p.read_text()) for p in (ROOT / "dashboards").glob("*.json")}
    assert shipped == sources


def test_argocd_cm_carries_the_health_check_for_kav() -> None:
    cm = yaml.safe_load((ROOT / "deploy" / "argocd" / "argocd-cm.yaml").read_text())
    script = (ROOT / "deploy" / "argocd" / "health.lua").read_text()
    assert cm["data"]["resource.customizations.health.lifecycle.keptn.sh_KeptnAppVersion"] == script
