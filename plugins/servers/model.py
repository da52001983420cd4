"""Server objects, ``server`` and ``default-server`` lines."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hapx.core.config.address import Address, AddressError, Ports, parse_address

from .options import NEGATIONS, SERVER_OPTIONS

DEFAULT_SERVER = "default-server"
#: negations of something on by default: the ``no-`` form is what the server keeps
KEPT_NEGATIONS = frozenset({"no-ssl-reuse", "no-tls-tickets"})


@dataclass
class Server:
    """A server of a backend: its address, its options and its load-balancing state.

    ``weight`` is the configured (initial) weight; ``uweight`` the current user weight
    (changed at run time); ``up`` the operational state balancers read.
    """

    name: str
    address: Address
    proxy: str
    file: str = ""
    line: int = 0
    options: dict[str, Any] = field(default_factory=dict)
    id: int = 0
    weight: int = 1
    uweight: int = 1
    up: bool = True

    def opt(self, name: str, default: Any = None) -> Any:
        return self.options.get(name, default)

    @property
    def backup(self) -> bool:
        return bool(self.options.get("backup"))

    @property
    def disabled(self) -> bool:
        return bool(self.options.get("disabled"))

    @property
    def check(self) -> bool:
        return bool(self.options.get("check"))

    @property
    def maxconn(self) -> int:
        return int(self.options.get("maxconn", 0))

    @property
    def maxqueue(self) -> int:
        return int(self.options.get("maxqueue", 0))

    @property
    def usable(self) -> bool:
        """Up and with a non-zero weight: eligible for load balancing."""
        return self.up and self.uweight > 0

    def describe(self) -> str:
        return f"server {self.proxy}/{self.name}"

    def __hash__(self) -> int:
        return id(self)

    def __eq__(self, other: object) -> bool:
        return self is other


def merge_options(inherited: dict[str, Any], own: dict[str, Any]) -> dict[str, Any]:
    """A server's options: the default-server ones, then its own; ``no-<x>`` cancels an
    inherited ``<x>`` and ``enabled`` cancels ``disabled``."""
    out = dict(inherited)
    for name, value in own.items():
        if name in NEGATIONS:
            out.pop(NEGATIONS[name], None)
            out.pop(name, None)
            if name in KEPT_NEGATIONS:
                out[name] = True
            continue
        if f"no-{name}" in KEPT_NEGATIONS:
            out.pop(f"no-{name}", None)
        if name == "enabled":
            out.pop("disabled", None)
            continue
        if name == "stick":
            out.pop("non-stick", None)
            continue
        out[name] = value
    return out


def parse_server_address(ctx: Any, label: str, text: str) -> Address:
    try:
        return parse_address(text, ports=Ports.OPTIONAL, relative=True, dgram_ok=True)
    except AddressError as exc:
        raise ctx.error(f"{label} : {exc}") from None


def parse_default_server(ctx: Any, args: list[str]) -> None:
    proxy = ctx.section
    opts = SERVER_OPTIONS.parse(ctx, args, f"'{DEFAULT_SERVER}'")
    proxy.settings[DEFAULT_SERVER] = merge_options(proxy.settings.get(DEFAULT_SERVER, {}),
                                                   opts)


def make_server(ctx: Any, args: list[str]) -> Server:
    proxy = ctx.section
    if len(args) < 2:
        raise ctx.error("'server' expects <name> and <addr>[:<port>] as arguments.")
    name, addr_text = args[0], args[1]
    label = f"'server {proxy.name}/{name}'"
    address = parse_server_address(ctx, label, addr_text)
    own = SERVER_OPTIONS.parse(ctx, args[2:], label)
    options = merge_options(proxy.settings.get(DEFAULT_SERVER, {}), own)
    options = {k: v for k, v in options.items() if k not in NEGATIONS or k in KEPT_NEGATIONS}
    srv = Server(name, address, proxy.name, ctx.file, ctx.line, options)
    srv.weight = srv.uweight = int(options.get("weight", 1))
    srv.up = not srv.disabled and options.get("init-state") not in ("down", "fully-down")
    return srv
