"""``balance`` and the directives that tune or bypass load balancing (hash-type, cookie,
persist rdp-cookie, dispatch...)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from hapx.core.config.address import AddressError, parse_address
from hapx.core.config.model import BE_PROXIES
from hapx.core.errors import did_you_mean
from hapx.core.records import Balancer, Directive
from hapx.plugins.confkit import parse_positional, v_choice, v_time

DEFAULT_ALGORITHM = "roundrobin"


@dataclass
class BalanceSetting:
    """What ``balance`` stored in ``proxy.settings["balance"]``."""

    name: str
    record: Balancer
    settings: Any
    param: str | None = None

    def build(self, backend: Any) -> Any:
        if self.record.build is None:
            return None
        return self.record.build(backend, self.settings)


def find_balancer(registry: Any, word: str) -> tuple[Balancer | None, str | None]:
    """The record for ``roundrobin`` or ``hdr(host)`` (parameter in parentheses)."""
    rec = registry.balancer(word)
    if rec is not None:
        return rec, None
    m = re.fullmatch(r"([a-z_-]+)\((.*)\)", word)
    if m:
        return registry.balancer(m.group(1)), m.group(2)
    return None, None


def parse_balance(ctx: Any, args: list[str]) -> None:
    if not args:
        raise ctx.error("'balance' expects an algorithm name.")
    word = args[0]
    rec, param = find_balancer(ctx.registry, word)
    if rec is None:
        names = ctx.registry.names(Balancer)
        raise ctx.error(f"unknown balance algorithm '{word}'"
                        f"{did_you_mean(word.split('(')[0], names)} (known: "
                        f"{', '.join(names)}).")
    sub = ctx.sub(f"balance {rec.name}", args[1:])
    sub.param = param
    settings = rec.parse(sub, args[1:])
    ctx.section.settings["balance"] = BalanceSetting(rec.name, rec, settings, param)
    if not rec.active:
        ctx.mark_inactive(f"balance {rec.name}", "balance algorithm", rec.owner)


def balance_of(proxy: Any, registry: Any) -> BalanceSetting | None:
    """The proxy's algorithm, or the default one (roundrobin) when none was written."""
    found = proxy.settings.get("balance")
    if found is not None:
        return found
    rec = registry.balancer(DEFAULT_ALGORITHM)
    return BalanceSetting(rec.name, rec, rec.parse(None, [])) if rec is not None else None


# -- hash tuning -----------------------------------------------------------------------------

HASH_METHODS = ("map-based", "consistent")
HASH_FUNCTIONS = ("sdbm", "djb2", "wt6", "crc32", "none")


def parse_hash_type(ctx: Any, args: list[str]) -> None:
    if not args or len(args) > 3:
        raise ctx.error("'hash-type' expects <method> [<function>] [<modifier>] (method "
                        "'map-based' or 'consistent').")
    method = args[0]
    if method not in HASH_METHODS:
        raise ctx.error(f"'hash-type' : unknown method '{method}'"
                        f"{did_you_mean(method, HASH_METHODS)} (expects 'map-based' or "
                        "'consistent').")
    function = "sdbm"
    modifier = "avalanche" if method == "consistent" and len(args) == 1 else None
    if len(args) > 1:
        function = args[1]
        if function not in HASH_FUNCTIONS:
            raise ctx.error(f"'hash-type' : unknown function '{function}'"
                            f"{did_you_mean(function, HASH_FUNCTIONS)} (expects one of "
                            f"{', '.join(HASH_FUNCTIONS)}).")
    if len(args) > 2:
        if args[2] != "avalanche":
            raise ctx.error(f"'hash-type' : unknown modifier '{args[2]}' (only "
                            "'avalanche').")
        modifier = "avalanche"
    ctx.section.settings["hash-type"] = {"method": method, "function": function,
                                         "avalanche": modifier == "avalanche"}


def parse_hash_balance_factor(ctx: Any, args: list[str]) -> None:
    if len(args) != 1 or not args[0].isdigit():
        raise ctx.error("'hash-balance-factor' expects an integer argument.")
    value = int(args[0])
    if value != 0 and value <= 100:
        raise ctx.error("'hash-balance-factor' must be 0 or greater than 100.")
    ctx.section.settings["hash-balance-factor"] = value


def parse_hash_preserve_affinity(ctx: Any, args: list[str]) -> None:
    (value,) = parse_positional(ctx, args, [v_choice("always", "maxconn", "maxqueue")],
                                usage="always|maxconn|maxqueue")
    ctx.section.settings["hash-preserve-affinity"] = value


# -- persistence ------------------------------------------------------------------------------

_COOKIE_FLAGS = ("rewrite", "insert", "prefix", "indirect", "nocache", "postonly", "preserve",
                 "httponly", "secure", "dynamic")
_COOKIE_MODES = ("rewrite", "insert", "prefix")


