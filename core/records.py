"""Typed registration records.

Every keyword hapx knows is one of these frozen records, built by a plugin and handed to the
registry from a ``hapx_register_*`` hook.  A record declares its name, its arguments and
their types, its output type, where it may be used and its documentation, so the kernel can
check a whole configuration before anything runs.  The registry stamps each record with the
plugin that registered it (``owner``).

Records hold plain callables: the configuration is compiled once into closures over them, and
the per-request path never goes back to the registry or to a pluggy hook.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum, IntEnum, IntFlag
from typing import Any


class SmpType(IntEnum):
    """Sample types, as HAProxy has them.  ``ADDR`` and ``ANY`` appear only in signatures;
    ``SAME`` only as a converter's output type (the output type is the input type)."""

    ANY = 0
    BOOL = 1
    SINT = 2
    ADDR = 3
    IPV4 = 4
    IPV6 = 5
    STR = 6
    BIN = 7
    METH = 8
    SAME = 9

    @property
    def label(self) -> str:
        return _SMP_LABELS[self]


_SMP_LABELS = {
    SmpType.ANY: "any", SmpType.BOOL: "boolean", SmpType.SINT: "integer", SmpType.ADDR: "addr",
    SmpType.IPV4: "ipv4", SmpType.IPV6: "ipv6", SmpType.STR: "string", SmpType.BIN: "binary",
    SmpType.METH: "method", SmpType.SAME: "same",
}


class ArgType(Enum):
    """Types of the arguments of fetches, converters and other keywords (HAProxy's ARGT_*)."""

    STR = "string"
    SINT = "integer"
    TIME = "time"
    SIZE = "size"
    IPV4 = "ipv4"
    IPV6 = "ipv6"
    MSK4 = "ipv4 mask"
    MSK6 = "ipv6 mask"
    REGEX = "regex"
    VAR = "variable"
    BACKEND = "backend"
    FRONTEND = "frontend"
    SERVER = "server"
    TABLE = "table"
    USERLIST = "userlist"
    PATREF = "pattern reference"


@dataclass(frozen=True)
class Arg:
    """One argument of a fetch or converter.

    ``optional`` arguments may be left out from the end of the list; ``default`` is then
    passed instead.  ``choices`` restricts a string argument to a set of words.  A numeric
    argument with ``var_ok`` may instead name a variable (``add(txn.x)``).
    """

    name: str
    type: ArgType = ArgType.STR
    optional: bool = False
    default: Any = None
    choices: tuple[str, ...] | None = None
    var_ok: bool = False


class Use(IntFlag):
    """What data a fetch reads (HAProxy's SMP_USE_*).  The points of use follow from it."""

    INTERNAL = 1 << 0  # nothing from the stream: usable anywhere
    L4CLI = 1 << 1  # the client connection (addresses, ports)
    L5CLI = 1 << 2  # the client session (TLS, PROXY protocol)
    L6REQ = 1 << 3  # the request buffer contents (tcp-request content)
    HTTP_REQ = 1 << 4  # request line and headers
    HTTP_REQ_BODY = 1 << 5  # request body
    BACKEND = 1 << 6  # the chosen backend
    SERVER = 1 << 7  # the chosen server
    L4SRV = 1 << 8  # the server connection
    L5SRV = 1 << 9  # the server session (TLS)
    L6RES = 1 << 10  # the response buffer contents (tcp-response content)
    HTTP_RES = 1 << 11  # status line and response headers
    HTTP_RES_BODY = 1 << 12  # response body
    TXN_END = 1 << 13  # transaction results known only when logging (timers, status...)


