"""Bind objects and the parsing of a ``bind`` line (shared with log-forward, peers and the
stats socket, which take the same options)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from hapx.core.config.address import Address, AddressError, parse_address, split_address_list
from hapx.plugins.confkit import resolve_path

from .options import BIND_OPTIONS

BIND_USAGE = "{<path>|[addr1]:port1[-end1]}{,[addr]:port[-end]}..."

#: config.ext key where the crt-store plugin publishes the certificate references it knows
CRT_REFS = "crt_store"


@dataclass
class Bind:
    """One listener: an address with one port, and the options of its line."""

    address: Address
    written: str
    proxy: str
    file: str
    line: int
    options: dict[str, Any] = field(default_factory=dict)
    #: the ssl.SSLContext accepted connections are wrapped in (set by the TLS plugin)
    ssl_context: Any = None
    #: the TLS plugin's view of the bind (certificates by SNI)
    tls: Any = None

    def opt(self, name: str, default: Any = None) -> Any:
        return self.options.get(name, default)

    @property
    def name(self) -> str | None:
        return self.options.get("name")

    @property
    def ssl(self) -> bool:
        return bool(self.options.get("ssl"))

    @property
    def maxconn(self) -> int:
        return int(self.options.get("maxconn", 0))

    @property
    def transport(self) -> str:
        return self.address.transport

    def describe(self) -> str:
        return f"bind {self.written} at [{self.file}:{self.line}]"


def _crt_base(ctx: Any) -> str | None:
    base = ctx.config.global_.settings.get("crt-base")
    return base if isinstance(base, str) else None


def check_crt(ctx: Any, label: str, ref: str) -> None:
    """A certificate must exist: a crt-store entry (``@store/name``) or a readable file."""
    known = ctx.config.ext.get(CRT_REFS, {}).get("refs", set())
    if ref.startswith("@"):
        if ref not in known:
            raise ctx.error(f"{label} : certificate '{ref}' is not declared in a crt-store "
                            "section (a store entry must be declared before use).")
        return
    if ref in known:
        return
    path = resolve_path(ctx, ref, _crt_base(ctx))
    if not os.path.exists(path):
        raise ctx.error(f"{label} : unable to stat SSL certificate from file '{path}' : No "
                        "such file or directory.")


def parse_bind_words(ctx: Any, args: list[str], *, keyword: str = "bind",
                     dgram: bool = False, allowed: set[str] | None = None) -> list[Bind]:
    """Parse ``<addr>[,<addr>...] [options]``: one Bind per address and port.  ``dgram``
    lines take datagram addresses only (``dgram-bind``)."""
    if not args or args[0] == "":
        raise ctx.error(f"'{keyword}' expects {BIND_USAGE} as arguments.")
    written = args[0]
    label = f"'{keyword} {written}' in section '{ctx.section_kind}'"
    try:
        addresses = [parse_address(word, ranges=True, resolve=True, dgram_ok=dgram,
                                   stream_ok=not dgram,
                                   default_transport="dgram" if dgram else "stream")
                     for word in split_address_list(written)]
    except AddressError as exc:
        raise ctx.error(f"'{keyword}' : {exc}") from None
    options = BIND_OPTIONS.parse(ctx, args[1:], label, allowed)
    if "process" in options:
        ctx.warning(f"{label} : 'process {options['process']}' on 'bind' lines is deprecated "
                    "and ignored (hapx runs one process).")
    for ref in options.get("crt", []):
        check_crt(ctx, label, ref)
    for ref in options.get("crt-list", []):
        if not os.path.exists(resolve_path(ctx, ref)):
            raise ctx.error(f"{label} : unable to open crt-list file '{ref}'.")
    if "v4v6" in options and "v6only" in options:
        raise ctx.error(f"{label} : 'v4v6' and 'v6only' are mutually exclusive.")
    for addr in addresses:
        if addr.transport == "quic" and not options.get("ssl"):
            raise ctx.error(f"{label} : QUIC listeners need the 'ssl' keyword and a "
                            "certificate (ALPN h3).")
    binds: list[Bind] = []
    for addr in addresses:
        ports = addr.ports if addr.is_ip and addr.port is not None else [None]
        for port in ports:
            one = addr.with_port(port) if port is not None else addr
            binds.append(Bind(one, written, getattr(ctx.section, "name", ""), ctx.file,
                              ctx.line, dict(options)))
    return binds
