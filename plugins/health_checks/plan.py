"""What a server's check does, resolved once at startup: the rule list (with HAProxy's
implicit connect, the ``option httpchk`` request and the default HTTP expect), where it
connects, its intervals and timeouts."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from . import rules as R
from .h2check import H1_NAMES, H2_NAMES

DEFAULT_INTER = 2000


@dataclass
class CheckPlan:
    """``family``: "plain" (a connection only), "http" (``option httpchk``) or "tcp"
    (``option tcp-check``)."""

    family: str
    rules: list[R.Rule]
    #: default target: ("unix", path) or ("inet", (host, port))
    target: tuple[str, Any]
    inter: int = DEFAULT_INTER
    fastinter: int = DEFAULT_INTER
    downinter: int = DEFAULT_INTER
    timeout_check: int | None = None
    timeout_connect: int | None = None
    reuse_pool: bool = False
    disable_on_404: bool = False
    log_health_checks: bool = False
    slowstart: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def interval(self, health: Any, down: bool) -> int:
        """HAProxy's ``srv_getinter``: ``inter`` when fully up, ``downinter`` when fully
        down, ``fastinter`` in between."""
        if health.health == health.rise + health.fall - 1:
            return self.inter
        if down and health.health == 0:
            return self.downinter
        return self.fastinter


class PlanError(ValueError):
    """The server's check cannot run (HAProxy's message)."""


def _http_rules(px: Any) -> list[R.Rule]:
    written = copy.deepcopy(px.settings.get("http-check") or [])
    opt = copy.deepcopy(px.settings.get("httpchk") or R.HttpRequest())
    send = R.Send(index=-1, kind="http", http=opt, from_option=True)
    first_send = next((r for r in written if isinstance(r, R.Send)), None)
    if first_send is not None and first_send.http is not None:
        R.merge_send(opt, first_send.http, getattr(first_send, "given", set()))
        send.comment = first_send.comment
        send.index = first_send.index
        written[written.index(first_send)] = send
    else:
        pos = 1 if written and isinstance(written[0], R.Connect) else 0
        written.insert(pos, send)
    if isinstance(_last_action(written), R.Send):
        written.append(R.Expect(index=R.next_index(written), match="status",
                                pattern="200-399", codes=[(200, 399)], http=True,
                                implicit=True))
    return written


def _last_action(rules: list[R.Rule]) -> R.Rule | None:
    for r in reversed(rules):
        if not isinstance(r, R.Comment):
            return r
    return None


def _propagate_comments(rules: list[R.Rule]) -> list[R.Rule]:
    """A ``comment`` rule names the rules of the same action that follow it (HAProxy
    removes comment rules after parsing and gives their text to those rules)."""
    out: list[R.Rule] = []
    comment: str | None = None
    prev: type | None = None
    for r in rules:
        if type(r) is not prev and prev is not R.Comment:
            comment = None
        prev = type(r)
        if isinstance(r, R.Comment):
            comment = r.comment
            continue
        if comment and not r.comment:
            r.comment = comment
        if isinstance(r, R.Connect):
            comment = None
        out.append(r)
    return out


def build_rules(px: Any) -> tuple[str, list[R.Rule]]:
    kind = px.settings.get("check-type")
    if kind == "httpchk":
        family, rules = "http", _http_rules(px)
    elif kind == "tcp-check":
        family, rules = "tcp", copy.deepcopy(px.settings.get("tcp-check") or [])
    else:
        family, rules = "plain", []
    rules = _propagate_comments(rules)
    if not rules or not isinstance(rules[0], R.Connect):
        rules.insert(0, R.Connect(index=0, default=True, implicit=True))
    return family, rules


def server_target(srv: Any, port_opt: int | None, addr_opt: Any) -> tuple[str, Any] | None:
    """Where checks connect by default: ``addr``/``port`` options, else the server's
    address; None when no port is known."""
    a = srv.address
    if addr_opt is None and a.family in ("unix", "abns", "abnsz"):
        return "unix", a.sockaddr()
    host = str(addr_opt) if addr_opt is not None else (
        str(a.ip) if a.ip is not None else a.host)
    port = port_opt or (a.port if a.port_offset is None else None)
    if not port:
        return None
    return "inet", (host, port)


def build_plan(srv: Any, px: Any) -> CheckPlan:
    family, rules = build_rules(px)
    target = server_target(srv, srv.opt("port"), srv.opt("addr"))
    first = rules[0]
    if target is None and not (isinstance(first, R.Connect) and first.port):
        raise PlanError(f"config: {px.kind} '{px.name}': server '{srv.name}' has neither "
                        "service port nor check port.")
    if target is None:
        a = srv.address
        host = str(srv.opt("addr") or a.ip or a.host)
        target = ("inet", (host, 0))
    proto = srv.opt("check-proto")
    if proto and proto not in H1_NAMES + H2_NAMES:
        raise PlanError(f"config: {px.kind} '{px.name}': server '{srv.name}': "
                        f"'check-proto {proto}': health checks speak h1 or h2 here.")
    h2 = (proto or srv.opt("proto")) in H2_NAMES or "h2" in (srv.opt("alpn") or ())
    inter = int(srv.opt("inter") or DEFAULT_INTER)
    explicit_connect = any(isinstance(r, R.Connect) and not r.implicit for r in rules)
    # (the pool's idle connections are HTTP/1 ones: an h2 check opens its own)
    reuse = bool(srv.opt("check-reuse-pool")) and family == "http" and not (
        srv.opt("port") or srv.opt("addr") or explicit_connect or h2)
    return CheckPlan(
        family=family, rules=rules, target=target, inter=inter,
        fastinter=int(srv.opt("fastinter") or inter),
        downinter=int(srv.opt("downinter") or inter),
        timeout_check=px.timeouts.get("check"), timeout_connect=px.timeouts.get("connect"),
        reuse_pool=reuse,
        disable_on_404=bool(px.settings.get("http-check disable-on-404")),
        log_health_checks=bool(px.options.get("log-health-checks")),
        slowstart=int(srv.opt("slowstart") or 0))
