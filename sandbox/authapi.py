"""The authentication/authorization APIs and the per-request guard of the sandbox.

`AuthApi.guard(request)` runs for every request (see `sandbox.routes`): bearer token ->
user (`sandbox.authn`), Impersonate-* headers, then RBAC (`sandbox.rbac`), answering 401 or
kube-apiserver's 403. The routes it serves:
- `POST /api/v1/namespaces/NS/serviceaccounts/NAME/token` (TokenRequest; `kubectl create token`),
- `POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews`, `subjectaccessreviews`,
  `namespaces/NS/localsubjectaccessreviews`, `selfsubjectrulesreviews`
  (`kubectl auth can-i [--as ...] [--list]`),
- `POST /apis/authentication.k8s.io/v1/tokenreviews` and `selfsubjectreviews` (`kubectl auth whoami`).
Each is itself authorized like any request (`create` on the review resource).
"""

from __future__ import annotations

import datetime
import json
from typing import Any

from aiohttp import web

from sandbox import errors
from sandbox.authn import ANONYMOUS, API_AUDIENCES, CURRENT_USER, Authenticator, UserInfo
from sandbox.rbac import Attributes, Authorizer, request_attributes
from sandbox.requestinfo import json_answer
from sandbox.store import Store

__all__ = ["PUBLIC_PATHS", "AuthApi"]

PUBLIC_PATHS = frozenset({"/version", "/version/", "/healthz", "/livez", "/readyz"})
"""Paths an anonymous request may read (others answer 401 without a token)."""
AUTHZ = "authorization.k8s.io"
AUTHN = "authentication.k8s.io"
_MIN_EXPIRATION = 600


def _review(
    kind: str,
    group: str,
    spec: dict[str, Any] | None,
    status: dict[str, Any],
    meta: dict[str, Any] | None = None,
) -> web.Response:
    """A review answered: its kind, the spec as sent (if any) and the status."""
    body: dict[str, Any] = {
        "kind": kind,
        "apiVersion": f"{group}/v1",
        "metadata": meta or {"creationTimestamp": None},
    }
    if spec is not None:
        body["spec"] = spec
    body["status"] = status
    return json_answer(body, 201)


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.read() or b"{}")
    except ValueError:
        raise errors.bad_request("the body of the request could not be decoded as JSON") from None
    if not isinstance(body, dict):
        raise errors.bad_request("the body of the request must be a JSON object")
    return body


def _invalid(kind: str, group: str, field: str, message: str) -> errors.ApiError:
    return errors.invalid(kind, group, "", [(field, "FieldValueInvalid", message)])


