"""Load the Keptn CRDs from deploy/crds and index their schemas by (apiVersion, kind).

Role: the one place that reads the CRD YAML files. ``load_crds()`` returns them as dicts;
``SchemaSet`` indexes each served version's ``openAPIV3Schema`` (the conversion webhook reads
the v1 schema to move fields). Validating and defaulting bodies against the schemas is a test
tool (``tests/support/crdschema.py``): the API server does it for the operator.

Must not: talk to an API server or import kubernetes_asyncio.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict, cast

import yaml

from lifecycle.core.bodies import JSON, Body

__all__ = ["CRD_DIR", "CRDBody", "ClientConfig", "Schema", "SchemaSet", "load_crds"]

CRD_DIR = Path(__file__).resolve().parents[2] / "deploy" / "crds"

Schema = JSON  # an openAPIV3Schema (or a part of it): walked as free-form JSON


class _Validation(TypedDict, total=False):
    openAPIV3Schema: Schema


class CRDVersion(TypedDict, total=False):
    name: str
    served: bool
    schema: _Validation


class ServiceReference(TypedDict, total=False):  # of a webhook's clientConfig
    namespace: str
    name: str
    path: str
    port: int


class ClientConfig(TypedDict, total=False):
    url: str
    service: ServiceReference
    caBundle: str


class WebhookConversion(TypedDict, total=False):
    conversionReviewVersions: list[str]
    clientConfig: ClientConfig


class CRDConversion(TypedDict, total=False):
    strategy: str
    webhook: WebhookConversion


class CRDSpec(TypedDict, total=False):  # apiextensions.k8s.io/v1, as far as it is read
    group: str
    names: dict[str, str]  # {"kind", "plural", ...}
    versions: list[CRDVersion]
    conversion: CRDConversion


CRDBody = Body[CRDSpec, JSON]
# libyaml's safe loader when PyYAML has it: deploy/crds is large (every served version)
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_crds(path: Path | str | None = None) -> list[CRDBody]:
    """Every CustomResourceDefinition in the YAML files of ``path`` (default: deploy/crds), by file name."""
    directory = Path(path) if path is not None else CRD_DIR
    crds: list[CRDBody] = []
    for file in sorted(directory.glob("*.yaml")):
        with file.open(encoding="utf-8") as stream:
            for doc in yaml.load_all(stream, Loader=_LOADER):
                # Skips the kustomization.yaml that lists the files.
                if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                    crds.append(cast(CRDBody, doc))  # as kubectl would apply it
    return crds


@dataclass(frozen=True, slots=True)
class SchemaSet:
    """The openAPIV3Schema of every served (apiVersion, kind) of a set of CRDs."""

    schemas: Mapping[tuple[str, str], Schema]

    @classmethod
    def from_crds(cls, crds: Iterable[CRDBody]) -> SchemaSet:
        """Index the schemas of the given CRD bodies."""
        schemas: dict[tuple[str, str], Schema] = {}
        for crd in crds:
            spec = crd["spec"]
            for version in spec["versions"]:
                if not version.get("served", True):
                    continue
                key = (f"{spec['group']}/{version['name']}", spec["names"]["kind"])
                schemas[key] = version["schema"]["openAPIV3Schema"]
        return cls(schemas=schemas)

    def schema(self, api_version: str, kind: str) -> Schema | None:
        """The schema for a body's ``apiVersion`` and ``kind``, or None if no CRD serves it."""
        return self.schemas.get((api_version, kind))
