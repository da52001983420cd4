"""The proxy keywords of health checks: ``option httpchk``, ``option tcp-check``,
``http-check <rule>``, ``tcp-check <rule>`` and the protocol check options HAProxy has
(parsed, not active: ``option ssl-hello-chk`` ...)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hapx.core.config.model import BE_PROXIES
from hapx.core.records import Directive

from . import rules as R

HTTP_RULES = "http-check"
TCP_RULES = "tcp-check"


def _own_rules(ctx: Any, family: str) -> list[R.Rule]:
    """The proxy's rule list of ``family``; rules inherited from a defaults section are
    replaced by the first rule the proxy writes itself (as HAProxy does)."""
    px = ctx.section
    owner_key = f"{family}.owner"
    if px.settings.get(owner_key) != px.name:
        px.settings[family] = []
        px.settings[owner_key] = px.name
    return px.settings[family]


def _rule(family: str, action: str) -> Callable[[Any, list[str]], None]:
    http = family == HTTP_RULES

    def parse(ctx: Any, args: list[str]) -> None:
        rules = _own_rules(ctx, family)
        index = R.next_index(rules)
        try:
            if action == "connect":
                rule: R.Rule = R.parse_connect(args, index, http=http)
                if any(not isinstance(r, R.Comment) for r in rules):
                    raise R.RuleError("first step MUST also be a 'connect', optionally "
                                      "preceded by a 'set-var', an 'unset-var' or a "
                                      "'comment', when there is a 'connect' step in the "
                                      f"{family} ruleset")
                for word in rule.unsupported:  # type: ignore[attr-defined]
                    ctx.mark_inactive(f"{family} connect {word}", "argument", "health_checks")
            elif action == "send" and http:
                rule, given = R.parse_http_send(args, index)
                rule.given = given  # type: ignore[attr-defined]
            elif action in ("send", "send-binary"):
                rule = R.parse_tcp_send(args, index, binary=action == "send-binary")
            elif action == "expect":
                rule = R.parse_expect(args, index, http=http)
            else:  # comment
                if len(args) != 1:
                    raise R.RuleError("expects a string as argument.")
                rule = R.Comment(index=index, comment=args[0])
        except R.RuleError as exc:
            raise ctx.error(f"'{family} {action}' : {exc}") from None
        rules.append(rule)
    return parse


def _disable_on_404(ctx: Any, args: list[str]) -> None:
    if args:
        raise ctx.error(f"'{ctx.keyword}' cannot handle unexpected argument '{args[0]}'.")
    ctx.section.settings["http-check disable-on-404"] = True


def _option_httpchk(ctx: Any, args: list[str]) -> None:
    px = ctx.section
    if len(args) > 3:
        raise ctx.error(f"'{ctx.keyword}' cannot handle unexpected argument '{args[3]}'.")
    px.settings["httpchk"] = R.parse_httpchk_option(args)
    px.settings["check-type"] = "httpchk"


def _option_tcp_check(ctx: Any, args: list[str]) -> None:
    if args:
        raise ctx.error(f"'{ctx.keyword}' cannot handle unexpected argument '{args[0]}'.")
    ctx.section.settings["check-type"] = "tcp-check"


def _inactive_option(ctx: Any, args: list[str]) -> None:
    ctx.section.settings["check-type"] = ctx.keyword.removeprefix("option ")


def _inactive_rule(ctx: Any, args: list[str]) -> None:
    if not args and ctx.keyword.endswith(("-lf", "set-var", "unset-var")) and \
            not ctx.keyword.endswith("send-state"):
        raise ctx.error(f"'{ctx.keyword}' expects an argument.")


def directives() -> list[Directive]:
    out = [
        Directive("option httpchk", sections=BE_PROXIES, parse=_option_httpchk,
                  doc="option httpchk [<method> <uri> [<version>]]\n\nHealth checks send an "
                      "HTTP request (default 'OPTIONS / HTTP/1.0') and need a 2xx or 3xx "
                      "answer, unless 'http-check expect' says otherwise.  'option httpchk "
                      "<uri>' sets the URI alone.  The last of 'option httpchk' and 'option "
                      "tcp-check' wins."),
        Directive("option tcp-check", sections=BE_PROXIES, parse=_option_tcp_check,
                  doc="option tcp-check\n\nHealth checks run the 'tcp-check' rules (connect, "
                      "send, expect) instead of a plain connection."),
        Directive("http-check send", sections=BE_PROXIES, parse=_rule(HTTP_RULES, "send"),
                  doc="http-check send [meth <method>] [uri <uri>] [ver <version>] [hdr "
                      "<name> <value>]* [body <string>] [comment <msg>]\n\nThe request of "
                      "HTTP checks; the first one completes 'option httpchk', later ones "
                      "send further requests (each followed by its expect rules).  "
                      "uri-lf/body-lf (log-format) are not supported yet."),
        Directive("http-check expect", sections=BE_PROXIES,
                  parse=_rule(HTTP_RULES, "expect"),
                  doc="http-check expect [min-recv <int>] [comment <msg>] [ok-status <st>] "
                      "[error-status <st>] [tout-status <st>] [!] <match> <pattern>\n\nWhat "
                      "the response must show: 'status <codes>' (200,300-399), 'rstatus "
                      "<regex>', 'string <text>' or 'rstring <regex>' in the body; '!' "
                      "inverts.  Without any, the status must be 2xx or 3xx.  Failures are "
                      "reported as L7STS (status) or L7RSP (content)."),
        Directive("http-check connect", sections=BE_PROXIES,
                  parse=_rule(HTTP_RULES, "connect"),
                  doc="http-check connect [default] [port <port>] [addr <ip>] [linger] "
                      "[comment <msg>]\n\nOpen the check connection (to another port or "
                      "address).  ssl, sni, alpn, send-proxy, via-socks4 and proto are "
                      "parsed, not active yet."),
        Directive("http-check comment", sections=BE_PROXIES,
                  parse=_rule(HTTP_RULES, "comment"),
                  doc="http-check comment <string>\n\nA comment reported in the check's "
                      "failure message, for the rules that follow it."),
        Directive("http-check disable-on-404", sections=BE_PROXIES, parse=_disable_on_404,
                  doc="http-check disable-on-404\n\nA server answering 404 to its check goes "
                      "to the 'stopping' state (no new load-balanced traffic) instead of "
                      "down; 2xx/3xx brings it back."),
        Directive("tcp-check connect", sections=BE_PROXIES, parse=_rule(TCP_RULES, "connect"),
                  doc="tcp-check connect [default] [port <port>] [addr <ip>] [linger] "
                      "[comment <msg>]\n\nOpen the check connection; must be the first rule "
                      "when used.  ssl, sni, alpn, send-proxy, via-socks4 and proto are "
                      "parsed, not active yet."),
        Directive("tcp-check send", sections=BE_PROXIES, parse=_rule(TCP_RULES, "send"),
                  doc="tcp-check send <string> [comment <msg>]\n\nSend a string (escapes such "
                      "as \\r\\n are decoded by the configuration parser)."),
        Directive("tcp-check send-binary", sections=BE_PROXIES,
                  parse=_rule(TCP_RULES, "send-binary"),
                  doc="tcp-check send-binary <hexstring> [comment <msg>]\n\nSend bytes "
                      "written in hexadecimal."),
        Directive("tcp-check expect", sections=BE_PROXIES, parse=_rule(TCP_RULES, "expect"),
                  doc="tcp-check expect [min-recv <int>] [comment <msg>] [ok-status <st>] "
                      "[error-status <st>] [tout-status <st>] [!] <match> <pattern>\n\n"
                      "Wait for data matching 'string <text>', 'rstring <regex>', 'binary "
                      "<hex>' or 'rbinary <regex>' (on the hexadecimal dump); '!' inverts."),
        Directive("tcp-check comment", sections=BE_PROXIES, parse=_rule(TCP_RULES, "comment"),
                  doc="tcp-check comment <string>\n\nA comment reported in the check's "
                      "failure message, for the rules that follow it."),
    ]
    inactive_rules = {
        "http-check send-state": "Add an 'X-Haproxy-Server-State' header to check requests.",
        "http-check set-var": "Set a check-scoped variable before the rules run.",
        "http-check unset-var": "Unset a check-scoped variable.",
        "tcp-check send-lf": "Send a log-format string.",
        "tcp-check send-binary-lf": "Send a log-format hexadecimal string.",
        "tcp-check set-var": "Set a check-scoped variable before the rules run.",
        "tcp-check unset-var": "Unset a check-scoped variable.",
    }
    for name, text in inactive_rules.items():
        out.append(Directive(name, sections=BE_PROXIES, parse=_inactive_rule, active=False,
                             doc=f"{name} ...\n\n{text}  Parsed only: not active yet."))
    inactive_options = {
        "ssl-hello-chk": "Check with an SSLv3 client hello.",
        "smtpchk": "Check with an SMTP HELO/EHLO exchange.",
        "mysql-check": "Check with a MySQL handshake.",
        "pgsql-check": "Check with a PostgreSQL startup packet.",
        "redis-check": "Check with a Redis PING.",
        "ldap-check": "Check with an LDAPv3 anonymous bind.",
        "spop-check": "Check with an SPOP HELLO frame.",
        "external-check": "Check by running an external program.",
    }
    for name, text in inactive_options.items():
        out.append(Directive(f"option {name}", sections=BE_PROXIES, parse=_inactive_option,
                             active=False,
                             doc=f"option {name} [...]\n\n{text}  Parsed only: not active "
                                 "yet."))
    return out
