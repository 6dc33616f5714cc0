"""Admission webhooks: Mutating/ValidatingWebhookConfigurations called over HTTPS.

For each write the matching webhooks get an AdmissionReview v1; matching honours rules
(operations, apiGroups, apiVersions, resources incl. `pods/status`, `*/*`, scope),
namespaceSelector (on the namespace's labels), objectSelector (new or old object labels),
failurePolicy (Fail by default) and timeoutSeconds (10 by default). Mutating webhooks run one
after another (configurations by name) and their base64 JSONPatch is applied; validating ones
run concurrently. A denial answers like the real server: code from the webhook's status (400
when it gives none or one outside 400..499) and `admission webhook "<name>" denied the
request: <message>`.

Where a webhook is reached:
- `clientConfig.url` is used as is;
- `clientConfig.service` {namespace, name, port (443), path} resolves through
  `sandbox.endpoints` (the setting `webhook_services`, the Service's `sandbox.klt.dev/address`
  annotation, else its ready endpoint pods, round-robin). The TLS server name checked is
  `<name>.<namespace>.svc`, as kube-apiserver checks it, against `clientConfig.caBundle`.
A call that fails (unreachable, TLS, timeout, non-200, bad response) is ignored under
failurePolicy Ignore and answers 500 `failed calling webhook "<name>": failed to call webhook:
Post "https://<svc>.<ns>.svc:<port><path>?timeout=<n>s": ...` under Fail. The AdmissionReview
carries the whole object however big it is, and the requesting user (`sandbox.authn`).
Webhook configurations themselves are never sent to webhooks (as in Kubernetes).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import ssl
import uuid
from typing import Any

import aiohttp

from sandbox import errors
from sandbox.authn import CURRENT_USER
from sandbox.endpoints import ADDRESS_ANNOTATION, ServiceResolver
from sandbox.patching import apply_json_patch
from sandbox.resources import ResourceType
from sandbox.selectors import match_label_selector_object
from sandbox.store import Store
from sandbox.writes import Operation

__all__ = ["ADDRESS_ANNOTATION", "WebhookAdmission"]

MUTATING = "mutatingwebhookconfigurations.admissionregistration.k8s.io"
VALIDATING = "validatingwebhookconfigurations.admissionregistration.k8s.io"
_SKIP_GROUPS = {"admissionregistration.k8s.io"}

_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    409: "Conflict",
    422: "Invalid",
    429: "TooManyRequests",
}


def _rule_matches(rule: dict[str, Any], rt: ResourceType, operation: str, subresource: str) -> bool:
    ops = rule.get("operations") or []
    if "*" not in ops and operation not in ops:
        return False
    groups = rule.get("apiGroups") or []
    if "*" not in groups and rt.group not in groups:
        return False
    versions = rule.get("apiVersions") or []
    if "*" not in versions and rt.version not in versions:
        return False
    scope = rule.get("scope", "*")
    if (scope == "Namespaced" and not rt.namespaced) or (scope == "Cluster" and rt.namespaced):
        return False
    wanted = f"{rt.plural}/{subresource}" if subresource else rt.plural
    for res in rule.get("resources") or []:
        if res == wanted or res == "*/*":
            return True
        if res == "*" and not subresource:
            return True
        base, _, sub = res.partition("/")
        if sub and subresource and (base in ("*", rt.plural)) and sub in ("*", subresource):
            return True
    return False


def _shown(client_config: dict[str, Any]) -> str:
    """The URL kube-apiserver names for a webhook: its url, or its Service's DNS name."""
    if client_config.get("url"):
        return str(client_config["url"])
    svc = client_config.get("service") or {}
    host = f"{svc.get('name', '')}.{svc.get('namespace', '')}.svc"
    return f"https://{host}:{int(svc.get('port', 443))}{svc.get('path') or '/'}"


def _failed(name: str, shown: str, timeout: float, exc: BaseException) -> errors.ApiError:
    """kube-apiserver's 500 for a webhook call that failed under failurePolicy Fail."""
    if isinstance(exc, TimeoutError):
        detail = "context deadline exceeded"
    elif isinstance(exc, aiohttp.ClientConnectorCertificateError | ssl.SSLError):
        detail = f"tls: failed to verify certificate: {exc}"
    else:
        detail = str(exc)
    call = f'Post "{shown}?timeout={int(timeout)}s": ' if shown else ""
    return errors.internal(
        f'failed calling webhook "{name}": failed to call webhook: {call}{detail}'
    )


