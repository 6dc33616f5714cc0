"""RBAC for ServiceAccount tokens: TokenRequest, Roles and bindings, impersonation, access reviews.

The real kubectl answers `auth can-i` and `create token`; requests made with an SA token get
kube-apiserver's 403 bodies.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from sandbox.server import Sandbox
from tests.sandbox.conftest import FIXTURES
from tests.sandbox.test_kubectl import Kubectl
from tests.support.sandbox import sa_token

RBAC = "/apis/rbac.authorization.k8s.io/v1"
ROLE_YAML = """
apiVersion: v1
kind: ServiceAccount
metadata: {name: bot, namespace: default}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-reader, namespace: default}
rules:
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch]
- apiGroups: [""]
  resources: [pods/status]
  verbs: [patch]
- apiGroups: [""]
  resources: [configmaps]
  resourceNames: [settings]
  verbs: [get, update]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: bot-reads-pods, namespace: default}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}
subjects:
- {kind: ServiceAccount, name: bot, namespace: default}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: lease-editor}
rules:
- apiGroups: [coordination.k8s.io]
  resources: ["*"]
  verbs: ["*"]
- nonResourceURLs: [/metrics]
  verbs: [get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: all-sas-edit-leases}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: lease-editor}
subjects:
- {kind: Group, name: "system:serviceaccounts:default", apiGroup: rbac.authorization.k8s.io}
"""
BOT = "system:serviceaccount:default:bot"

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is missing")


@pytest.fixture
async def kubectl(tmp_path: Path) -> AsyncIterator[Kubectl]:
    async with Sandbox(crds_dir=FIXTURES, node=False) as sb:
        k = Kubectl(sb, tmp_path)
        manifest = tmp_path / "rbac.yaml"
        manifest.write_text(ROLE_YAML)
        await k("apply", "-f", str(manifest))
        yield k


async def _call(
    sb: Sandbox, method: str, path: str, token: str, body: Any = None, **headers: str
) -> tuple[int, dict[str, Any]]:
    hdrs = {"Authorization": f"Bearer {token}", **headers}
    ctype = "application/merge-patch+json" if method == "PATCH" else "application/json"
    async with (
        aiohttp.ClientSession() as session,
        session.request(
            method, sb.url + path, json=body, headers={**hdrs, "Content-Type": ctype}
        ) as resp,
    ):
        return resp.status, await resp.json(content_type=None)


async def _can_i(kubectl: Kubectl, *args: str, ns: str = "default") -> str:
    rc, out, err = await kubectl("auth", "can-i", *args, "-n", ns, f"--as={BOT}", ok=False)
    answer = out.strip()
    assert (rc == 0) == (answer == "yes"), (rc, out, err)
    return answer


CAN_I = [
    (("get", "pods"), "yes"),
    (("list", "pods"), "yes"),
    (("watch", "pods"), "yes"),
    (("patch", "pods"), "no"),
    (("delete", "pods"), "no"),
    (("patch", "pods", "--subresource=status"), "yes"),
    (("get", "configmaps/settings"), "yes"),
    (("get", "configmaps/other"), "no"),
    (("list", "configmaps"), "no"),
    (("create", "leases.coordination.k8s.io"), "yes"),
    (("deletecollection", "leases.coordination.k8s.io"), "yes"),
    (("get", "secrets"), "no"),
    (("get", "/metrics"), "yes"),
    (("get", "/logs"), "no"),
]
"""`kubectl auth can-i ARGS --as=<bot> -n default` -> expected answer."""


async def test_kubectl_auth_can_i_as_service_account(kubectl: Kubectl) -> None:
    answers = {" ".join(args): await _can_i(kubectl, *args) for args, _ in CAN_I}
    assert answers == {" ".join(args): expected for args, expected in CAN_I}


async def test_can_i_in_another_namespace_uses_only_cluster_bindings(kubectl: Kubectl) -> None:
    await kubectl("create", "namespace", "other")
    assert await _can_i(kubectl, "get", "pods", ns="other") == "no"
    assert await _can_i(kubectl, "get", "leases.coordination.k8s.io", ns="other") == "yes"


async def test_kubectl_create_token_and_a_forbidden_patch(kubectl: Kubectl) -> None:
    sb = kubectl.sb
    _, out, _ = await kubectl("create", "token", "bot", "-n", "default")
    token = out.strip()
    assert token.count(".") == 2 and token != sb.token
    await kubectl("run", "web", "--image=nginx", "-n", "default")
    status, body = await _call(sb, "GET", "/api/v1/namespaces/default/pods/web", token)
    assert status == 200 and body["metadata"]["name"] == "web"
    status, body = await _call(
        sb,
        "PATCH",
        "/api/v1/namespaces/default/pods/web",
        token,
        {"metadata": {"labels": {"a": "b"}}},
    )
    assert status == 403
    assert body["reason"] == "Forbidden"
    assert body["message"] == (
        f'pods "web" is forbidden: User "{BOT}" cannot patch resource "pods" in API group "" '
        'in the namespace "default"'
    )
    assert body["details"] == {"name": "web", "kind": "pods"}
    status, body = await _call(sb, "GET", "/api/v1/secrets", token)
    assert status == 403
    assert body["message"] == (
        f'secrets is forbidden: User "{BOT}" cannot list resource "secrets" in API group "" at the cluster scope'
    )
    status, body = await _call(
        sb,
        "PATCH",
        "/api/v1/namespaces/default/pods/web/status",
        token,
        {"status": {"message": "hi"}},
    )
    assert status == 200


async def test_discovery_and_version_readable_by_any_token(kubectl: Kubectl) -> None:
    sb = kubectl.sb
    token = sa_token(sb, "default", "bot")
    for path in ("/version", "/api", "/apis", "/api/v1", "/apis/apps/v1", "/openapi/v3"):
        status, _ = await _call(sb, "GET", path, token)
        assert status == 200, path
    status, body = await _call(sb, "GET", "/sandbox/faults", token)
    assert status == 403
    assert body["message"] == f'forbidden: User "{BOT}" cannot get path "/sandbox/faults"'


async def test_watch_needs_watch_verb(kubectl: Kubectl) -> None:
    sb = kubectl.sb
    token = sa_token(sb, "default", "bot")
    status, _ = await _call(
        sb, "GET", "/api/v1/namespaces/default/pods?watch=true&timeoutSeconds=1", token
    )
    assert status == 200
    status, body = await _call(
        sb, "GET", "/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=1", token
    )
    assert status == 403 and "cannot watch resource" in body["message"]


async def test_token_dies_with_its_service_account(kubectl: Kubectl) -> None:
    sb = kubectl.sb
    token = sa_token(sb, "default", "bot")
    assert (await _call(sb, "GET", "/api/v1/namespaces/default/pods", token))[0] == 200
    assert (await _call(sb, "GET", "/api/v1/namespaces/default/pods", token + "x"))[0] == 401
    forged = token.rsplit(".", 1)[0] + "." + "A" * 43
    assert (await _call(sb, "GET", "/api/v1/namespaces/default/pods", forged))[0] == 401
    await kubectl("delete", "serviceaccount", "bot", "-n", "default")
    await kubectl("create", "serviceaccount", "bot", "-n", "default")
    status, body = await _call(sb, "GET", "/api/v1/namespaces/default/pods", token)
    assert status == 401 and body["reason"] == "Unauthorized"


async def test_token_request_validation_and_audiences(kubectl: Kubectl) -> None:
    sb = kubectl.sb
    path = "/api/v1/namespaces/default/serviceaccounts/bot/token"
    status, body = await _call(sb, "POST", path, sb.token, {"spec": {"expirationSeconds": 60}})
    assert status == 422 and "may not specify a duration less than 10 minutes" in body["message"]
    status, body = await _call(sb, "POST", path, sb.token, {"spec": {"audiences": ["vault"]}})
    assert status == 201 and body["status"]["token"]
    # a token for another audience does not authenticate to the API server
    assert (await _call(sb, "GET", "/api", body["status"]["token"]))[0] == 401
    status, body = await _call(
        sb, "POST", "/api/v1/namespaces/default/serviceaccounts/nobody/token", sb.token, {}
    )
    assert status == 404
    token = sa_token(sb, "default", "bot")
    status, body = await _call(sb, "POST", path, token, {})
    assert status == 403 and 'cannot create resource "serviceaccounts/token"' in body["message"]


async def test_impersonation_needs_the_impersonate_verb(kubectl: Kubectl) -> None:
    sb = kubectl.sb
    token = sa_token(sb, "default", "bot")
    status, body = await _call(
        sb, "GET", "/api/v1/namespaces/default/secrets", token, **{"Impersonate-User": "admin"}
    )
    assert status == 403
    assert body["message"] == (
        f'users "admin" is forbidden: User "{BOT}" cannot impersonate resource "users" in API '
        'group "" at the cluster scope'
    )
    status, body = await _call(
        sb, "GET", "/api/v1/namespaces/default/secrets", sb.token, **{"Impersonate-User": BOT}
    )
    assert status == 403 and "cannot list resource" in body["message"]
    status, body = await _call(
        sb,
        "POST",
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        sb.token,
        {},
        **{"Impersonate-User": BOT},
    )
    assert status == 201
    assert body["status"]["userInfo"]["groups"] == [
        "system:serviceaccounts",
        "system:serviceaccounts:default",
        "system:authenticated",
    ]


async def test_subject_access_review(kubectl: Kubectl) -> None:
    sb = kubectl.sb

    async def review(user: str, verb: str, resource: str) -> dict[str, Any]:
        spec = {
            "user": user,
            "resourceAttributes": {"namespace": "default", "verb": verb, "resource": resource},
        }
        status, body = await _call(
            sb,
            "POST",
            "/apis/authorization.k8s.io/v1/subjectaccessreviews",
            sb.token,
            {"spec": spec},
        )
        assert status == 201
        return dict(body["status"])

    allowed = await review(BOT, "list", "pods")
    assert allowed["allowed"] is True
    assert 'RoleBinding "bot-reads-pods" of namespace "default"' in allowed["reason"]
    assert (await review(BOT, "delete", "pods"))["allowed"] is False
    # a user named like the SA but without its groups gets only what names the user
    assert (await review("someone", "list", "pods"))["allowed"] is False
    token = sa_token(sb, "default", "bot")
    status, _ = await _call(
        sb,
        "POST",
        "/apis/authorization.k8s.io/v1/subjectaccessreviews",
        token,
        {"spec": {"user": BOT, "resourceAttributes": {"verb": "get", "resource": "pods"}}},
    )
    assert status == 403


async def test_aggregated_cluster_role(kubectl: Kubectl, tmp_path: Path) -> None:
    manifest = tmp_path / "agg.yaml"
    manifest.write_text(
        """
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: aggregate}
aggregationRule:
  clusterRoleSelectors:
  - matchLabels: {rbac.example.com/aggregate-to-bot: "true"}
