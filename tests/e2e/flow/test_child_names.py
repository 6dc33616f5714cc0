"""A child's name held by another parent's child (five digits collide at scale) never stalls a flow.

Found by benchmarks/scale.py: with ~1,000 tasks of one definition in a namespace, a
WorkloadVersion's task name was already taken, the executor took the AlreadyExists for its own
earlier create, and the version waited forever. Now it takes the next deterministic alternate.
"""

from __future__ import annotations

from lifecycle.core import model, naming
from lifecycle.core.phases import APP_PHASES, Phase
from tests.e2e.flow.conftest import Cluster
from tests.e2e.flow.klt_manifests import apply, python_task, succeeded

APP_VERSION = """
apiVersion: lifecycle.keptn.sh/v1
kind: KeptnAppVersion
metadata:
  name: crowded-1.0.0-6b86b273
spec:
  appName: crowded
  version: "1.0.0"
  revision: 1
  workloads: []
  preDeploymentTasks: [check]
"""


async def test_a_taken_child_name_gets_the_next_alternate(cluster: Cluster) -> None:
    await apply(cluster, APP_VERSION)  # waits in AppPreDeployTasks for its definition
    version = await cluster.wait_for(model.KEPTN_APP_VERSION, "crowded-1.0.0-6b86b273")
    row = next(r for r in APP_PHASES if r.phase is Phase.APP_PRE_DEPLOY_TASKS)
    assert row.check_type is not None
    taken = naming.child_name(row.check_type, "check", version["metadata"]["uid"], row.phase)
    await cluster.client.create(  # another parent's task under that name
        model.KEPTN_TASK,
        {
            "apiVersion": model.KEPTN_TASK.api_version,
            "kind": "KeptnTask",
            "metadata": {"name": taken, "namespace": cluster.namespace},
            "spec": {
                "taskDefinition": "someone-elses",
                "context": {"appName": "other", "objectType": "App"},
                "checkType": "pre",
            },
        },
        cluster.namespace,
    )
    await apply(cluster, python_task("check", "print('checked')"))

    done = await cluster.wait_for(model.KEPTN_APP_VERSION, version["metadata"]["name"], succeeded)
    item = done["status"]["preDeploymentTaskStatus"][0]
    assert item["name"] == naming.alternate_child_name(taken, 1)
    ours = await cluster.wait_for(model.KEPTN_TASK, item["name"])
    assert [o["uid"] for o in ours["metadata"]["ownerReferences"]] == [version["metadata"]["uid"]]
    theirs = await cluster.get(model.KEPTN_TASK, taken)
    assert theirs is not None and theirs["spec"]["taskDefinition"] == "someone-elses"