class WebhookAdmission:
    """Calls the webhooks configured in the store (see module docstring)."""

    def __init__(self, store: Store, resolver: ServiceResolver | None = None) -> None:
        self.store = store
        self.resolver = resolver or ServiceResolver(store)
        self._sessions: dict[str, aiohttp.ClientSession] = {}
        self._by_rule: dict[tuple[str, str, str, str], tuple[int, list[dict[str, Any]]]] = {}
        """Hooks whose rules match (kind, resource, operation, subresource), in configuration
        name order, kept while the configurations' bucket is unchanged."""

    async def close(self) -> None:
        for session in self._sessions.values():
            await session.close()
        self._sessions.clear()

    def _by_rules(self, key: str, op: Operation) -> list[dict[str, Any]]:
        bucket = self.store.buckets.get(key)
        if bucket is None or not bucket.items:
            return []
        rt = op.rt
        cache_key = (key, f"{rt.plural}.{rt.group}/{rt.version}", op.operation, op.subresource)
        cached = self._by_rule.get(cache_key)
        if cached is None or cached[0] != bucket.last_rv:
            hooks = [
                hook
                for entry in sorted(bucket.entries(None), key=lambda e: e.name)
                for hook in entry.obj.get("webhooks") or []
                if any(
                    _rule_matches(r, op.rt, op.operation, op.subresource)
                    for r in hook.get("rules") or []
                )
            ]
            cached = self._by_rule[cache_key] = (bucket.last_rv, hooks)
        return cached[1]

    def _matching(
        self, key: str, op: Operation, obj: dict[str, Any] | None
    ) -> list[dict[str, Any]]:
        if op.rt.group in _SKIP_GROUPS:
            return []
        return [hook for hook in self._by_rules(key, op) if self._selectors_match(hook, op, obj)]

    def _selectors_match(
        self, hook: dict[str, Any], op: Operation, obj: dict[str, Any] | None
    ) -> bool:
        rt, namespace, old = op.rt, op.namespace, op.old
        ns_sel = hook.get("namespaceSelector")
        if ns_sel:
            if rt.kind == "Namespace" and not rt.group:
                labels = ((obj or old or {}).get("metadata") or {}).get("labels") or {}
                if not match_label_selector_object(ns_sel, labels):
                    return False
            elif rt.namespaced:
                ns = self.store.get("namespaces", "", namespace)
                labels = (ns.obj["metadata"].get("labels") or {}) if ns is not None else {}
                if not match_label_selector_object(ns_sel, labels):
                    return False
        obj_sel = hook.get("objectSelector")
        if obj_sel:
            candidates = [o for o in (obj, old) if o is not None]
            if not any(
                match_label_selector_object(obj_sel, (o.get("metadata") or {}).get("labels") or {})
                for o in candidates
            ):
                return False
        return True

    def session(self, ca_bundle: str, *, insecure: bool = False) -> aiohttp.ClientSession:
        """A client session trusting `ca_bundle` (base64 PEM; "" the system's), or nothing at
        all when `insecure` (an APIService's insecureSkipTLSVerify); one per bundle, kept."""
        key = "insecure" if insecure else hashlib.sha256(ca_bundle.encode()).hexdigest()
        session = self._sessions.get(key)
        if session is None or session.closed:
            ctx: ssl.SSLContext | bool
            if insecure:
                ctx = False
            elif ca_bundle:
                ctx = ssl.create_default_context(cadata=base64.b64decode(ca_bundle).decode())
            else:
                ctx = ssl.create_default_context()
            session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx))
            self._sessions[key] = session
        return session

    def address(self, client_config: dict[str, Any]) -> tuple[str, str | None]:
        """The URL of a clientConfig (url, or service resolved through `sandbox.endpoints`:
        ConnectionError when it leads nowhere) and the TLS server name to check (None: the
        URL's host)."""
        if client_config.get("url"):
            return str(client_config["url"]), None
        svc = client_config.get("service") or {}
        name, ns = svc.get("name", ""), svc.get("namespace", "")
        address = self.resolver.resolve(ns, name, int(svc.get("port", 443)))
        return f"https://{address}{svc.get('path') or '/'}", f"{name}.{ns}.svc"

    async def post_json(
        self, client_config: dict[str, Any], body: dict[str, Any], time_limit: float
    ) -> Any:
        """POST `body` to a webhook's clientConfig (url or service, caBundle) and decode the
        JSON answer; raises ConnectionError on a non-200 answer (used for conversion too)."""
        url, server_name = self.address(client_config)
        async with self.session(client_config.get("caBundle", "")).post(
            url,
            json=body,
            timeout=aiohttp.ClientTimeout(total=time_limit),
            server_hostname=server_name,
        ) as resp:
            if resp.status != 200:
                raise ConnectionError(f"received HTTP {resp.status} from webhook")
            return await resp.json(content_type=None)

    def _review(self, op: Operation, obj: dict[str, Any] | None) -> dict[str, Any]:
        rt, operation, subresource, old = op.rt, op.operation, op.subresource, op.old
        gvk = {"group": rt.group, "version": rt.version, "kind": rt.kind}
        gvr = {"group": rt.group, "version": rt.version, "resource": rt.plural}
        name = ((obj or old or {}).get("metadata") or {}).get("name", "")
        options_kind = operation.capitalize() + "Options"  # CreateOptions, UpdateOptions, ...
        request: dict[str, Any] = {
            "uid": str(uuid.uuid4()),
            "kind": gvk,
            "resource": gvr,
            "requestKind": gvk,
            "requestResource": gvr,
            "name": name,
            "operation": operation,
            "userInfo": CURRENT_USER.get().to_json(),
            "object": obj,
            "oldObject": old,
            "dryRun": op.dry_run,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": options_kind},
        }
        if subresource:
            request["subResource"] = subresource
            request["requestSubResource"] = subresource
        if rt.namespaced:
            request["namespace"] = op.namespace
        return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}

    async def _call(self, hook: dict[str, Any], review: dict[str, Any]) -> dict[str, Any] | None:
        """The webhook's response, or None when it failed and failurePolicy is Ignore."""
        name = hook.get("name", "")
        policy = hook.get("failurePolicy", "Fail")
        timeout = float(hook.get("timeoutSeconds", 10))
        client_config = hook.get("clientConfig") or {}
        shown = ""
        try:
            shown = _shown(client_config)
            body = await self.post_json(client_config, review, timeout)
            response = body.get("response")
            if not isinstance(response, dict):
                raise ValueError("webhook response has no 'response'")
            if response.get("uid") != review["request"]["uid"]:
                raise ValueError(
                    f"expected response.uid={review['request']['uid']!r}, got {response.get('uid')!r}"
                )
            return response
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError, ssl.SSLError) as exc:
            if policy == "Ignore":
                return None
            raise _failed(name, shown, timeout, exc) from None

    @staticmethod
    def _deny(hook: dict[str, Any], response: dict[str, Any]) -> errors.ApiError:
        status = response.get("status") or {}
        code = int(status.get("code") or 400)
        if code < 400 or code >= 500:
            code = 400
        denied = f'admission webhook "{hook.get("name", "")}" denied the request'
        message = status.get("message") or status.get("reason") or ""
        text = f"{denied}: {message}" if message else f"{denied} without explanation"
        return errors.ApiError(
            code, str(status.get("reason") or _REASONS.get(code, "BadRequest")), text
        )

    async def mutate(self, op: Operation, obj: dict[str, Any]) -> dict[str, Any]:
        """Run the matching mutating webhooks in order; returns the patched object."""
        for hook in self._matching(MUTATING, op, obj):
            response = await self._call(hook, self._review(op, obj))
            if response is None:
                continue
            if not response.get("allowed"):
                raise self._deny(hook, response)
            patch = response.get("patch")
            if patch:
                returned = f'webhook "{hook.get("name")}" returned'
                if response.get("patchType", "JSONPatch") != "JSONPatch":
                    raise errors.internal(f"{returned} an unsupported patchType")
                ops = json.loads(base64.b64decode(patch))
                try:
                    obj = apply_json_patch(obj, ops)
                except errors.ApiError as exc:
                    raise errors.internal(f"{returned} an invalid patch: {exc.message}") from None
        return obj

    async def validate(self, op: Operation, obj: dict[str, Any] | None) -> None:
        """Run the matching validating webhooks concurrently; raise on the first denial."""
        hooks = self._matching(VALIDATING, op, obj)
        if not hooks:
            return
        review = self._review(op, obj)
        reviews = [json.loads(json.dumps(review)) for _ in hooks]
        for r in reviews:
            r["request"]["uid"] = str(uuid.uuid4())
        responses = await asyncio.gather(
            *(self._call(h, r) for h, r in zip(hooks, reviews, strict=True))
        )
        for hook, response in zip(hooks, responses, strict=True):
            if response is not None and not response.get("allowed"):
                raise self._deny(hook, response)
