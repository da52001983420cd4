"""Backend and server switching: use_backend, default_backend, use-server, force-persist and
ignore-persist.

Once the configuration is parsed, every frontend gets ``settings["switching"]``, a callable
``strm -> backend Proxy | None``: the first use_backend rule that matches wins (a name
written as a log-format is resolved at run time; an unknown name falls back to the default),
else the default backend, else the proxy itself for a listen section; None means no backend
(the data path answers 503).  Every backend with use-server rules gets
``settings["server_switching"]`` (``strm -> server | None``), and with persistence rules
``settings["persist_decision"]`` (``strm -> "force" | "ignore" | None``).
"""

from __future__ import annotations

from typing import Any

from hapx.core.config.model import Config, Proxy
from hapx.core.errors import ConfigError
from hapx.core.hookspecs import hookimpl
from hapx.core.records import Directive, Point

_FE = frozenset({"defaults", "frontend", "listen"})
_BE = frozenset({"defaults", "backend", "listen"})
_RULES = "use_backend"
_DEFAULT = "default_backend"
_SRV_RULES = "use-server"
_PERSIST = "persist_rules"


def _split(words: list[str]) -> tuple[list[str], list[str] | None]:
    from hapx.core.sample.cond import split_condition

    return split_condition(words)


def _condition(ctx: Any, words: list[str], point: Point, what: str) -> Any:
    from hapx.core.sample.cond import compile_condition

    try:
        return compile_condition(words, ctx, point)
    except ConfigError as exc:
        raise ctx.error(f"error detected while parsing {what} : {exc.message}") from None


def _is_fmt(name: str) -> bool:
    return "%[" in name


def _no_defaults(ctx: Any) -> None:
    if ctx.section.is_defaults:
        raise ctx.error(f"'{ctx.keyword}' not allowed in 'defaults' section.")


class Target:
    """A backend named in the configuration or computed by a log-format."""

    def __init__(self, name: str, fmt: Any = None) -> None:
        self.name, self.fmt = name, fmt


def parse_use_backend(ctx: Any, args: list[str]) -> None:
    _no_defaults(ctx)
    if not args or not args[0]:
        raise ctx.error("'use_backend' expects a backend name.")
    rest, cond_words = _split(args[1:])
    if rest:
        raise ctx.error(f"unexpected keyword '{rest[0]}' after switching rule, only 'if' and "
                        "'unless' are allowed.")
    name = args[0]
    proxy = ctx.section
    cond = _condition(ctx, cond_words, Point.FE_SET_BCK, "switching rule") if cond_words \
        else None
    if _is_fmt(name):
        from hapx.core.sample.logformat import compile_logformat

        target = Target(name, compile_logformat(name, ctx, Point.FE_SET_BCK))
    else:
        target = Target(name)

        def check(config: Config) -> None:
            if config.backend(name) is None:
                raise ctx.error(f"Proxy '{proxy.name}': unable to find required use_backend: "
                                f"'{name}'.")
        ctx.defer(check)
    proxy.settings.setdefault(_RULES, []).append((cond, target))


def parse_default_backend(ctx: Any, args: list[str]) -> None:
    if not args or not args[0]:
        raise ctx.error("'default_backend' expects a backend name.")
    if len(args) > 1:
        raise ctx.error(f"'default_backend' cannot handle unexpected argument '{args[1]}'.")
    name = args[0]
    proxy = ctx.section
    proxy.settings[_DEFAULT] = name
    if proxy.is_defaults:
        return

    def check(config: Config) -> None:
        if proxy.settings.get(_DEFAULT) == name and config.backend(name) is None:
            raise ctx.error(f"Proxy '{proxy.name}': unable to find required default_backend: "
                            f"'{name}'.")
    ctx.defer(check)


def parse_use_server(ctx: Any, args: list[str]) -> None:
    _no_defaults(ctx)
    if not args or not args[0]:
        raise ctx.error("'use-server' expects a server name.")
    rest, cond_words = _split(args[1:])
    if not cond_words:
        raise ctx.error("'use-server' requires either 'if' or 'unless' followed by a "
                        "condition.")
    if rest:
        raise ctx.error(f"unexpected keyword '{rest[0]}' after switching rule, only 'if' and "
                        "'unless' are allowed.")
    name = args[0]
    proxy = ctx.section
    cond = _condition(ctx, cond_words, Point.BE_SET_SRV, "switching rule")
    if _is_fmt(name):
        from hapx.core.sample.logformat import compile_logformat

        target = Target(name, compile_logformat(name, ctx, Point.BE_SET_SRV))
    else:
        target = Target(name)

        def check(config: Config) -> None:
            if proxy.server(name) is None:
                kind = "proxy" if proxy.kind == "listen" else proxy.kind
                raise ctx.error(f"{kind} '{proxy.name}' : unable to find server '{name}' "
                                "referenced in a 'use-server' rule.")
        ctx.defer(check)
    proxy.settings.setdefault(_SRV_RULES, []).append((cond, target))


