"""The real kubectl sees what the node did: rollout status, job completion and job logs."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

from sandbox.node import NodeSettings

from .conftest import Sandbox

MANIFEST = """
apiVersion: v1
kind: ConfigMap
metadata: {name: keptnfn-hello, namespace: default}
data:
  code: |
    import json, os
    print("kubectl sees", json.loads(os.environ["DATA"])["who"], os.environ["SECURE_DATA"])
---
apiVersion: v1
kind: Secret
metadata: {name: task-secret, namespace: default}
stringData: {SECURE_DATA: psst}
---
apiVersion: batch/v1
kind: Job
metadata: {name: hello, namespace: default}
spec:
  backoffLimit: 1
  template:
    spec:
      restartPolicy: OnFailure
      volumes: [{name: function-mount, configMap: {name: keptnfn-hello}}]
      containers:
      - name: keptn-function-runner
        image: ghcr.io/keptn/python-runtime:v1.0.8
        env:
        - {name: DATA, value: '{"who": "everyone"}'}
        - {name: SECURE_DATA, valueFrom: {secretKeyRef: {name: task-secret, key: SECURE_DATA}}}
        - {name: SCRIPT, value: /var/data/function.py}
        volumeMounts: [{name: function-mount, mountPath: /var/data/function.py, subPath: code}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx}]
"""


async def test_kubectl_rollout_wait_and_logs(tmp_path: Path) -> None:
    assert shutil.which("kubectl"), "kubectl is installed by scripts/bootstrap.sh"
    sb = await Sandbox.start(
        node_settings=NodeSettings(pod_start_delay=0.0, work_dir=tmp_path / "node")
    )
    env = dict(os.environ, KUBECONFIG=str(sb.kubeconfig_path), HOME=str(tmp_path))

    async def kubectl(*args: str, stdin: str = "") -> str:
        proc = await asyncio.create_subprocess_exec(
            "kubectl",
            f"--cache-dir={tmp_path / 'cache'}",
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
        )
        out, _ = await proc.communicate(stdin.encode())
        assert proc.returncode == 0, out.decode()
        return out.decode()

    try:
        await kubectl("apply", "-f", "-", stdin=MANIFEST)
        await kubectl("wait", "--for=condition=complete", "job/hello", "--timeout=30s")
        assert "successfully rolled out" in await kubectl(
            "rollout", "status", "deployment/web", "--timeout=30s"
        )
        assert "kubectl sees everyone psst" in await kubectl("logs", "job/hello")
        pods = await kubectl("get", "pods", "-o", "wide")
        assert pods.count("sandbox-node") == 3 and "Completed" in pods
    finally:
        await sb.stop()