class AuthApi:
    """Guard and review endpoints over one store."""

    def __init__(self, store: Store, authn: Authenticator) -> None:
        self.store = store
        self.authn = authn
        self.authz = Authorizer(store)

    # ---- the guard
    def guard(self, request: web.Request) -> UserInfo:
        """Authenticate and authorize `request`; the user is also set as `CURRENT_USER`."""
        public = request.path in PUBLIC_PATHS
        user = self.authn.authenticate(request.headers.get("Authorization", ""), public)
        h = request.headers
        user = self.authn.impersonate(
            user,
            h.get("Impersonate-User"),
            h.getall("Impersonate-Group", []),
            h.get("Impersonate-Uid"),
            self._may,
        )
        if not user.is_master:
            attrs = request_attributes(user, request.method, request.path, dict(request.query))
            self.authz.check(attrs)
        CURRENT_USER.set(user)
        return user

    def _may(self, user: UserInfo, verb: str, resource: str, namespace: str, name: str) -> bool:
        attrs = Attributes(user, verb, True, "", "v1", namespace, resource, "", name)
        return self.authz.allows(attrs)

    def add_routes(self, router: web.UrlDispatcher) -> None:
        """Register the routes (before the generic resource routes)."""
        sa_token = "/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token"
        router.add_post(sa_token, self.token_request)
        base = f"/apis/{AUTHZ}/v1"
        router.add_post(f"{base}/selfsubjectaccessreviews", self.self_access_review)
        router.add_post(f"{base}/subjectaccessreviews", self.access_review)
        router.add_post(
            f"{base}/namespaces/{{namespace}}/localsubjectaccessreviews", self.local_access_review
        )
        router.add_post(f"{base}/selfsubjectrulesreviews", self.rules_review)
        router.add_post(f"/apis/{AUTHN}/v1/tokenreviews", self.token_review)
        router.add_post(f"/apis/{AUTHN}/v1/selfsubjectreviews", self.self_review)

    # ---- TokenRequest
    async def token_request(self, request: web.Request) -> web.Response:
        ns, name = request.match_info["namespace"], request.match_info["name"]
        body = await _body(request)
        spec = dict(body.get("spec") or {})
        seconds = int(spec.get("expirationSeconds") or 3600)
        if seconds < _MIN_EXPIRATION:
            why = f"Invalid value: {seconds}: may not specify a duration less than 10 minutes"
            raise _invalid("TokenRequest", AUTHN, "spec.expirationSeconds", why)
        audiences = tuple(spec.get("audiences") or API_AUDIENCES)
        bound = self._bound(ns, spec.get("boundObjectRef"))
        token, exp = self.authn.issue(
            ns, name, expiration_seconds=seconds, audiences=audiences, bound=bound
        )
        spec.update(audiences=list(audiences), expirationSeconds=seconds)
        when = datetime.datetime.fromtimestamp(exp, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return json_answer(
            {
                "kind": "TokenRequest",
                "apiVersion": f"{AUTHN}/v1",
                "metadata": {"name": name, "namespace": ns, "creationTimestamp": None},
                "spec": spec,
                "status": {"token": token, "expirationTimestamp": when},
            },
            201,
        )

    def _bound(self, namespace: str, ref: Any) -> dict[str, str] | None:
        if not isinstance(ref, dict) or not ref.get("name"):
            return None
        kind = str(ref.get("kind", ""))
        key = {"Pod": "pods", "Secret": "secrets"}.get(kind)
        if key is None:
            why = f'Unsupported value: "{kind}": supported values: "Pod", "Secret"'
            raise _invalid("TokenRequest", AUTHN, "spec.boundObjectRef.kind", why)
        entry = self.store.get(key, namespace, str(ref["name"]))
        if entry is None:
            raise errors.not_found(key, "", str(ref["name"]))
        uid = str(entry.obj["metadata"].get("uid", ""))
        if ref.get("uid") and ref["uid"] != uid:
            raise errors.conflict(
                key, "", str(ref["name"]), "the UID in the bound object reference does not match"
            )
        return {"kind": kind, "name": str(ref["name"]), "uid": uid}

    # ---- access reviews
    def _attributes(self, user: UserInfo, spec: dict[str, Any], kind: str) -> Attributes:
        res: dict[str, Any] = spec.get("resourceAttributes") or {}
        non: dict[str, Any] = spec.get("nonResourceAttributes") or {}
        if bool(res) == bool(non):
            why = 'Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes must be specified'
            raise _invalid(kind, AUTHZ, "spec.resourceAttributes", why)
        if non:
            return Attributes(user, str(non.get("verb", "")), False, path=str(non.get("path", "")))
        fields = ("verb", "group", "version", "namespace", "resource", "subresource", "name")
        verb, *where = (str(res.get(key, "")) for key in fields)
        return Attributes(user, verb, True, *where)

    def _answer(self, body: dict[str, Any], kind: str, attrs: Attributes) -> web.Response:
        allowed, reason = self.authz.decide(attrs)
        status: dict[str, Any] = {"allowed": allowed}
        if reason:
            status["reason"] = reason
        meta = dict(body.get("metadata") or {})
        meta.setdefault("creationTimestamp", None)
        return _review(kind, AUTHZ, body.get("spec") or {}, status, meta)

    async def self_access_review(self, request: web.Request) -> web.Response:
        body = await _body(request)
        kind = "SelfSubjectAccessReview"
        attrs = self._attributes(CURRENT_USER.get(), body.get("spec") or {}, kind)
        return self._answer(body, kind, attrs)

    def _subject(self, spec: dict[str, Any], kind: str) -> UserInfo:
        user, groups = spec.get("user") or "", tuple(spec.get("groups") or ())
        if not user and not groups:
            why = 'Invalid value: "": at least one of user or group must be specified'
            raise _invalid(kind, AUTHZ, "spec.user", why)
        return UserInfo(
            str(user), groups, str(spec.get("uid") or ""), dict(spec.get("extra") or {})
        )

    async def access_review(self, request: web.Request) -> web.Response:
        body = await _body(request)
        kind = "SubjectAccessReview"
        spec = body.get("spec") or {}
        return self._answer(body, kind, self._attributes(self._subject(spec, kind), spec, kind))

    async def local_access_review(self, request: web.Request) -> web.Response:
        body = await _body(request)
        kind = "LocalSubjectAccessReview"
        spec = body.get("spec") or {}
        ns = request.match_info["namespace"]
        res = spec.get("resourceAttributes") or {}
        if res.get("namespace", ns) != ns:
            why = f'Invalid value: "{res.get("namespace")}": must match metadata.namespace'
            raise _invalid(kind, AUTHZ, "spec.resourceAttributes.namespace", why)
        if res:
            spec = dict(spec, resourceAttributes=dict(res, namespace=ns))
        return self._answer(body, kind, self._attributes(self._subject(spec, kind), spec, kind))

    async def rules_review(self, request: web.Request) -> web.Response:
        body = await _body(request)
        ns = str((body.get("spec") or {}).get("namespace") or "")
        resource_rules: list[dict[str, Any]] = []
        non_resource_rules: list[dict[str, Any]] = []
        for _binding, rule in self.authz.grants(CURRENT_USER.get(), ns):
            if rule.get("nonResourceURLs"):
                non_resource_rules.append(
                    {"verbs": rule.get("verbs") or [], "nonResourceURLs": rule["nonResourceURLs"]}
                )
            else:
                kept = {
                    k: rule[k]
                    for k in ("verbs", "apiGroups", "resources", "resourceNames")
                    if rule.get(k)
                }
                resource_rules.append(kept)
        status = {
            "resourceRules": resource_rules,
            "nonResourceRules": non_resource_rules,
            "incomplete": False,
        }
        return _review("SelfSubjectRulesReview", AUTHZ, body.get("spec") or {}, status)

    # ---- authentication reviews
    async def token_review(self, request: web.Request) -> web.Response:
        body = await _body(request)
        spec = body.get("spec") or {}
        audiences = tuple(spec.get("audiences") or API_AUDIENCES)
        status: dict[str, Any] = {"authenticated": False}
        try:
            user = self.authn.user_of_token(str(spec.get("token") or ""), audiences)
        except errors.ApiError:
            status["error"] = "invalid bearer token"
        else:
            status = {"authenticated": True, "user": user.to_json(), "audiences": list(audiences)}
        return _review("TokenReview", AUTHN, spec, status)

    async def self_review(self, request: web.Request) -> web.Response:
        user = CURRENT_USER.get()
        status = {"userInfo": user.to_json() if user is not ANONYMOUS else {}}
        return _review("SelfSubjectReview", AUTHN, None, status)
