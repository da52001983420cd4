"""``balance url_param <name> [check_post]``: hash of a query string parameter, or of a
parameter of an urlencoded POST body."""

from __future__ import annotations

from typing import Any

from hapx.core.hookspecs import hookimpl
from hapx.core.records import Balancer
from hapx.plugins.servers.lbhashpick import HashPicker

#: HTTP token characters (HAProxy's HTTP_IS_TOKEN)
_TOKEN = frozenset(b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz"
                   b"ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_LWS = frozenset(b" \t\r\n")


def parse_url_param(ctx: Any, args: list[str]) -> dict[str, Any]:
    if ctx.param is not None:
        raise ctx.error(f"'{ctx.keyword}' takes no parameter in parentheses.")
    if not args:
        raise ctx.error("'balance url_param' requires an URL parameter name.")
    out: dict[str, Any] = {"name": args[0], "check_post": False}
    rest = args[1:]
    if rest:
        if rest[0] != "check_post":
            raise ctx.error("'balance url_param' only accepts 'check_post' modifier (got "
                            f"'{rest[0]}').")
        out["check_post"] = True
        if len(rest) > 1:
            if len(rest) > 2 or not rest[1].isdigit():
                raise ctx.error(f"'balance url_param' : unexpected argument '{rest[-1]}'.")
            ctx.warning("'balance url_param' : the <max_wait> argument of 'check_post' is "
                        "ignored.")
    return out


def query_param(query: str, name: str) -> str | None:
    """The value of the first ``name=value`` of a query string (HAProxy's
    ``get_server_ph``: the value ends at the next '&')."""
    prefix = name + "="
    for part in query.split("&"):
        if part.startswith(prefix):
            return part[len(prefix):]
    return None


def body_param(body: bytes, name: bytes) -> bytes | None:
    """The value of ``name`` in an urlencoded body (HAProxy's ``get_server_ph_post``):
    None when absent or when the value does not start with a token character (not
    urlencoded); a value starting with a blank is empty."""
    prefix = name + b"="
    for part in body.split(b"&"):
        if part.startswith(prefix):
            value = part[len(prefix):]
            if value and value[0] not in _TOKEN:
                return b"" if value[0] in _LWS else None
            return value
    return None


class UrlParamPicker(HashPicker):
    """The picker of ``balance url_param``: it asks the data path for the body of POST
    requests whose query string lacks the parameter (``wants_body``)."""

    def __init__(self, backend: Any, name: str) -> None:
        self.name = name
        self.bname = name.encode("latin-1", "replace")
        super().__init__(backend, self.param_hash)

    def _from_query(self, uri: str) -> str | None:
        q = uri.find("?")
        return None if q < 0 else query_param(uri[q + 1:], self.name)

    def wants_body(self, strm: Any) -> bool:
        req = strm.req
        return req is not None and req.method == "POST" and \
            self.lookup.groups.tot_used > 1 and self._from_query(req.uri) is None

    def param_hash(self, strm: Any, picker: HashPicker) -> int | None:
        req = strm.req
        if req is None:
            return None
        value = self._from_query(req.uri)
        if value is not None:
            return self.hasher(value.encode("latin-1", "replace"))
        if req.method == "POST" and req.body:
            raw = body_param(req.body, self.bname)
            if raw is not None:
                return self.hasher(raw)
        return None


def _build(backend: Any, settings: dict[str, Any]) -> UrlParamPicker:
    return UrlParamPicker(backend, settings["name"])


@hookimpl
def hapx_register_balancers(balancers: Any) -> None:
    balancers.add(Balancer(
        "url_param", parse=parse_url_param, build=_build,
        doc="url_param <param> [check_post]\n\nThe value of the query string parameter "
            "<param> ('<param>=<value>', up to the next '&') is hashed: requests carrying "
            "the same value reach the same server.  A POST request without it in the query "
            "string is searched in its urlencoded body: the server is chosen once the whole "
            "body or a buffer's worth (15 kB) has arrived (a value not starting with a "
            "token character is not urlencoded and is ignored).  'check_post' is accepted "
            "for compatibility: HAProxy searches POST bodies either way (its <max_wait> "
            "argument is ignored).  Without the parameter, round robin.  Static "
            "(map-based) unless 'hash-type consistent'."))
