"""Where the alerts' runbook links point is a setting: a kustomize overlay with the
deploy/runbooks component changes it without touching deploy/, and scripts/prometheusrule.py
--runbook-base rewrites the rule files and their promtool tests, which still pass."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path
from types import ModuleType

import yaml

from tests.support.paths import REPO_ROOT

ROOT = REPO_ROOT
PROMETHEUS = ROOT / "deploy" / "prometheus"
OURS = "https://runbooks.example.com/keptn/runbooks.md"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "prometheusrule", ROOT / "scripts" / "prometheusrule.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _links(text: str) -> list[tuple[str, str]]:
    return re.findall(r"runbook_url: ([^\s#]+)#(\S+)", text)


def test_the_shipped_files_share_one_base() -> None:
    script = _script()
    files = [*PROMETHEUS.glob("rules/*.yml"), *PROMETHEUS.glob("tests/*.yml"),
             ROOT / "deploy" / "operator" / "prometheusrule.yaml"]  # fmt: skip
    bases = {base for path in files for base, _ in _links(path.read_text())}
    assert bases == {script.DEFAULT_RUNBOOK_BASE}


def test_a_kustomize_overlay_sets_the_base(tmp_path: Path) -> None:
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump({
        "resources": [os.path.relpath(ROOT / "deploy", overlay)],
        "components": [os.path.relpath(ROOT / "deploy" / "runbooks", overlay)],
        "configMapGenerator": [{
            "name": "runbooks", "literals": [f"base={OURS}"],
            "options": {"annotations": {"config.kubernetes.io/local-config": "true"}},
        }],
    }))  # fmt: skip
    done = subprocess.run(
        ["kubectl", "kustomize", str(overlay)],
        capture_output=True, text=True, timeout=60, env={**os.environ, "HOME": str(tmp_path)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    texts = [t for t in done.stdout.split("\n---\n") if "kind: CustomResourceDefinition" not in t]
    docs = [d for d in map(yaml.safe_load, texts) if d]
    assert not [d for d in docs if d["kind"] == "ConfigMap" and "runbooks" in d["metadata"]["name"]]
    rule = next(d for d in docs if d["kind"] == "PrometheusRule")
    links = [r["annotations"]["runbook_url"] for g in rule["spec"]["groups"] for r in g["rules"]
             if "alert" in r]  # fmt: skip
    assert len(links) == 12
    assert all(link == f"{OURS}#{r}" for link, r in zip(links, _anchors(rule), strict=True))


def _anchors(rule: dict[str, object]) -> list[str]:
    shipped = (ROOT / "deploy" / "operator" / "prometheusrule.yaml").read_text()
    return [anchor for _, anchor in _links(shipped)]


def test_the_script_rebases_every_file_and_promtool_still_passes(
    tmp_path: Path, promtool: str
) -> None:
    script = _script()
    copy = tmp_path / "prometheus"
    shutil.copytree(PROMETHEUS, copy)
    for path in [*copy.glob("rules/*.yml"), *copy.glob("tests/*.yml")]:
        text = path.read_text()
        rebased = script.with_runbook_base(text, OURS)
        assert [a for _, a in _links(rebased)] == [a for _, a in _links(text)]
        assert {b for b, _ in _links(rebased)} <= {OURS}
        path.write_text(rebased)
    tests = sorted(str(p.relative_to(copy)) for p in copy.glob("tests/*.yml"))
    done = subprocess.run([promtool, "test", "rules", *tests], cwd=copy, capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0 and "SUCCESS" in done.stdout, done.stdout + done.stderr
