"""`covers`: a stored object already says what a desired body (or merge patch) says."""

from __future__ import annotations

from lifecycle.kube.subset import covers


def test_extra_server_fields_are_covered_but_changes_are_not() -> None:
    stored = {"metadata": {"uid": "u", "name": "a"}, "spec": {"x": 1, "list": [{"a": 1, "d": 0}]}}
    assert covers(stored, {"spec": {"x": 1, "list": [{"a": 1}]}})
    assert not covers(stored, {"spec": {"x": 2}})
    assert not covers(stored, {"spec": {"list": [{"a": 1}, {"a": 2}]}})


def test_a_merge_patch_null_is_covered_only_by_an_absent_field() -> None:
    stored = {"clientConfig": {"service": {"name": "s"}, "caBundle": "c"}}
    assert covers(stored, {"clientConfig": {"url": None, "caBundle": "c"}})
    assert not covers(stored, {"clientConfig": {"service": None, "caBundle": "c"}})
