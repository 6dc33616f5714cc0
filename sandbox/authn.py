"""Who a request comes from: the admin token, ServiceAccount tokens, impersonation.

- The sandbox's own token (`Sandbox.token`) is the admin: user `sandbox-admin` in the group
  `system:masters`, which RBAC never restricts. Tokens are compared with `hmac.compare_digest`.
- ServiceAccount tokens are JWTs signed (HS256) with a key of this sandbox, issued by
  TokenRequest (`POST .../serviceaccounts/NAME/token`, `kubectl create token NAME`). The
  token names the ServiceAccount's uid (and the bound object's, if any): it stops working when
  it expires or when that ServiceAccount (or bound object) is deleted, as a real bound token.
  Its user is `system:serviceaccount:NS:NAME` in the groups `system:serviceaccounts`,
  `system:serviceaccounts:NS` and `system:authenticated`.
- `Impersonate-User` / `Impersonate-Group` / `Impersonate-Uid` headers switch the user when the
  requester may `impersonate` users/groups/serviceaccounts/uids (checked through RBAC, so the
  admin always may); a ServiceAccount user without groups gets its fixed groups.
No I/O beyond the store read that checks the ServiceAccount still exists.
"""

from __future__ import annotations

import base64
import binascii
import contextvars
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox import errors
from sandbox.store import Store

__all__ = [
    "ADMIN",
    "API_AUDIENCES",
    "CURRENT_USER",
    "Authenticator",
    "UserInfo",
    "service_account_user",
]

API_AUDIENCES = ("https://kubernetes.default.svc.cluster.local", "https://kubernetes.default.svc")
"""The audiences the API server accepts (the default audiences of a TokenRequest)."""
ISSUER = "https://kubernetes.default.svc.cluster.local"
SA_PREFIX = "system:serviceaccount:"
AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"


@dataclass(frozen=True, slots=True)
class UserInfo:
    """An authenticated user as the authorizer and the webhooks see it."""

    username: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: dict[str, list[str]] = field(default_factory=dict)

    @property
    def is_master(self) -> bool:
        return "system:masters" in self.groups

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"username": self.username, "groups": list(self.groups)}
        if self.uid:
            out["uid"] = self.uid
        if self.extra:
            out["extra"] = self.extra
        return out


ADMIN = UserInfo("sandbox-admin", ("system:masters", AUTHENTICATED))
ANONYMOUS = UserInfo("system:anonymous", (UNAUTHENTICATED,))
CURRENT_USER: contextvars.ContextVar[UserInfo] = contextvars.ContextVar(
    "sandbox_user", default=ADMIN
)
"""The user of the request being served (read by admission for the AdmissionReview)."""


