"""The custom metrics API (`custom.metrics.k8s.io` v1beta2 and v1beta1) over KeptnMetrics.

As KLT's metrics operator does, the operator serves the API an `APIService` registers
(deploy/operator/apiservice.yaml), so a HorizontalPodAutoscaler with a `type: Object` metric
whose `describedObject` is a KeptnMetric scales on its value:

    GET /apis/custom.metrics.k8s.io/v1beta2                       APIResourceList
    GET /apis/custom.metrics.k8s.io/v1beta2/namespaces/NS/keptnmetrics.metrics.sh/NAME/NAME
    GET /apis/custom.metrics.k8s.io/v1beta2/namespaces/NS/keptnmetrics.metrics.sh/*/NAME
        ?labelSelector=k=v,k2!=v2                                 MetricValueList

The metric name is the KeptnMetric's name (as in KLT); `*` answers every KeptnMetric of that
name in the namespace whose labels match the selector. The resource is also served as
`keptnmetrics.metrics.keptn.sh` (KLT's adapter registers that GroupResource; its docs use
`keptnmetrics.metrics.sh`). Values come from the operator's informer
cache (`status.value`, as a Kubernetes quantity: `10`, `1500m`), with `status.lastUpdated` as
the timestamp. A metric without a value yet answers 404 naming it, so the HPA reports it rather
than scaling on 0 (KLT answers 0 then). It is served on the webhook TLS listener (the API server reaches it through
the `metrics-operator-service` Service, port 443).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from aiohttp import web

from lifecycle.core import model
from lifecycle.core.bodies import KeptnMetricBody
from lifecycle.core.meta import labels_of, metadata_of, name_of, namespace_of
from lifecycle.flow.context import OperatorContext

__all__ = ["GROUP", "RESOURCE", "custom_metrics_routes", "metric_value_list", "quantity"]

GROUP = "custom.metrics.k8s.io"
RESOURCE = "keptnmetrics.metrics.sh"
RESOURCES = (RESOURCE, "keptnmetrics.metrics.keptn.sh")
VERSIONS = ("v1beta2", "v1beta1")


def quantity(value: float) -> str:
    """A Kubernetes quantity for `value`: whole numbers as is, others in milli-units."""
    if not math.isfinite(value):
        raise ValueError(f"{value} is not a finite number")
    if value == int(value) and abs(value) < 2**63:
        return str(int(value))
    return f"{round(value * 1000)}m"


def _selector(text: str) -> list[tuple[str, str, str]]:
    """`k=v,k==v,k!=v` as (key, op, value); ValueError names a term it cannot read."""
    out = []
    for term in filter(None, (t.strip() for t in text.split(","))):
        for op in ("!=", "==", "="):
            key, sep, value = term.partition(op)
            if sep:
                out.append((key.strip(), "!=" if op == "!=" else "=", value.strip()))
                break
        else:
            raise ValueError(f"labelSelector: unsupported term {term!r} (use k=v or k!=v)")
    return out


def _matches(labels: Mapping[str, str], terms: list[tuple[str, str, str]]) -> bool:
    return all((labels.get(k) == v) == (op == "=") for k, op, v in terms)


def _item(version: str, metric: KeptnMetricBody) -> dict[str, object]:
    namespace, name = namespace_of(metric), name_of(metric)
    status = metric.get("status", {})
    raw = str(status.get("value") or "")
    try:
        value = quantity(float(raw))
    except ValueError:
        raise web.HTTPNotFound(
            text=f"KeptnMetric {namespace}/{name} has no value yet ({raw!r})"
        ) from None
    labels = dict(labels_of(metric))
    item: dict[str, object] = {
        "describedObject": {
            "kind": model.KEPTN_METRIC.kind,
            "namespace": namespace,
            "name": name,
            "apiVersion": model.KEPTN_METRIC.api_version,
        },
        "timestamp": status.get("lastUpdated") or metadata_of(metric).get("creationTimestamp"),
        "value": value,
    }
    if version == "v1beta1":
        item.update(metricName=name, selector={"matchLabels": labels} if labels else None)
    else:
        item["metric"] = {"name": name, "selector": {"matchLabels": labels}}
    return item


def metric_value_list(version: str, metrics: Sequence[KeptnMetricBody]) -> dict[str, object]:
    """The MetricValueList of `metrics` at `version` of the API."""
    return {
        "kind": "MetricValueList",
        "apiVersion": f"{GROUP}/{version}",
        "metadata": {},
        "items": [_item(version, m) for m in metrics],
    }


def _resources(version: str) -> dict[str, object]:
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{GROUP}/{version}",
        "resources": [
            {
                "name": name,
                "singularName": "",
                "namespaced": True,
                "kind": "MetricValueList",
                "verbs": ["get"],
            }
            for name in RESOURCES
        ],
    }


def custom_metrics_routes(ctx: OperatorContext) -> list[web.RouteDef]:
    """The routes of the custom metrics API, read from the KeptnMetric informer cache."""
    store = ctx.cache(model.KEPTN_METRIC)

    async def resources(request: web.Request) -> web.Response:
        return web.json_response(_resources(request.match_info["version"]))

    async def values(request: web.Request) -> web.Response:
        m = request.match_info
        version, ns, name, metric = m["version"], m["namespace"], m["name"], m["metric"]
        if version not in VERSIONS:
            raise web.HTTPNotFound(text=f"{GROUP}/{version} is not served")
        try:
            terms = _selector(request.query.get("labelSelector", ""))
        except ValueError as exc:
            raise web.HTTPBadRequest(text=str(exc)) from exc
        if name != "*":
            found = store.get(ns, name)
            if found is None or metric != name:
                raise web.HTTPNotFound(text=f"KeptnMetric {ns}/{name} has no metric {metric!r}")
            return web.json_response(metric_value_list(version, [found]))
        matching = [
            item
            for item in store.list(ns)
            if name_of(item) == metric and _matches(labels_of(item), terms)
        ]
        return web.json_response(metric_value_list(version, matching))

    base = f"/apis/{GROUP}/{{version}}"
    return [
        web.get(base, resources),
        *(
            web.get(f"{base}/namespaces/{{namespace}}/{resource}/{{name}}/{{metric}}", values)
            for resource in RESOURCES
        ),
    ]
