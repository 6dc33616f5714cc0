"""mypy plugin: ``body.get("key")`` on a TypedDict that declares no ``key`` is an error.

mypy checks ``body["key"]`` against a TypedDict but lets ``body.get("key")`` through with an
unknown key (it returns ``object``), which is how a mixed-up field such as ``spec.get("appName")``
on a KeptnWorkloadVersion spec (whose field is ``app``) goes unseen. With this plugin (pyproject's
``[tool.mypy] plugins``) every literal key read with ``.get`` must be declared by the typed body of
lifecycle.core.bodies; on a union of bodies, by each of them.

Only the diagnosis is added: the inferred type stays mypy's own.
"""

from __future__ import annotations

from collections.abc import Callable

from mypy.plugin import MethodContext, Plugin
from mypy.plugins.default import typed_dict_get_callback
from mypy.typeops import try_getting_str_literals
from mypy.types import Type, TypedDictType

_GET = "typing.Mapping.get"


def _checked_get(ctx: MethodContext) -> Type:
    if isinstance(ctx.type, TypedDictType) and ctx.args and len(ctx.args[0]) == 1:
        keys = try_getting_str_literals(ctx.args[0][0], ctx.arg_types[0][0]) or []
        for key in keys:
            if key not in ctx.type.items:
                ctx.api.msg.typeddict_key_not_found(ctx.type, key, ctx.context)
    return typed_dict_get_callback(ctx)


class BodiesPlugin(Plugin):
    def get_method_hook(self, fullname: str) -> Callable[[MethodContext], Type] | None:
        return _checked_get if fullname == _GET else None


def plugin(version: str) -> type[Plugin]:
    return BodiesPlugin