def parse_persist(ctx: Any, args: list[str]) -> None:
    _no_defaults(ctx)
    kind = ctx.keyword.split("-", 1)[0]  # force | ignore
    if not args or args[0] not in ("if", "unless"):
        raise ctx.error(f"'{ctx.keyword}' requires either 'if' or 'unless' followed by a "
                        "condition.")
    cond = _condition(ctx, args, Point.BE_SET_SRV, f"a '{ctx.keyword}' rule")
    ctx.section.settings.setdefault(_PERSIST, []).append((kind, cond))


# -- run time --------------------------------------------------------------------------------

def _matches(cond: Any, strm: Any) -> bool:
    return cond is None or bool(cond.eval(strm))


class BackendSelector:
    """``strm -> backend Proxy | None`` for one frontend."""

    def __init__(self, rules: list[tuple[Any, Any]], default: Proxy | None,
                 backends: dict[str, Proxy]) -> None:
        self.rules = rules  # (condition, Proxy or Target with a format)
        self.default = default
        self.backends = backends

    def __call__(self, strm: Any) -> Proxy | None:
        for cond, target in self.rules:
            if not _matches(cond, strm):
                continue
            if isinstance(target, Proxy):
                return target
            found = self.backends.get(target.fmt.render(strm))
            if found is not None:
                return found
            break  # an unknown dynamic name falls back to the default backend
        return self.default


class ServerSelector:
    """``strm -> server | None`` for one backend's use-server rules."""

    def __init__(self, rules: list[tuple[Any, Any]], proxy: Proxy) -> None:
        self.rules = rules
        self.proxy = proxy

    def __call__(self, strm: Any) -> Any:
        for cond, target in self.rules:
            if not _matches(cond, strm):
                continue
            if target.fmt is None:
                return self.proxy.server(target.name)
            found = self.proxy.server(target.fmt.render(strm))
            if found is not None:
                return found
        return None


class PersistDecision:
    def __init__(self, rules: list[tuple[str, Any]]) -> None:
        self.rules = rules

    def __call__(self, strm: Any) -> str | None:
        for kind, cond in self.rules:
            if _matches(cond, strm):
                return kind
        return None


def build_switching(config: Config) -> None:
    """Compile the selectors of every proxy (called once the configuration is parsed)."""
    backends = {px.name: px for px in config.proxies if px.is_backend}
    for px in config.proxies:
        if px.is_frontend:
            rules: list[tuple[Any, Any]] = []
            for cond, target in px.settings.get(_RULES, []):
                rules.append((cond, target if target.fmt is not None
                              else backends[target.name]))
            name = px.settings.get(_DEFAULT)
            default = backends.get(name) if name else None
            if name and default is None:
                config.diag.alert(f"Proxy '{px.name}': unable to find required "
                                  f"default_backend: '{name}'.", px.file, px.line)
            if default is None and px.kind == "listen":
                default = px
            px.settings["switching"] = BackendSelector(rules, default, backends)
        if px.is_backend:
            if px.settings.get(_SRV_RULES):
                px.settings["server_switching"] = ServerSelector(px.settings[_SRV_RULES], px)
            if px.settings.get(_PERSIST):
                px.settings["persist_decision"] = PersistDecision(px.settings[_PERSIST])


@hookimpl
def hapx_configure(config: Config) -> None:
    build_switching(config)


@hookimpl
def hapx_register_directives(directives: Any) -> None:
    directives.add(
        Directive("use_backend", sections=_FE, parse=parse_use_backend,
                  usage="use_backend <backend> [{if | unless} <condition>]",
                  doc="use_backend <backend> [{if | unless} <condition>]\n\nSwitch to this "
                      "backend when the condition matches; the first matching rule wins.  "
                      "A name containing %[...] is a log-format evaluated per request; an "
                      "unknown result falls back to default_backend."),
        Directive("default_backend", sections=_FE, parse=parse_default_backend,
                  usage="default_backend <backend>",
                  doc="default_backend <backend>\n\nThe backend used when no use_backend "
                      "rule matches.  Without one, such requests get a 503."),
        Directive("use-server", sections=_BE, parse=parse_use_server,
                  usage="use-server <server> {if | unless} <condition>",
                  doc="use-server <server> {if | unless} <condition>\n\nSend the request to "
                      "this server when the condition matches, bypassing load balancing."),
        Directive("force-persist", sections=_BE, parse=parse_persist,
                  usage="force-persist {if | unless} <condition>",
                  doc="force-persist {if | unless} <condition>\n\nKeep persistence to a "
                      "down server when the condition matches."),
        Directive("ignore-persist", sections=_BE, parse=parse_persist,
                  usage="ignore-persist {if | unless} <condition>",
                  doc="ignore-persist {if | unless} <condition>\n\nIgnore persistence "
                      "(cookie, stick table) when the condition matches."),
    )
