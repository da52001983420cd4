"""add-acl, del-acl, set-map and del-map: change a pattern list at run time."""

from __future__ import annotations

from typing import Any

from hapx.core.errors import ConfigError
from hapx.core.records import Action, ActionRule, ActResult

from .common import ALL_SETS, at_least, compile_fmt


class PatternAction(ActionRule):
    """``op`` is add-acl, del-acl, set-map or del-map; ``ref`` is resolved once the whole
    configuration is parsed (the list may be declared by a later ACL or map)."""

    def __init__(self, op: str, key: Any, value: Any) -> None:
        self.op, self.key, self.value = op, key, value
        self.ref: Any = None

    def run(self, strm: Any) -> ActResult:
        ref = self.ref
        if ref is None:
            return ActResult.CONT
        key = self.key.render(strm)
        if self.op == "add-acl":
            if not ref.find(key):
                ref.add(key)
        elif self.op == "set-map":
            value = self.value.render(strm)
            if not ref.set(key, value):
                ref.add(key, value)
        else:
            ref.delete(key)
        return ActResult.CONT


def _parser(op: str) -> Any:
    nargs = 2 if op == "set-map" else 1

    def parse(ctx: Any, args: list[str]) -> ActionRule:
        name = ctx.param
        if not name:
            raise ctx.error(f"'{op}' expects a file name between parenthesis")
        if len(args) < nargs:
            raise ctx.error(f"expects exactly {nargs} arguments")
        at_least(ctx, args, nargs)
        action = PatternAction(op, compile_fmt(ctx, args[0]),
                               compile_fmt(ctx, args[1]) if nargs == 2 else None)
        kind = "map" if op.endswith("map") else "acl"

        def resolve(config: Any) -> None:
            ref = config.patterns.get(name)
            if ref is None:
                try:
                    ref = config.patterns.load(name, ctx, kind=kind)
                except ConfigError as exc:
                    raise ctx.error(f"{ctx.keyword}({name}): {exc.message}") from None
            action.ref = ref
        ctx.defer(resolve)
        return action
    return parse


ACTIONS = [
    Action("add-acl", rulesets=ALL_SETS, parse=_parser("add-acl"), takes_param=True,
           doc="add-acl(<file-name>) <key fmt>\n\nAdd the key to the ACL pattern list "
               "unless it is already there."),
    Action("del-acl", rulesets=ALL_SETS, parse=_parser("del-acl"), takes_param=True,
           doc="del-acl(<file-name>) <key fmt>\n\nRemove the key from the ACL pattern list."),
    Action("set-map", rulesets=ALL_SETS, parse=_parser("set-map"), takes_param=True,
           doc="set-map(<file-name>) <key fmt> <value fmt>\n\nSet the value of the key in "
               "the map, adding the entry when missing."),
    Action("del-map", rulesets=ALL_SETS, parse=_parser("del-map"), takes_param=True,
           doc="del-map(<file-name>) <key fmt>\n\nRemove the key from the map."),
]
