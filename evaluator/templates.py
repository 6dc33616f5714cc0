"""Render AnalysisValueTemplate queries from `Analysis.spec.args` (Go `{{.name}}` form).

Only the field form `{{.name}}` / `{{ .name }}` is supported — what KLT's templates use in
practice; any other action (`{{if}}`, pipes, functions) is rejected with TemplateError
rather than rendered wrongly. A missing arg is an error (Go prints `<no value>` and sends a
broken query).

Injection: values are escaped so an arg cannot leave the double-quoted string it sits in —
a PromQL label matcher (`job="{{.workload}}"`) or a JSON string (elastic): backslash and
double quote get a backslash; newlines and other control characters are rejected, because
PromQL strings cannot hold them unescaped and no legitimate label value needs them.
Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["TemplateError", "escape_value", "render_query", "template_args"]


class TemplateError(ValueError):
    """A template or arg that cannot be rendered safely."""


_ACTION = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_FIELD = re.compile(r"^\s*\.([A-Za-z_][A-Za-z0-9_]*)\s*$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def escape_value(value: str) -> str:
    """Escape an arg for a double-quoted PromQL/JSON string; reject control characters."""
    if _CONTROL.search(value):
        raise TemplateError("arg values must not contain newlines or control characters")
    return value.replace("\\", "\\\\").replace('"', '\\"')


def template_args(template: str) -> list[str]:
    """The arg names a template uses, in order of first use; TemplateError on other actions."""
    names: list[str] = []
    for action in _ACTION.finditer(template):
        field = _FIELD.match(action.group(1))
        if field is None:
            raise TemplateError(
                f"unsupported template action {action.group(0)!r}: only {{{{.name}}}} is allowed"
            )
        if field.group(1) not in names:
            names.append(field.group(1))
    return names


def render_query(template: str, args: Mapping[str, str]) -> str:
    """Substitute every `{{.name}}` with the escaped arg value."""
    missing = [name for name in template_args(template) if name not in args]
    if missing:
        raise TemplateError(f"missing args: {', '.join(missing)}")

    def substitute(action: re.Match[str]) -> str:
        field = _FIELD.match(action.group(1))
        assert field is not None  # template_args() validated every action
        return escape_value(str(args[field.group(1)]))

    return _ACTION.sub(substitute, template)
