"""PURE tenancy rules: which namespaces an object may reach (README "Tenancy and trust").

One place for the rules every controller applies:

* KeptnConfig is read only from the operator's own namespace (``--keptn-namespace``);
* an object may reference providers, templates, definitions and metrics in its own namespace or
  the Keptn namespace, nowhere else. KLT's ``namespace`` fields stay accepted within the rule; a
  reference outside it fails the referencing object with ``RefusedReference``, whose message
  names the rule;
* each provider's credentials go only to its own ``targetServer`` (the provider config couples
  them; the transport never follows redirects).

Must not: do I/O or import asyncio/aiohttp/kubernetes_asyncio/opentelemetry.
"""

from __future__ import annotations

__all__ = [
    "REFERENCE_RULE",
    "RefusedReference",
    "config_allowed",
    "lookup_namespaces",
    "reference_namespace",
]

REFERENCE_RULE = (
    "references may name only the object's own namespace or the Keptn namespace ({keptn})"
)


class RefusedReference(ValueError):
    """A reference into a namespace the tenancy rule does not allow."""


def config_allowed(namespace: str, keptn_namespace: str) -> bool:
    """Whether a KeptnConfig in ``namespace`` may change the operator's settings."""
    return namespace == keptn_namespace


def lookup_namespaces(own: str, keptn_namespace: str) -> tuple[str, ...]:
    """Where a definition, provider or metric named without a namespace is looked up, in order:
    the object's own namespace, else the Keptn namespace (KLT's rule for task and evaluation
    definitions, providers and metrics)."""
    return (own,) if own == keptn_namespace else (own, keptn_namespace)


def reference_namespace(
    what: str, name: str, ref_namespace: str | None, own: str, keptn_namespace: str
) -> str:
    """The namespace a reference resolves in (``own`` when unset); RefusedReference otherwise.

    ``what`` and ``name`` name the referenced object in the message, e.g.
    ``KeptnMetricsProvider a/prom: references may name only ...``.
    """
    namespace = ref_namespace or own
    if namespace not in (own, keptn_namespace):
        raise RefusedReference(
            f"{what} {namespace}/{name} refused: "
            + REFERENCE_RULE.format(keptn=keptn_namespace)
            + f", not {namespace}"
        )
    return namespace