def service_account_user(namespace: str, name: str, uid: str = "") -> UserInfo:
    """The user of a ServiceAccount's token, with its fixed groups."""
    return UserInfo(
        f"{SA_PREFIX}{namespace}:{name}",
        ("system:serviceaccounts", f"system:serviceaccounts:{namespace}", AUTHENTICATED),
        uid,
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


Authorize = Callable[[UserInfo, str, str, str, str], bool]
"""(user, verb, resource, namespace, name) -> allowed, for impersonation checks."""


class Authenticator:
    """Maps bearer tokens to users and issues ServiceAccount tokens."""

    def __init__(self, store: Store, admin_token: str, key: bytes) -> None:
        self.store = store
        self.admin_token = admin_token
        self.key = key
        self._verified: dict[str, dict[str, Any]] = {}
        """Claims of tokens whose signature was checked (expiry is checked on every use)."""

    # ---- tokens
    def issue(
        self,
        namespace: str,
        name: str,
        *,
        expiration_seconds: int = 3600,
        audiences: tuple[str, ...] = (),
        bound: dict[str, str] | None = None,
    ) -> tuple[str, int]:
        """A signed token for an existing ServiceAccount; returns (token, expiry epoch)."""
        sa = self.store.get("serviceaccounts", namespace, name)
        if sa is None:
            raise errors.not_found("serviceaccounts", "", name)
        now = int(time.time())
        exp = now + expiration_seconds
        claims: dict[str, Any] = {
            "aud": list(audiences or API_AUDIENCES),
            "exp": exp,
            "iat": now,
            "nbf": now,
            "iss": ISSUER,
            "sub": f"{SA_PREFIX}{namespace}:{name}",
            "kubernetes.io": {
                "namespace": namespace,
                "serviceaccount": {"name": name, "uid": sa.obj["metadata"].get("uid", "")},
            },
        }
        if bound:
            claims["kubernetes.io"][bound["kind"].lower()] = {
                "name": bound["name"],
                "uid": bound["uid"],
            }
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "sandbox"}).encode())
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        signature = _b64(self._sign(f"{header}.{payload}"))
        return f"{header}.{payload}.{signature}", exp

    def _sign(self, text: str) -> bytes:
        return hmac.new(self.key, text.encode(), hashlib.sha256).digest()

    def claims(self, token: str) -> dict[str, Any] | None:
        """The verified claims of a ServiceAccount token, or None when it is not valid now."""
        claims = self._verified.get(token)
        if claims is None:
            claims = self._verify(token)
            if claims is None:
                return None
            if len(self._verified) > 4096:
                self._verified.clear()
            self._verified[token] = claims
        return claims if int(claims.get("exp", 0)) > time.time() else None

    def _verify(self, token: str) -> dict[str, Any] | None:
        parts = token.split(".")
        if len(parts) != 3:
            return None
        try:
            signature = _unb64(parts[2])
            claims = json.loads(_unb64(parts[1]))
        except (binascii.Error, ValueError):
            return None
        if not hmac.compare_digest(signature, self._sign(f"{parts[0]}.{parts[1]}")):
            return None
        return claims if isinstance(claims, dict) else None

    def user_of_token(self, token: str, audiences: tuple[str, ...] = API_AUDIENCES) -> UserInfo:
        """The user a bearer token authenticates, or 401."""
        if hmac.compare_digest(token.encode(), self.admin_token.encode()):
            return ADMIN
        claims = self.claims(token)
        if claims is None or not set(claims.get("aud") or ()) & set(audiences):
            raise unauthorized()
        k8s = claims.get("kubernetes.io") or {}
        ns = str(k8s.get("namespace", ""))
        sa = k8s.get("serviceaccount") or {}
        entry = self.store.get("serviceaccounts", ns, str(sa.get("name", "")))
        if entry is None or entry.obj["metadata"].get("uid") != sa.get("uid"):
            raise unauthorized()
        for kind, key in (("pod", "pods"), ("secret", "secrets")):
            ref = k8s.get(kind)
            if ref:
                obj = self.store.get(key, ns, str(ref.get("name", "")))
                if obj is None or obj.obj["metadata"].get("uid") != ref.get("uid"):
                    raise unauthorized()
        return service_account_user(ns, str(sa["name"]), str(sa.get("uid", "")))

    # ---- requests
    def authenticate(self, authorization: str, public: bool) -> UserInfo:
        """The user of an `Authorization` header; anonymous only for the public paths."""
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            if public:
                return ANONYMOUS
            raise unauthorized()
        return self.user_of_token(token.strip())

    @staticmethod
    def impersonate(
        requester: UserInfo,
        user: str | None,
        groups: list[str],
        uid: str | None,
        allowed: Authorize,
    ) -> UserInfo:
        """The user named by Impersonate-* headers, after checking the requester may act as it."""
        if user is None:
            if groups or uid:
                raise errors.bad_request(
                    "requested impersonation of groups or uid without impersonating a user"
                )
            return requester
        account = user[len(SA_PREFIX) :].split(":") if user.startswith(SA_PREFIX) else []
        if len(account) == 2:  # system:serviceaccount:<namespace>:<name>
            _check(allowed, requester, "serviceaccounts", account[0], account[1])
        else:
            _check(allowed, requester, "users", "", user)
        for group in groups:
            _check(allowed, requester, "groups", "", group)
        if uid:
            _check(allowed, requester, "uids", "", uid)
        result = list(groups)
        if not groups:
            if len(account) == 2:
                result = list(service_account_user(account[0], account[1]).groups)
            if user != ANONYMOUS.username and AUTHENTICATED not in result:
                result.append(AUTHENTICATED)
        return UserInfo(user, tuple(result), uid or "")


def _check(allowed: Authorize, requester: UserInfo, resource: str, ns: str, name: str) -> None:
    if allowed(requester, "impersonate", resource, ns, name):
        return
    where = f'in the namespace "{ns}"' if ns else "at the cluster scope"
    why = f'User "{requester.username}" cannot impersonate resource "{resource}" in API group "" {where}'
    raise errors.forbidden(resource, "", name, why)


def unauthorized() -> errors.ApiError:
    return errors.ApiError(401, "Unauthorized", "Unauthorized")
