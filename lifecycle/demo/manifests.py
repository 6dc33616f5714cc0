"""The podtato-head versions the demo applies, rendered from examples/podtato-head/.

Role: `load_example()` reads the numbered YAML files in apply order; `render_version(docs, version,
prometheus_url)` returns a copy where the KeptnApp, its workload list, the pod templates'
`keptn.sh/version` annotation (or `app.kubernetes.io/version` label) and the image tags carry
`version`, and the KeptnMetricsProvider points at the demo's Prometheus. Nothing else changes: what
makes 0.2.0 and 0.3.0 fail is the data (error ratio) and the check-db-schema task, not the YAML.

Invariants: pure apart from reading the example files; the input documents are never mutated.
Must not: talk to a cluster.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path

import yaml

from lifecycle.core.bodies import JSON

__all__ = ["EXAMPLE_DIR", "NAMESPACE", "dump", "load_example", "render_version"]

EXAMPLE_DIR = Path(__file__).resolve().parents[2] / "examples" / "podtato-head"
NAMESPACE = "podtato-kubectl"
_WORKLOAD_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet"})


def load_example(directory: Path = EXAMPLE_DIR) -> list[JSON]:
    """Every document of the example's *.yaml files, files in name order (the apply order)."""
    docs: list[JSON] = []
    for path in sorted(directory.glob("*.yaml")):
        docs.extend(d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict))
    return docs


def _retag(image: str, version: str) -> str:
    name, sep, _tag = image.rpartition(":")
    return f"{name}:{version}" if sep and "/" not in _tag else f"{image}:{version}"


def render_version(docs: Sequence[JSON], version: str, prometheus_url: str | None) -> list[JSON]:
    """A copy of `docs` for app `version` (see the module docstring)."""
    out: list[JSON] = []
    for original in docs:
        doc = copy.deepcopy(original)
        kind = doc.get("kind")
        if kind == "KeptnApp":
            doc["spec"]["version"] = version
            for workload in doc["spec"].get("workloads", []):
                workload["version"] = version
        elif kind == "KeptnMetricsProvider" and prometheus_url:
            doc["spec"]["targetServer"] = prometheus_url
        elif kind in _WORKLOAD_KINDS:
            template = doc["spec"]["template"]
            meta = template.setdefault("metadata", {})
            annotations = meta.setdefault("annotations", {})
            labels = meta.setdefault("labels", {})
            if "keptn.sh/version" in annotations or "app.kubernetes.io/version" not in labels:
                annotations["keptn.sh/version"] = version
            if "app.kubernetes.io/version" in labels:
                labels["app.kubernetes.io/version"] = version
            for container in template["spec"].get("containers", []):
                container["image"] = _retag(str(container.get("image", "")), version)
        out.append(doc)
    return out


def dump(docs: Sequence[JSON], path: Path) -> Path:
    """Write `docs` as one multi-document YAML file (what kubectl applies)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump_all(list(docs), sort_keys=False))
    return path
