"""Pure parts of the sandbox, table-driven and property-based: selectors, patches, schema, tables."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.errors import ApiError
from sandbox.patching import apply_json_patch, apply_merge_patch, apply_strategic_merge_patch
from sandbox.schema import prune_and_default, validate
from sandbox.selectors import FieldSelector, LabelSelector
from sandbox.tables import human_age, jsonpath

keys = st.sampled_from(["a", "b", "c", "app.kubernetes.io/name"])
values = st.sampled_from(["x", "y", "z"])
labels = st.dictionaries(keys, values, max_size=4)


@given(labels, keys, values)
def test_equality_and_inequality_are_complements(
    lbls: dict[str, str], key: str, value: str
) -> None:
    eq = LabelSelector.parse(f"{key}={value}").matches(lbls)
    ne = LabelSelector.parse(f"{key}!={value}").matches(lbls)
    assert eq != ne


@given(labels, keys, st.lists(values, min_size=1, max_size=3))
def test_in_and_notin_are_complements(lbls: dict[str, str], key: str, vals: list[str]) -> None:
    text = ", ".join(vals)
    assert LabelSelector.parse(f"{key} in ({text})").matches(lbls) != LabelSelector.parse(
        f"{key} notin ({text})"
    ).matches(lbls)


@given(labels, keys)
def test_exists_and_not_exists(lbls: dict[str, str], key: str) -> None:
    assert LabelSelector.parse(key).matches(lbls) == (key in lbls)
    assert LabelSelector.parse(f"!{key}").matches(lbls) == (key not in lbls)


@given(labels)
def test_match_labels_object_equals_string_form(lbls: dict[str, str]) -> None:
    text = ",".join(f"{k}={v}" for k, v in lbls.items())
    as_object = LabelSelector.from_object({"matchLabels": lbls})
    assert as_object.matches(lbls) and LabelSelector.parse(text).matches(lbls)


def test_bad_selectors_are_400() -> None:
    with pytest.raises(ApiError) as err:
        LabelSelector.parse("a in (b")
    assert err.value.code == 400
    with pytest.raises(ApiError):
        FieldSelector.parse("spec.bogus=1", "Pod")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=3),
    lambda inner: st.dictionaries(st.text(max_size=2), inner, max_size=3),
    max_leaves=8,
)
objects = st.dictionaries(st.text(max_size=2), json_values, max_size=4)


@given(objects, objects)
def test_merge_patch_is_idempotent(target: dict[str, Any], patch: dict[str, Any]) -> None:
    once = apply_merge_patch(target, patch)
    assert apply_merge_patch(once, patch) == once


@given(objects)
def test_json_patch_add_then_remove_restores(doc: dict[str, Any]) -> None:
    key = "added~/key"
    escaped = "/added~0~1key"
    changed = apply_json_patch(doc, [{"op": "add", "path": escaped, "value": 1}])
    assert changed[key] == 1
    assert apply_json_patch(changed, [{"op": "remove", "path": escaped}]) == {
        k: v for k, v in doc.items() if k != key
    }


def test_strategic_merge_of_ports_uses_the_right_key() -> None:
    svc = {"spec": {"ports": [{"port": 80, "name": "http"}]}}
    out = apply_strategic_merge_patch(svc, {"spec": {"ports": [{"port": 443, "name": "https"}]}})
    assert [p["port"] for p in out["spec"]["ports"]] == [80, 443]
    pod = {"spec": {"containers": [{"name": "a", "ports": [{"containerPort": 80}]}]}}
    out = apply_strategic_merge_patch(
        pod,
        {"spec": {"containers": [{"name": "a", "ports": [{"containerPort": 80, "name": "web"}]}]}},
    )
    assert out["spec"]["containers"][0]["ports"] == [{"containerPort": 80, "name": "web"}]


def test_strategic_directives() -> None:
    obj = {"metadata": {"finalizers": ["a", "b"]}, "spec": {"volumes": [{"name": "v", "x": 1}]}}
    out = apply_strategic_merge_patch(
        obj,
        {
            "metadata": {"finalizers": ["c"], "$deleteFromPrimitiveList/finalizers": ["a"]},
            "spec": {
                "volumes": [{"name": "w"}, {"$patch": "replace"}],
                "$setElementOrder/volumes": [],
            },
        },
    )
    assert out["metadata"]["finalizers"] == ["b", "c"]
    assert out["spec"] == {"volumes": [{"name": "w"}]}


SCHEMA = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {
                "n": {"type": "integer", "nullable": True},
                "s": {"type": "string", "default": "d"},
                "choice": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
                "items": {"type": "array", "maxItems": 1, "items": {"type": "string"}},
                "nested": {
                    "type": "object",
                    "properties": {"deep": {"type": "string", "default": "x"}},
                },
            },
        }
    },
}


@pytest.mark.parametrize(
    ("spec", "expected", "errors"),
    [
        ({"n": None}, {"n": None, "s": "d"}, []),
        ({"s": None}, {"s": "d"}, []),
        ({"nested": {}}, {"s": "d", "nested": {"deep": "x"}}, []),
        ({"choice": 1.5}, {"choice": 1.5, "s": "d"}, ["spec.choice"]),
        ({"items": ["a", "b"]}, {"items": ["a", "b"], "s": "d"}, ["spec.items"]),
        ({"items": [1]}, {"items": [1], "s": "d"}, ["spec.items[0]"]),
    ],
)
def test_schema_defaults_and_causes(
    spec: dict[str, Any], expected: dict[str, Any], errors: list[str]
) -> None:
    obj: dict[str, Any] = {
        "apiVersion": "x/v1",
        "kind": "X",
        "metadata": {"name": "n"},
        "spec": spec,
    }
    prune_and_default(SCHEMA, obj)
    assert obj["spec"] == expected
    assert [field for field, _, _ in validate(SCHEMA, obj)] == errors


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (5, "5s"),
        (119, "119s"),
        (150, "2m30s"),
        (600, "10m"),
        (3 * 3600 + 60, "3h1m"),
        (30 * 3600, "30h"),
        (5 * 86400, "5d"),
    ],
)
def test_human_age(seconds: int, text: str) -> None:
    assert human_age("2026-01-01T00:00:00Z", now=1767225600 + seconds) == text


def test_jsonpath_subset() -> None:
    obj = {
        "status": {
            "conditions": [{"type": "A", "status": "False"}, {"type": "Ready", "status": "True"}]
        },
        "spec": {"l": [1, 2]},
    }
    assert jsonpath(obj, '.status.conditions[?(@.type=="Ready")].status') == ["True"]
    assert jsonpath(obj, ".spec.l[1]") == [2]
    assert jsonpath(obj, "{.spec.l[*]}") == [1, 2]
    assert jsonpath(obj, ".nope.x") == []