rules: []
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: secrets-part
  labels: {rbac.example.com/aggregate-to-bot: "true"}
rules:
- {apiGroups: [""], resources: [secrets], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: bot-aggregate, namespace: default}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: aggregate}
subjects:
- {kind: ServiceAccount, name: bot, namespace: default}
"""
    )
    assert await _can_i(kubectl, "get", "secrets") == "no"
    await kubectl("apply", "-f", str(manifest))
    assert await _can_i(kubectl, "get", "secrets") == "yes"
    assert await _can_i(kubectl, "list", "secrets") == "no"


async def test_kubectl_with_a_service_account_kubeconfig(kubectl: Kubectl, tmp_path: Path) -> None:
    sb = kubectl.sb
    path = sb.write_kubeconfig(tmp_path / "bot.kubeconfig", token=sa_token(sb, "default", "bot"))
    bot = Kubectl(sb, tmp_path / "bot-home")
    bot.env["KUBECONFIG"] = str(path)
    rc, out, _ = await bot("get", "pods")
    assert rc == 0
    rc, _, err = await bot("create", "configmap", "x", ok=False)
    assert rc != 0
    assert (
        f'configmaps is forbidden: User "{BOT}" cannot create resource "configmaps" in API group ""'
        in err
    )
    _, out, _ = await bot("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
    assert out == BOT


async def test_escalation_needs_held_rules_or_escalate_and_bind(kubectl: Kubectl) -> None:
    sb = kubectl.sb
    token = sa_token(sb, "default", "bot")
    roles = f"{RBAC}/namespaces/default/roles"
    bindings = f"{RBAC}/namespaces/default/rolebindings"
    # the bot may write Roles and RoleBindings, but not grant what it does not hold
    status, _ = await _call(
        sb,
        "POST",
        roles,
        sb.token,
        {
            "metadata": {"name": "rbac-writer"},
            "rules": [
                {
                    "apiGroups": ["rbac.authorization.k8s.io"],
                    "resources": ["roles", "rolebindings"],
                    "verbs": ["create"],
                }
            ],
        },
    )
    assert status == 201
    status, _ = await _call(
        sb,
        "POST",
        bindings,
        sb.token,
        {
            "metadata": {"name": "bot-writes-rbac"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "rbac-writer",
            },
            "subjects": [{"kind": "ServiceAccount", "name": "bot", "namespace": "default"}],
        },
    )
    assert status == 201
    held = {
        "metadata": {"name": "held"},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}],
    }
    assert (await _call(sb, "POST", roles, token, held))[0] == 201
    wanted = {
        "metadata": {"name": "more"},
        "rules": [
            {"apiGroups": [""], "resources": ["pods", "secrets"], "verbs": ["get", "delete"]}
        ],
    }
    status, body = await _call(sb, "POST", roles, token, wanted)
    assert status == 403
    assert body["message"].startswith(
        f'roles.rbac.authorization.k8s.io "more" is forbidden: user "{BOT}" (groups=["system:serviceaccounts" '
        '"system:serviceaccounts:default" "system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n'
    )
    assert '{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}' in body["message"]
    assert '{APIGroups:[""], Resources:["pods"], Verbs:["get"]}' not in body["message"]
    # binding to a role whose rules the bot lacks needs `bind`
    status, _ = await _call(sb, "POST", roles, sb.token, wanted)
    assert status == 201
    binding = {
        "metadata": {"name": "escalate"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "more"},
        "subjects": [{"kind": "ServiceAccount", "name": "bot", "namespace": "default"}],
    }
    status, body = await _call(sb, "POST", bindings, token, binding)
    assert status == 403 and "not currently held" in body["message"]
    binding["roleRef"]["name"] = "held"
    assert (await _call(sb, "POST", bindings, token, binding))[0] == 201


async def test_can_i_list(kubectl: Kubectl) -> None:
    _, out, _ = await kubectl("auth", "can-i", "--list", "-n", "default", f"--as={BOT}")
    lines = out.splitlines()
    assert any(line.split()[:1] == ["pods"] and "[get list watch]" in line for line in lines), out
    assert any(line.startswith("configmaps") and "[settings]" in line for line in lines), out
