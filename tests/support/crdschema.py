"""Validate and default custom resources against deploy/crds' schemas, as an API server would.

``validate(body)`` checks a custom resource against its CRD's ``openAPIV3Schema`` and returns
errors that name the field path ("spec.retries: -1 is less than the minimum of 0");
``apply_defaults(body)`` fills schema defaults recursively. ``CrdValidator`` does the same for any
``SchemaSet``; the module functions use the repository's deploy/crds, loaded once.

Inputs are never mutated (``apply_defaults`` returns a deep copy); validation applies defaults
first, as the API server does, so a status missing a defaulted required field is valid; unknown
fields are reported ("unknown field"), like ``kubectl apply`` with strict field validation, except
below ``x-kubernetes-preserve-unknown-fields`` or free-form objects. CEL rules
(``x-kubernetes-validations``) are not checked: the admission webhook checks them with KLT's
messages. A test tool only: the operator never validates bodies itself.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft7Validator
from jsonschema.exceptions import ValidationError

from lifecycle.admission.schemas import SchemaSet, load_crds
from lifecycle.core.bounds import MIN_RETRY_INTERVAL, RETRY_INTERVAL_PATTERN

__all__ = ["CrdValidator", "apply_defaults", "default_schemas", "load_crds", "validate"]

Schema = Mapping[str, Any]
# The CRDs' duration pattern: KLT's, anchored as a whole (KLT's `^0|(...)+$` accepts "x5m").
_GO_DURATION = r"^(0|([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+)$"


@dataclass(frozen=True, slots=True)
class CrdValidator:
    """Defaulting and validation over the schemas of a ``SchemaSet``."""

    schemas: SchemaSet
    validators: Mapping[tuple[str, str], Draft7Validator] = field(repr=False)

    @classmethod
    def of(cls, schemas: SchemaSet) -> CrdValidator:
        validators = {key: Draft7Validator(s) for key, s in schemas.schemas.items()}
        return cls(schemas, validators)

    def apply_defaults(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of ``body`` with the schema defaults filled in; unknown kinds are copied unchanged."""
        result = copy.deepcopy(dict(body))
        schema = self.schemas.schema(str(body.get("apiVersion", "")), str(body.get("kind", "")))
        if schema is not None:
            _fill_defaults(result, schema)
        return result

    def validate(self, body: Mapping[str, Any]) -> list[str]:
        """Errors of ``body`` (after defaulting) against its CRD, each naming the field path."""
        api_version, kind = str(body.get("apiVersion", "")), str(body.get("kind", ""))
        validator = self.validators.get((api_version, kind))
        if validator is None:
            return [f"kind: no CustomResourceDefinition serves {api_version} {kind}"]
        defaulted = self.apply_defaults(body)
        errors = [_format(error) for error in validator.iter_errors(defaulted)]
        errors.extend(_unknown_fields(defaulted, self.schemas.schemas[(api_version, kind)], ""))
        return sorted(set(errors))


def _fill_defaults(value: Any, schema: Schema) -> None:
    """Fill defaults in place, top-down, recursing into defaulted values too (as the API server)."""
    if isinstance(value, dict):
        properties: Mapping[str, Schema] = schema.get("properties", {})
        for name, sub in properties.items():
            if name not in value and "default" in sub:
                value[name] = copy.deepcopy(sub["default"])
            if name in value:
                _fill_defaults(value[name], sub)
        extra = schema.get("additionalProperties")
        if isinstance(extra, Mapping):
            for name, item in value.items():
                if name not in properties:
                    _fill_defaults(item, extra)
    elif isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for item in value:
            _fill_defaults(item, schema["items"])


def _path(parts: Iterable[str | int]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _format(error: ValidationError) -> str:
    parts = list(error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, dict):
        # Name the missing field itself, not its parent.
        required: list[str] = (
            list(error.schema.get("required", [])) if isinstance(error.schema, dict) else []
        )
        missing = [name for name in required if name not in error.instance]
        return f"{_path([*parts, *missing[:1]])}: Required value"
    where = _path(parts) or "<root>"
    if error.validator in ("oneOf", "anyOf") and isinstance(error.instance, dict):
        branches: list[Any] = (
            list(error.schema.get(str(error.validator), []))
            if isinstance(error.schema, dict)
            else []
        )
        if all(isinstance(b, dict) and set(b) <= {"required", "not"} for b in branches):
            # The CRDs spell "exactly one of" as branches of `required`; say so without the body.
            options = " | ".join("+".join(b["required"]) for b in branches)
            found = sorted({f for b in branches for f in b["required"] if f in error.instance})
            return f"{where}: set exactly one of {options} (found: {', '.join(found) or 'none'})"
    if error.validator == "maxProperties" and isinstance(error.instance, dict):
        return f"{where}: set only one of these fields (found: {', '.join(sorted(error.instance))})"
    if error.validator == "minProperties" and isinstance(error.instance, dict):
        return f"{where}: set one field (found none)"
    if error.validator == "pattern" and error.validator_value == _GO_DURATION:
        return f"{_path(parts)}: {error.instance!r} is not a Go duration such as 30s, 5m or 1h30m"
    if error.validator == "pattern" and error.validator_value == RETRY_INTERVAL_PATTERN:
        return (
            f"{_path(parts)}: {error.instance!r} is not a Go duration of at least "
            f"{MIN_RETRY_INTERVAL.total_seconds():g}s in h, m or s such as 30s, 5m or 1h30m"
        )
    return f"{where}: {error.message}"


def _unknown_fields(value: Any, schema: Schema, where: str) -> Iterator[str]:
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return
    if isinstance(value, dict):
        properties: Mapping[str, Schema] | None = schema.get("properties")
        extra = schema.get("additionalProperties")
        for name, item in value.items():
            here = f"{where}.{name}" if where else name
            if properties is not None and name in properties:
                yield from _unknown_fields(item, properties[name], here)
            elif isinstance(extra, Mapping):
                yield from _unknown_fields(item, extra, here)
            elif properties is not None and extra is None:
                yield f"{here}: unknown field"
    elif isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for index, item in enumerate(value):
            yield from _unknown_fields(item, schema["items"], f"{where}[{index}]")


@functools.cache
def default_schemas() -> CrdValidator:
    """The validator of the repository's deploy/crds, loaded on first use."""
    return CrdValidator.of(SchemaSet.from_crds(load_crds()))


def validate(body: Mapping[str, Any]) -> list[str]:
    """Errors of ``body`` against the repository's CRDs; empty when valid."""
    return default_schemas().validate(body)


def apply_defaults(body: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``body`` with the defaults of the repository's CRDs filled in."""
    return default_schemas().apply_defaults(body)
