"""Render AnalysisValueTemplate queries from `Analysis.spec.args` (Go `{{.name}}` form), safely.

Only the field form `{{.name}}` / `{{ .name }}` is supported -- what KLT's templates use in
practice; any other action (`{{if}}`, pipes, functions) is rejected with TemplateError rather than
rendered wrongly. A missing arg is an error (Go prints `<no value>` and sends a broken query).

Injection (README "Template args"): the template is scanned as PromQL is lexed, and each arg is
made safe for the position it stands in:

* inside `"..."` or `'...'`: backslash and that quote get a backslash; the other quote
  characters (`"`, `'`, backtick) are refused, so a string nested in another (PromQL inside
  a JSON string) cannot be left either;
* inside a raw `` `...` `` string: a backtick is refused (raw strings have no escapes);
* a string right after `=~` or `!~` (a regex matcher): the value is first escaped as Go's
  `regexp.QuoteMeta` does, so `.*` matches the two characters, not every series;
* unquoted (`[{{.window}}]`, `> {{.limit}}`, `{{.metric}}{...}`): the value must be a
  duration (`5m`, `1h30m`), a number (`0.5`, `-3`, `1e3`) or a metric-name token
  (`[a-zA-Z_:][a-zA-Z0-9_:]*`); anything else fails with TemplateError naming the arg.

Newlines and other control characters are refused everywhere. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

__all__ = ["TemplateError", "escape_value", "render_query", "template_args"]


class TemplateError(ValueError):
    """A template or arg that cannot be rendered safely."""


_ACTION: Final = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_FIELD: Final = re.compile(r"^\s*\.([A-Za-z_][A-Za-z0-9_]*)\s*$")
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")
_QUOTES: Final = "\"'`"
_REGEX_META: Final = re.compile(r"([\\.+*?()|\[\]{}^$])")
_DURATION: Final = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")
_NUMBER: Final = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$")
_TOKEN: Final = re.compile(r"^[A-Za-z_:][A-Za-z0-9_:]*$")
_REGEX_OPERATOR: Final = re.compile(r"[=!]~\s*$")


@dataclass(frozen=True, slots=True)
class _Position:
    """Where an action stands: the enclosing quote ("" = unquoted) and whether it is a regex."""

    quote: str
    regex: bool


def escape_value(value: str, quote: str = '"', *, regex: bool = False, name: str = "") -> str:
    """An arg made safe for a string in ``quote`` (``'``, ``"`` or backtick); see the module doc."""
    label = f"arg {name!r}" if name else "arg"
    if _CONTROL.search(value):
        raise TemplateError(f"{label} must not contain newlines or control characters")
    if regex:
        value = _REGEX_META.sub(r"\\\1", value)
    others = [q for q in _QUOTES if q != quote and q in value]
    if others:
        raise TemplateError(f"{label} must not contain {others[0]} inside a {quote}-quoted string")
    if quote == "`":
        if "`" in value:
            raise TemplateError(f"{label} must not contain ` inside a `-quoted string")
        return value
    return value.replace("\\", "\\\\").replace(quote, "\\" + quote)


def _unquoted(value: str, name: str) -> str:
    if any(form.fullmatch(value) for form in (_DURATION, _NUMBER, _TOKEN)):  # no newline either
        return value
    raise TemplateError(
        f"arg {name!r} stands outside quotes, so it must be a duration (5m), a number (0.5) or "
        f"a metric-name token ([a-zA-Z_:][a-zA-Z0-9_:]*), not {value!r}"
    )


def _positions(template: str) -> list[_Position]:
    """The position of every action, scanning the template's quotes as PromQL's lexer does."""
    positions: list[_Position] = []
    quote, regex, i = "", False, 0
    while i < len(template):
        action = _ACTION.match(template, i)
        if action is not None:
            positions.append(_Position(quote, regex))
            i = action.end()
            continue
        char = template[i]
        if quote:
            if char == "\\" and quote != "`":
                i += 1  # the escaped character cannot close the string
            elif char == quote:
                quote, regex = "", False
        elif char in _QUOTES:
            quote, regex = char, bool(_REGEX_OPERATOR.search(template[:i]))
        i += 1
    return positions


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
    """Substitute every `{{.name}}` with the arg, made safe for its position."""
    missing = [name for name in template_args(template) if name not in args]
    if missing:
        raise TemplateError(f"missing args: {', '.join(missing)}")
    positions = iter(_positions(template))

    def substitute(action: re.Match[str]) -> str:
        field = _FIELD.match(action.group(1))
        assert field is not None  # template_args() validated every action
        name = field.group(1)
        value = str(args[name])
        where = next(positions)
        if not where.quote:
            return _unquoted(value, name)
        return escape_value(value, where.quote, regex=where.regex, name=name)

    return _ACTION.sub(substitute, template)
