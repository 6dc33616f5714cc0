"""--data-dir: a restarted sandbox keeps objects, CRDs, pod logs and increasing resourceVersions."""

from __future__ import annotations

from pathlib import Path

from kubernetes_asyncio import client, config

from sandbox.errors import ApiError
from sandbox.server import Sandbox
from tests.sandbox.conftest import FIXTURES, GROUP, PLURAL, VERSION, widget


async def test_restart_loses_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with Sandbox(crds_dir=FIXTURES, node=False, data_dir=data) as sb:
        api = await config.new_client_from_config(config_file=str(sb.kubeconfig_path))
        async with api:
            co = client.CustomObjectsApi(api)
            await co.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, widget("w"))
            await client.CoreV1Api(api).create_namespaced_pod(
                "default",
                {
                    "metadata": {"name": "p"},
                    "spec": {"containers": [{"name": "c", "image": "x:1"}]},
                },
            )
        sb.store.set_pod_log("default", "p", "out\n")
        rv_before = sb.store.rv
    # the second run has no CRD directory: the CRD comes back from the data dir
    async with Sandbox(crds_dir=tmp_path / "none", node=False, data_dir=data) as sb:
        assert sb.store.rv == rv_before
        api = await config.new_client_from_config(config_file=str(sb.kubeconfig_path))
        async with api:
            co = client.CustomObjectsApi(api)
            w = await co.get_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "w")
            assert w["spec"] == {"mode": "fast", "retries": 3}
            cm = await client.CoreV1Api(api).create_namespaced_config_map(
                "default", {"metadata": {"name": "new"}}
            )
            assert int(cm.metadata.resource_version) > rv_before
        assert sb.store.pod_log("default", "p") == "out\n"


async def test_a_failed_start_leaves_nothing_running(tmp_path: Path) -> None:
    bad = tmp_path / "crds"
    bad.mkdir()
    (bad / "broken.yaml").write_text(
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"
        "metadata: {name: wrong.example.dev}\n"
        "spec: {group: example.dev, names: {kind: T, plural: things}, scope: Namespaced, versions: []}\n"
    )
    sb = Sandbox(crds_dir=bad, node=False, data_dir=tmp_path / "data")
    try:
        await sb.__aenter__()
    except ApiError as exc:
        assert exc.code == 422 and "spec.names.plural" in exc.message
    else:
        raise AssertionError("a CRD whose name does not match must fail the start")
    assert sb.store.persistence is None  # closed