class Point(IntFlag):
    """The places where a sample can be evaluated (HAProxy's SMP_VAL_*)."""

    FE_CON_ACC = 1 << 0  # tcp-request connection
    FE_SES_ACC = 1 << 1  # tcp-request session
    FE_REQ_CNT = 1 << 2  # frontend tcp-request content
    FE_HRQ_HDR = 1 << 3  # frontend http-request
    FE_HRQ_BDY = 1 << 4  # frontend request body analysis
    FE_SET_BCK = 1 << 5  # use_backend
    BE_REQ_CNT = 1 << 6  # backend tcp-request content
    BE_HRQ_HDR = 1 << 7  # backend http-request
    BE_HRQ_BDY = 1 << 8  # backend request body analysis
    BE_SET_SRV = 1 << 9  # use-server, balance, stick rules on request
    BE_SRV_CON = 1 << 10  # server connection setup (sni, source)
    BE_RES_CNT = 1 << 11  # tcp-response content
    BE_HRS_HDR = 1 << 12  # backend http-response
    BE_HRS_BDY = 1 << 13  # backend response body analysis
    BE_STO_RUL = 1 << 14  # stick store-response
    FE_RES_CNT = 1 << 15  # frontend tcp-response content
    FE_HRS_HDR = 1 << 16  # frontend http-response / http-after-response
    FE_HRS_BDY = 1 << 17  # frontend response body analysis
    FE_LOG_END = 1 << 18  # log-format at end of stream
    BE_CHK_RUL = 1 << 19  # health check rules
    CFG_PARSER = 1 << 20  # at configuration time (constant expressions)
    CLI_PARSER = 1 << 21  # runtime API


ALL_POINTS = Point(sum(p.value for p in Point))


class RuleSet(str, Enum):  # noqa: UP042 - str() stays the member name
    """Rule sets that take actions."""

    TCP_REQ_CONN = "tcp-request connection"
    TCP_REQ_SESS = "tcp-request session"
    TCP_REQ_CONT = "tcp-request content"
    TCP_RES_CONT = "tcp-response content"
    HTTP_REQ = "http-request"
    HTTP_RES = "http-response"
    HTTP_AFTER_RES = "http-after-response"
    TCP_CHECK = "tcp-check"
    HTTP_CHECK = "http-check"


class ActResult(IntEnum):
    """What an action tells the rule engine (HAProxy's ACT_RET_*)."""

    CONT = 0  # go on with the next rule
    STOP = 1  # stop this rule set, go on processing (allow, accept)
    YIELD = 2  # come back later (waiting for data or time)
    DENY = 3  # deny the request or response
    ABORT = 4  # abort the stream without a response
    DONE = 5  # processing finished (a response was produced: return, redirect)
    ERROR = 6  # internal error
    INVALID = 7  # the request is invalid


class ActionRule:
    """The parsed form of one rule's action.  ``run`` is called on the per-request path."""

    #: A final action ends evaluation of the rule set (allow, deny, return, ...).
    final: bool = False

    def run(self, strm: Any) -> ActResult:  # pragma: no cover - the interface
        raise TypeError(f"{type(self).__name__} defines no run()")

    def check(self, config: Any) -> None:
        """Called once the whole configuration is parsed; raise ConfigError on problems."""

    def release(self) -> None:
        """Called when the configuration is dropped."""


# --------------------------------------------------------------------------------------------
# Records

def _doc_summary(doc: str) -> str:
    return doc.strip().splitlines()[0] if doc.strip() else ""


@dataclass(frozen=True)
class Record:
    """Fields shared by every registration."""

    name: str
    doc: str = field(default="", kw_only=True)
    #: False for keywords that parse and validate their arguments but whose runtime comes in
    #: a later version: ``hapx -c`` lists them and hapx refuses to carry traffic with them.
    active: bool = field(default=True, kw_only=True)
    owner: str = field(default="", kw_only=True, compare=False)

    @property
    def summary(self) -> str:
        return _doc_summary(self.doc)

    #: a word describing the record class in listings and errors
    kind: str = field(default="keyword", init=False, repr=False, compare=False)