def parse_cookie(ctx: Any, args: list[str]) -> None:
    if not args:
        raise ctx.error("'cookie' expects <cookie_name> as argument.")
    out: dict[str, Any] = {"name": args[0], "flags": set(), "domains": [], "attrs": []}
    i = 1
    while i < len(args):
        word = args[i]
        if word in _COOKIE_FLAGS:
            out["flags"].add(word)
            i += 1
            continue
        if word in ("domain", "maxidle", "maxlife", "attr"):
            if i + 1 >= len(args):
                raise ctx.error(f"'cookie' : '{word}' expects a value.")
            value = args[i + 1]
            if word == "domain":
                if not value.startswith(".") and "." not in value:
                    ctx.warning(f"'cookie' : domain '{value}' contains no embedded dot nor "
                                "does it start with a dot. RFC 2109 says such a cookie may "
                                "be rejected by the client.")
                out["domains"].append(value)
            elif word == "attr":
                if ";" in value:
                    raise ctx.error("'cookie' : ';' is not allowed in 'attr' values.")
                out["attrs"].append(value)
            else:
                try:
                    out[word] = v_time("s")(value)
                except ValueError as exc:
                    raise ctx.error(f"'cookie' : '{word}' : {exc}") from None
            i += 2
            continue
        raise ctx.error(f"'cookie' supports 'rewrite', 'insert', 'prefix', 'indirect', "
                        f"'nocache', 'postonly', 'domain', 'maxidle', 'maxlife', 'dynamic' "
                        f"and 'attr' options (got '{word}'){did_you_mean(word, _COOKIE_FLAGS)}.")
    modes = out["flags"] & set(_COOKIE_MODES)
    if len(modes) > 1:
        raise ctx.error("'cookie' : 'rewrite', 'insert' and 'prefix' are mutually exclusive.")
    if "postonly" in out["flags"] and "insert" not in out["flags"]:
        raise ctx.error("'cookie' : 'postonly' option is only possible with 'insert'.")
    ctx.section.settings["cookie"] = out


def parse_persist(ctx: Any, args: list[str]) -> None:
    word = args[0] if args else ""
    m = re.fullmatch(r"rdp-cookie(?:\(([^)]*)\))?", word)
    if not m or len(args) != 1:
        raise ctx.error("'persist' only supports 'rdp-cookie[(<name>)]'.")
    ctx.section.settings["persist"] = {"rdp-cookie": m.group(1) or "msts"}


def parse_dispatch(ctx: Any, args: list[str]) -> None:
    if len(args) != 1:
        raise ctx.error("'dispatch' expects exactly one <address>:<port> argument.")
    try:
        ctx.section.settings["dispatch"] = parse_address(args[0])
    except AddressError as exc:
        raise ctx.error(f"'dispatch' : {exc}") from None


def balance_directives() -> list[Directive]:
    be = BE_PROXIES
    return [
        Directive("balance", sections=be, parse=parse_balance,
                  usage="balance <algorithm> [<arguments>]",
                  doc="balance <algorithm> [<arguments>]\n\nThe load-balancing algorithm of "
                      "the backend (default roundrobin); see 'hapx doc balance' for the "
                      "algorithms.  Inherited from defaults."),
        Directive("hash-type", sections=be, parse=parse_hash_type,
                  doc="hash-type <map-based|consistent> [sdbm|djb2|wt6|crc32|none] "
                      "[avalanche]\n\nHow hash-based algorithms (source, uri, url_param, hdr, "
                      "rdp-cookie, hash) map keys to servers.  map-based (default): a static "
                      "table of the servers repeated by weight, indexed by hash modulo the "
                      "total weight (any change remaps most keys).  consistent: a ring with "
                      "16 points per weight unit, the closest point wins (a change only "
                      "moves the keys of the server concerned; weights are dynamic).  The "
                      "function is sdbm (default), djb2, wt6, crc32 or none (the key read as "
                      "a number); 'avalanche' mixes the result.  'consistent' alone means "
                      "sdbm with avalanche."),
        Directive("hash-balance-factor", sections=be, parse=parse_hash_balance_factor,
                  doc="hash-balance-factor <factor>\n\nBounded-load consistent hashing "
                      "(and random): a server whose streams would exceed <factor>/100 times "
                      "its weighted share of the backend's streams is skipped and the ring "
                      "walked to the next one.  0 (default) disables it, otherwise > 100; "
                      "125 to 200 are reasonable."),
        Directive("hash-preserve-affinity", sections=be, parse=parse_hash_preserve_affinity,
                  doc="hash-preserve-affinity { always | maxconn | maxqueue }\n\nWhat "
                      "consistent hashing does with saturated servers (3.2).  always "
                      "(default): the hashed server, whatever its load.  maxconn: a server "
                      "with maxconn that serves as many streams is skipped, walking the "
                      "ring.  maxqueue: a server whose queue is full (maxconn and maxqueue "
                      "set, maxqueue requests waiting) is skipped.  When every server is "
                      "skipped, the one before the first choice on the ring is used."),
        Directive("cookie", sections=be, parse=parse_cookie, active=False,
                  doc="cookie <name> [ rewrite | insert | prefix ] [ indirect ] [ nocache ] "
                      "[ postonly ] [ preserve ] [ httponly ] [ secure ] [ domain <domain> ]* "
                      "[ maxidle <idle> ] [ maxlife <life> ] [ dynamic ] [ attr <value> ]*\n\n"
                      "Cookie-based server persistence."),
        Directive("persist", sections=be, parse=parse_persist, active=False,
                  doc="persist rdp-cookie[(<name>)]\n\nPersistence on the RDP cookie "
                      "(default name msts)."),
        Directive("dispatch", sections=frozenset({"backend", "listen"}), parse=parse_dispatch,
                  active=False,
                  doc="dispatch <address>:<port>\n\nSend every connection to this address "
                      "(legacy; a backend without servers)."),
    ]
