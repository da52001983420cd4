"""The ``acl`` directive: named ACLs of defaults, frontend, backend and listen sections.

The criterion is compiled when the ACL is declared, without an evaluation point; each rule
using the ACL checks where it can match (and warns when it never can).
"""

from __future__ import annotations

from typing import Any

from hapx.core.config.model import ALL_PROXIES
from hapx.core.hookspecs import hookimpl
from hapx.core.records import Directive
from hapx.core.sample.acl import declare_acl

USAGE = "acl <aclname> <criterion> [flags] [operator] [<pattern>...]"


def parse_acl(ctx: Any, args: list[str]) -> None:
    if not args:
        raise ctx.error("'acl' expects an ACL name and a criterion.")
    declare_acl(ctx.section, args[0], list(args[1:]), ctx)


@hookimpl
def hapx_register_directives(directives: Any) -> None:
    directives.add(Directive(
        "acl", sections=ALL_PROXIES, parse=parse_acl, usage=USAGE,
        doc=USAGE + """

Declare or complete an access control list.  <criterion> is a sample fetch, optionally
followed by converters, or an ACL keyword such as path_beg.  Flags: -i (ignore case),
-f <file> (load patterns from a file, repeatable), -m <method> (match method: found,
bool, int, ip, bin, len, str, sub, reg, beg, end, dir, dom), -n (no DNS resolution),
-M (load the file as a map), -u <id> (unique id for the runtime API), -- (end of flags).
Integer patterns accept ranges (a:b, a:, :b) and the operators eq, ge, gt, le, lt.
Declaring the same name again adds alternatives, OR-ed in order.  ACLs are used in
conditions: "if"/"unless" followed by ACL names, "!" to negate, "||" or "or" between
groups, and anonymous ACLs between "{" and "}".

Example:
    acl is_static path_end -i .css .js .png
    http-request deny if { src -f /etc/hapx/deny.lst } !is_static
"""))