@dataclass(frozen=True)
class Section(Record):
    """A configuration section keyword.

    ``parse_header(ctx, args)`` runs on the section's opening line and returns the object the
    section's directives receive as ``ctx.section``; ``post_section(ctx, obj)`` runs when the
    section ends.  ``proxy`` marks the sections that declare proxies.
    """

    parse_header: Callable[..., Any] = None  # type: ignore[assignment]
    post_section: Callable[..., None] | None = None
    kind: str = field(default="section", init=False, repr=False, compare=False)


@dataclass(frozen=True)
class Directive(Record):
    """A configuration keyword, possibly of several words (``timeout client``,
    ``option httplog``, ``stats socket``), valid in the given section kinds.

    ``parse(ctx, args)`` receives the words after the keyword.  ``negatable`` keywords accept
    the ``no`` and ``default`` prefixes (``ctx.prefix`` tells which).  ``usage`` is shown in
    argument errors.
    """

    sections: frozenset[str] = frozenset()
    parse: Callable[..., None] = None  # type: ignore[assignment]
    negatable: bool = False
    usage: str = ""
    kind: str = field(default="directive", init=False, repr=False, compare=False)


@dataclass(frozen=True)
class Fetch(Record):
    """A sample fetch method.

    ``process(args, strm)`` returns a :class:`~hapx.core.sample.types.Sample` or None (no
    sample).  ``values(args, strm)``, when given, yields every value of a multi-valued fetch
    (ACLs try each).  ``validate(args, ctx)`` checks or resolves arguments at parse time and
    may return replacement args.
    """

    process: Callable[..., Any] = None  # type: ignore[assignment]
    out_type: SmpType = SmpType.STR
    args: tuple[Arg, ...] = ()
    uses: Use = Use.INTERNAL
    validate: Callable[..., Any] | None = None
    values: Callable[..., Any] | None = None
    kind: str = field(default="fetch", init=False, repr=False, compare=False)


@dataclass(frozen=True)
class Converter(Record):
    """A sample converter: ``process(args, sample, strm)`` returns a Sample or None."""

    process: Callable[..., Any] = None  # type: ignore[assignment]
    in_type: SmpType = SmpType.STR
    out_type: SmpType = SmpType.SAME
    args: tuple[Arg, ...] = ()
    validate: Callable[..., Any] | None = None
    kind: str = field(default="converter", init=False, repr=False, compare=False)


@dataclass(frozen=True)
class AclKeyword(Record):
    """An ACL-only keyword derived from a fetch with an implied match method
    (``path_beg`` is ``path -m beg``).  ``args`` apply to the fetch."""

    fetch: str = ""
    match: str = "str"
    kind: str = field(default="acl keyword", init=False, repr=False, compare=False)


@dataclass(frozen=True)
class PredefinedAcl(Record):
    """A named ACL that exists without declaration (``LOCALHOST``, ``METH_GET``...):
    ``criterion`` and ``patterns`` as they would be written after ``acl <name>``."""

    criterion: tuple[str, ...] = ()
    kind: str = field(default="predefined acl", init=False, repr=False, compare=False)


@dataclass(frozen=True)
class LogAlias(Record):
    """A ``%xx`` alias of the log-format language.  Either ``fetch`` (an expression whose
    value is printed) or ``render(strm, options) -> str | None``.

    ``inline`` (optional, with ``render``): a Python expression over ``strm`` whose value
    is what ``render(strm, options)`` returns, which the log-format compiler may write into
    the generated function of a format in place of the call; the other names it uses are
    given by ``inline_env`` (names starting with ``_``).  ``inline_text``: that expression
    always gives a non-empty str without NUL (a number's text), printed without checking.
    With ``fetch``, ``inline`` may give the text printed in the common case, or None to
    evaluate the fetch."""

    fetch: str | None = None
    render: Callable[..., Any] | None = None
    uses: Use = Use.TXN_END
    inline: str | None = None
    inline_env: dict[str, Any] | None = field(default=None, compare=False, repr=False)
    inline_text: bool = False
    kind: str = field(default="log-format alias", init=False, repr=False, compare=False)


