"""`klt status` against a sandbox with one completed and one failed workload."""

from __future__ import annotations

import asyncio
import sys

from lifecycle.core import model
from tests.e2e.flow.conftest import Cluster
from tests.e2e.flow.workloads import deployment, finished, succeeded


async def test_klt_status_shows_phase_state_age_and_last_error(cluster: Cluster) -> None:
    await cluster.keptn_config(definitionWaitSeconds=0)
    ns = cluster.namespace
    await cluster.client.create(model.DEPLOYMENT, deployment("good"), ns)
    bad = deployment("bad", keys={"keptn.sh/pre-deployment-tasks": "no-such-task"})
    await cluster.client.create(model.DEPLOYMENT, bad, ns)
    await cluster.wait_for(model.KEPTN_APP_VERSION, "good-0.1.0-6b86b273", succeeded)
    await cluster.wait_for(model.KEPTN_WORKLOAD_VERSION, "bad-bad-0.1.0", finished)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "lifecycle.commands.cli",
        "status",
        "--kubeconfig",
        str(cluster.sandbox.kubeconfig_path),
        "-n",
        ns,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={"COLUMNS": "250", "TERM": "dumb", "PATH": ""},
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    text = out.decode()
    lines = text.splitlines()
    good = next(line for line in lines if "good-0.1.0-6b86b273" in line)
    assert "Completed" in good and "Succeeded" in good
    bad_line = next(line for line in lines if "bad-bad-0.1.0" in line)
    assert "Failed" in bad_line and "WorkloadPreDeployTasks" in bad_line
    assert "no-such-task" in text  # the reason of the last error
    assert "AppVersions" in text and "WorkloadVersions" in text
