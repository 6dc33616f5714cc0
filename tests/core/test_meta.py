"""lifecycle.core.meta: the one accessor of metadata reads raw and typed bodies alike."""

from __future__ import annotations

from lifecycle.core import meta, model


def test_metadata_reads_what_is_there_and_blank_where_nothing_is() -> None:
    body = {
        "metadata": {
            "name": "n",
            "namespace": "ns",
            "uid": "u",
            "labels": {"a": "1"},
            "annotations": {"b": "2"},
            "ownerReferences": [{"kind": "KeptnWorkload", "name": "w", "uid": "o1"}, {"uid": "o2"}],
        }
    }
    assert (meta.name_of(body), meta.namespace_of(body), meta.uid_of(body)) == ("n", "ns", "u")
    assert meta.labels_of(body) == {"a": "1"} and meta.annotations_of(body) == {"b": "2"}
    assert meta.owner_uids(body) == ["o1", "o2"]
    assert meta.owner_references_of(body)[0]["name"] == "w"
    for empty in ({}, {"metadata": None}, {"metadata": "x"}, {"metadata": {"labels": None}}):
        assert meta.metadata_of(empty) in ({}, {"labels": None})
        assert (meta.name_of(empty), meta.uid_of(empty)) == ("", "")
        assert meta.labels_of(empty) == {} and meta.owner_uids(empty) == []


def test_owner_reference_is_built_from_the_metadata() -> None:
    version = {"metadata": {"name": "v", "uid": "u"}}
    ref = model.owner_reference(version, model.KEPTN_APP_VERSION)
    assert ref == {
        "apiVersion": "lifecycle.keptn.sh/v1",
        "kind": "KeptnAppVersion",
        "name": "v",
        "uid": "u",
        "controller": True,
        "blockOwnerDeletion": True,
    }
    assert model.KEPTN_APP_VERSION.view(version) is version  # a view, not a copy