@dataclass(frozen=True)
class Action(Record):
    """An action for one or more rule sets.

    ``parse(ctx, args)`` receives the words after the action keyword (the condition is
    already removed) and returns an :class:`ActionRule`.  ``takes_param`` actions are written
    with a parenthesized parameter (``set-var(txn.x)``, ``sc-inc-gpc(0,1)``); ``ctx.param``
    holds it.
    """

    rulesets: frozenset[RuleSet] = frozenset()
    parse: Callable[..., ActionRule] = None  # type: ignore[assignment]
    takes_param: bool = False
    kind: str = field(default="action", init=False, repr=False, compare=False)


@dataclass(frozen=True)
class Balancer(Record):
    """A load-balancing algorithm (``balance <name> [args]``).

    ``parse(ctx, args)`` validates the arguments and returns the algorithm's settings;
    ``build(backend, settings)`` makes the per-backend picker with ``pick(strm)`` and
    ``server_up/server_down/set_weight`` callbacks.
    """

    parse: Callable[..., Any] = None  # type: ignore[assignment]
    build: Callable[..., Any] | None = None
    kind: str = field(default="balance algorithm", init=False, repr=False, compare=False)


@dataclass(frozen=True)
class Filter(Record):
    """A stream filter (``filter <name> [args]``).  ``parse(ctx, args)`` returns a config
    object; ``ops`` is the class whose defined methods get wired in."""

    parse: Callable[..., Any] = None  # type: ignore[assignment]
    ops: type | None = None
    kind: str = field(default="filter", init=False, repr=False, compare=False)


@dataclass(frozen=True)
class Service(Record):
    """An applet reachable through ``use-service <name>``; ``modes`` is {"http"}, {"tcp"} or
    both.  ``factory(ctx, args)`` returns the applet."""

    modes: frozenset[str] = frozenset({"http"})
    factory: Callable[..., Any] | None = None
    kind: str = field(default="service", init=False, repr=False, compare=False)


@dataclass(frozen=True)
class CliCommand(Record):
    """A runtime API command.  ``name`` is the words joined by spaces; ``handler(ctx, args)``
    produces the output.  ``level`` is the minimum level: user, operator or admin."""

    words: tuple[str, ...] = ()
    usage: str = ""
    level: str = "admin"
    handler: Callable[..., Any] | None = None
    kind: str = field(default="runtime command", init=False, repr=False, compare=False)


@dataclass(frozen=True)
class Codec(Record):
    """A protocol codec: ``protocol`` is "h1" (later "h2", "h3"); ``factory(**options)``
    returns a parser object for one connection (see :mod:`hapx.core.proto`).  A global
    directive chooses which registered codec a protocol uses."""

    protocol: str = "h1"
    factory: Callable[..., Any] | None = None
    kind: str = field(default="codec", init=False, repr=False, compare=False)


@dataclass(frozen=True)
class Subcommand(Record):
    """A ``hapx <name> ...`` command-line subcommand (``hapx plugins`` and ``hapx doc`` are
    the kernel's).  ``setup(parser)`` adds its arguments to an
    :class:`argparse.ArgumentParser`; ``run(args, out)`` does the work, writing to the text
    stream ``out``, and returns the exit status."""

    setup: Callable[..., None] | None = None
    run: Callable[..., int] = None  # type: ignore[assignment]
    kind: str = field(default="subcommand", init=False, repr=False, compare=False)


@dataclass(frozen=True)
class Feature(Record):
    """A build feature for ``-vv``'s ``Feature list`` and ``feature()`` conditions."""

    enabled: bool = True
    kind: str = field(default="feature", init=False, repr=False, compare=False)


RECORD_TYPES: tuple[type[Record], ...] = (
    Section, Directive, Fetch, Converter, AclKeyword, PredefinedAcl, LogAlias, Action,
    Balancer, Filter, Service, CliCommand, Codec, Subcommand, Feature,
)
