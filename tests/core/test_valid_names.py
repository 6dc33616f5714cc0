"""Every name and label value the operator derives passes the strict sandbox's checks (issue 10).

The oracle is the sandbox's own validation (sandbox/objectmeta.py, the rules of a real API server),
not the regular expressions of lifecycle/core/naming.py.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from lifecycle.core import naming
from lifecycle.core.runtimes import function_config_map_name, job_name
from lifecycle.flow.objects import child_labels
from lifecycle.kube.events import event_name
from sandbox.objectmeta import _subdomain, label_value

TEXT = st.text(
    alphabet=st.characters(codec="ascii", exclude_categories=("Cc",)), min_size=1, max_size=300
)


def test_klt_names_stay_klt_names() -> None:
    assert naming.app_version_name("myapp", "0.0.1", 1) == "myapp-0.0.1-6b86b273"
    assert naming.workload_version_name("myapp-wl", "v1.2") == "myapp-wl-v1.2"
    assert naming.workload_name("My_App", "front_end") == "my-app-front-end"
    assert function_config_map_name("hello") == "keptnfn-hello"


def test_semver_build_metadata_makes_a_valid_distinct_name() -> None:
    plus = naming.workload_version_name("app-wl", "1.0.0+build.7")
    dash = naming.workload_version_name("app-wl", "1.0.0-build.7")
    assert plus.startswith("app-wl-1.0.0-build.7-") and not _subdomain(plus)
    assert plus != dash == "app-wl-1.0.0-build.7"
    assert not _subdomain(naming.app_version_name("app", "1.0.0+build.7", 3))


def test_label_value_cut_at_63_never_ends_in_a_separator() -> None:
    value = "a" * 62 + "-b"  # the old [:63] cut left "aaa...a-"
    assert label_value(value[:63])  # what the sandbox (and a real server) refused
    assert naming.label_value(value) == "a" * 62
    labels = child_labels({"spec": {"appName": value, "workloadName": "w", "version": "1.0+x"}})
    assert all(not label_value(v) for v in labels.values()), labels


def test_event_name_of_a_long_object_fits() -> None:
    name = event_name("x" * 250 + "-.ab", "uid", "key")
    assert not _subdomain(name) and len(name) <= 253


@settings(max_examples=300, deadline=None)
@given(app=TEXT, workload=TEXT, version=TEXT, generation=st.integers(1, 10**6))
def test_derived_names_are_valid(app: str, workload: str, version: str, generation: int) -> None:
    wl = naming.workload_name(app, workload)
    for name in (
        wl,
        naming.workload_version_name(wl, version),
        naming.app_version_name(naming.valid_name(app), version, generation),
        naming.child_name("pre", naming.valid_name(workload), "uid", "PreDeploymentTasks"),
        function_config_map_name(naming.valid_name(workload)),
        event_name(wl, "uid", version),
    ):
        assert not _subdomain(name), name
    assert not label_value(naming.label_value(version))
    job = job_name({"metadata": {"name": naming.valid_name(version), "uid": "u"}})
    assert len(job) <= 63 and not _subdomain(job)
