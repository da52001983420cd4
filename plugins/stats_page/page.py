"""The statistics page's request handling: URI options, access control, exports and the
admin form's POST.

HAProxy reads options from the URI after the stats prefix: ``;up`` (hide servers not UP),
``;no-maint`` (hide servers in maintenance), ``;norefresh``, ``;csv``, ``;json``,
``;typed``, ``;st=<CODE>`` (the result of an admin action, shown as a message) and
``scope=<text>`` (only the proxies whose name contains it).  An admin POST (form fields
``s`` for each server, ``action``, ``b`` = ``#<backend id>`` or name) is answered with a
303 to ``<uri>;st=<CODE>[;up][;norefresh][;scope=...]``; the codes are HAProxy's: DONE,
PART, NONE, ERRP, EXCD, DENY, IVAL, UNKN.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from hapx.core.proto.errors import error_message
from hapx.core.records import ActionRule, ActResult
from hapx.core.runtime import live
from hapx.core.runtime.cli_api import CliError, CliSession, commands_of
from hapx.core.runtime.statdump import context, dump_csv, dump_json, dump_typed, rows
from hapx.core.runtime.waits import wake_on_body
from hapx.core.stats import NATURES, OBJ_NAMES, ORIGINS, SCOPES, stats_of
from hapx.core.stream import HttpMessage

from . import html

#: HAProxy's ;st= codes
ST_CODES = ("DONE", "PART", "NONE", "ERRP", "EXCD", "DENY", "IVAL", "UNKN")
#: admin form actions -> the runtime API command (words after the server) doing them;
#: "shutdown" kills the server's streams
ACTIONS: dict[str, tuple[str, ...]] = {
    "ready": ("set server", "state", "ready"),
    "drain": ("set server", "state", "drain"),
    "maint": ("set server", "state", "maint"),
    "dhlth": ("disable health",),
    "ehlth": ("enable health",),
    "hrunn": ("set server", "health", "up"),
    "hnolb": ("set server", "health", "stopping"),
    "hdown": ("set server", "health", "down"),
    "dagent": ("disable agent",),
    "eagent": ("enable agent",),
    "arunn": ("set server", "agent", "up"),
    "adown": ("set server", "agent", "down"),
    # the ancient actions HAProxy still accepts
    "disable": ("set server", "state", "maint"),
    "enable": ("set server", "state", "ready"),
    "stop": ("set server", "state", "maint"),
    "start": ("set server", "state", "ready"),
    "shutdown": (),
}


@dataclass
class StatsSettings:
    """One proxy's page configuration."""

    uri: str
    realm: str
    users: dict[str, str]
    refresh: int
    admin: Any
    rules: list[tuple[str, str | None, Any]]
    scope: list[str]
    legends: bool
    show_node: bool
    node: str | None
    show_desc: bool
    desc: str
    hide_version: bool
    modules: bool


@dataclass
class Request:
    """What one page request asks for."""

    up: bool = False
    no_maint: bool = False
    norefresh: bool = False
    fmt: str = "html"
    st: str | None = None
    scope: str = ""
    admin: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def suffix(self, refresh: int) -> str:
        """The options a redirect or a link keeps."""
        out = ";up" if self.up else ""
        if self.norefresh and refresh:
            out += ";norefresh"
        if self.scope:
            out += ";scope=" + self.scope
        return out


def parse_options(rest: str) -> Request:
    """The options after the stats prefix, as HAProxy finds them (substring searches)."""
    req = Request()
    req.up = ";up" in rest
    req.no_maint = ";no-maint" in rest
    req.norefresh = ";norefresh" in rest
    if ";csv" in rest:
        req.fmt = "csv"
    if ";typed" in rest:
        req.fmt = "typed"
    if ";json" in rest:
        req.fmt = "json"
    if ";json-schema" in rest:
        req.fmt = "schema"
    pos = rest.find(";st=")
    if pos >= 0:
        code = rest[pos + 4:pos + 8]
        req.st = code if code in ST_CODES else "UNKN"
    pos = rest.find("scope=")
    if pos >= 0:
        text = rest[pos + 6:]
        for stop in ";& ":
            cut = text.find(stop)
            if cut >= 0:
                text = text[:cut]
        req.scope = text[:20]
    return req


def _reply(status: int, headers: list[tuple[str, str]], body: bytes) -> HttpMessage:
    from hapx.core.proto.pages import reason

    return HttpMessage(version="1.1", status=status, reason=reason(status),
                       headers=headers, body=body)


class StatsPage(ActionRule):
    """The page of one proxy: an http-request action that answers requests for its URI
    and lets the others through."""

    def __init__(self, config: Any, proxy: Any, settings: StatsSettings) -> None:
        self.config = config
        self.proxy = proxy
        self.settings = settings
        self.uri = settings.uri
        self.runtime: Any = None
        #: action -> the runtime API command record applying it (resolved at start)
        self.handlers: dict[str, Any] = {}

    def start(self, runtime: Any) -> None:
        """Resolve the runtime API commands the admin actions use."""
        self.runtime = runtime
        cmds = commands_of(self.config)
        for name, words in ACTIONS.items():
            if words:
                rec = cmds.find(words[0].split())
                if rec is not None:
                    self.handlers[name] = rec

    # -- the request ---------------------------------------------------------------------------
    def _target(self, uri: str) -> str:
        if not uri.startswith("/"):
            scheme = uri.find("://")
            if scheme >= 0:
                slash = uri.find("/", scheme + 3)
                uri = uri[slash:] if slash >= 0 else "/"
        return uri

    def run(self, strm: Any) -> ActResult:
        req = strm.req
        if req is None or req.method not in ("GET", "HEAD", "POST"):
            return ActResult.CONT
        uri = self._target(req.uri)
        if not uri.startswith(self.uri):
            return ActResult.CONT
        strm.counters["intercepted_req"] = 1
        st = self.settings
        allowed = False
        for action, realm, cond in st.rules:
            if cond is not None:
                verdict = cond.eval(strm)
                if verdict is None:
                    verdict = False
                if not verdict:
                    continue
            if action == "deny":
                strm.counters["denied_req"] = 1
                return self._send(strm, error_message(strm, 403, self.proxy), "PR")
            if action == "auth":
                return self._challenge(strm, realm or st.realm)
            allowed = True
            break
        if not allowed and st.users and not self._authorized(req):
            return self._challenge(strm, st.realm)
        opts = parse_options(uri[len(self.uri):])
        if st.admin is not None:
            verdict = st.admin.eval(strm)
            opts.admin = bool(verdict)
        if req.method == "POST":
            if not req.body_complete:
                return wake_on_body(strm, 0)
            code = self.post(strm, opts) if opts.admin else "DENY"
            location = f"{self.uri};st={code}{opts.suffix(st.refresh)}"
            return self._send(strm, _reply(303, [
                ("cache-control", "no-cache"), ("content-type", "text/plain"),
                ("content-length", "0"), ("location", location)], b""), "LR")
        return self._send(strm, self.render(opts), "LR")

    def _authorized(self, req: Any) -> bool:
        value = req.get("authorization")
        if not value or not value[:6].lower() == "basic ":
            return False
        try:
            text = base64.b64decode(value[6:].strip(), validate=True).decode("latin-1")
        except (binascii.Error, ValueError):
            return False
        user, sep, password = text.partition(":")
        return bool(sep) and self.settings.users.get(user) == password

    def _challenge(self, strm: Any, realm: str) -> ActResult:
        msg = error_message(strm, 401, self.proxy)
        msg.add("www-authenticate", f'Basic realm="{realm}"')
        return self._send(strm, msg, "PR")

    def _send(self, strm: Any, msg: HttpMessage, term: str) -> ActResult:
        strm.ext["http_reply"] = msg
        if strm.term_state == "--":
            strm.term_state = term
        return ActResult.DONE

    # -- GET: the page and the exports ----------------------------------------------------------
    def objects(self, opts: Request) -> list[Any]:
        """The rows to show: proxies in ``stats scope`` and matching ``scope=``, servers
        filtered by ``;up`` / ``;no-maint``."""
        ctx = context(self.config)
        out = []
        for obj in rows(ctx):
            if not self.in_scope(obj.px, opts):
                continue
            if obj.kind == "S":
                status = obj.status
                if opts.up and (status.startswith("DOWN") or status.startswith("MAINT")):
                    continue
                if opts.no_maint and status.startswith("MAINT"):
                    continue
            out.append(obj)
        return out

    def in_scope(self, px: Any, opts: Request) -> bool:
        if px.settings.get("disabled"):
            return False
        if self.settings.scope and px.name not in self.settings.scope:
            return False
        return not opts.scope or opts.scope.lower() in px.name.lower()

    def render(self, opts: Request) -> HttpMessage:
        reg = stats_of(self.config)
        objs = self.objects(opts)
        headers = [("cache-control", "no-cache")]
        if opts.fmt == "csv":
            headers.append(("content-type", "text/plain"))
            body = dump_csv(reg, objs)
        elif opts.fmt == "typed":
            headers.append(("content-type", "text/plain"))
            body = dump_typed(reg, objs)
        elif opts.fmt == "json":
            headers.append(("content-type", "application/json"))
            body = dump_json(reg, objs)
        elif opts.fmt == "schema":
            headers.append(("content-type", "application/json"))
            body = json_schema()
        else:
            headers.append(("content-type", "text/html"))
            body = html.page(self, reg, objs, opts)
        if self.settings.refresh and not opts.norefresh:
            headers.append(("refresh", str(self.settings.refresh)))
        return _reply(200, headers, body.encode("latin-1", "replace"))

    # -- POST: the admin form -----------------------------------------------------------------
    def post(self, strm: Any, opts: Request) -> str:
        """Apply the form's action to the checked servers; HAProxy's result code."""
        body = strm.req.body or b""
        try:
            fields = parse_qsl(body.decode("latin-1"), keep_blank_values=True)
        except ValueError:
            return "ERRP"
        backend_key = action = None
        servers = []
        for key, value in fields:
            if key == "b":
                backend_key = value
            elif key == "action":
                action = value
            elif key == "s":
                servers.append(value)
        if backend_key is None and action is None and not servers:
            return "NONE"
        backend = self._backend(backend_key)
        if backend is None or action not in ACTIONS:
            return "ERRP"
        if not servers:
            return "NONE"
        altered = 0
        for name in servers:
            srv = next((s for s in backend.servers if s.name == name), None)
            if srv is not None and self.apply(action, backend, srv):
                altered += 1
        if altered == 0:
            return "ERRP"
        return "DONE" if altered == len(servers) else "PART"

    def _backend(self, key: str | None) -> Any:
        if not key:
            return None
        found = []
        for px in self.config.proxies:
            if px.is_defaults or not px.is_backend:
                continue
            if (key.startswith("#") and key[1:].isdigit() and px.uuid == int(key[1:])) or \
                    px.name == key:
                found.append(px)
        return found[0] if len(found) == 1 else None

    def apply(self, action: str, backend: Any, srv: Any) -> bool:
        """Run one action on one server; False when it could not be done."""
        if action == "shutdown":
            for owner in list(live.STREAMS.values()):
                strm = getattr(owner, "strm", None)
                if strm is not None and strm.server is srv:
                    owner.kill()
            return True
        rec = self.handlers.get(action)
        if rec is None:
            return False
        words = ACTIONS[action]
        args = words[0].split() + [f"{backend.name}/{srv.name}"] + list(words[1:])
        cli = CliSession(self.config, self.runtime, "admin")
        try:
            out = rec.handler(cli, args)
        except CliError:
            return False
        if hasattr(out, "__await__"):
            out.close()  # the server commands answer at once; never leave one pending
            return False
        return not out


def json_schema() -> str:
    """The JSON schema of the ``;json`` export (and of ``show stat json``): a list of
    rows, each a list of fields with their object, ids, position, name, tags and typed
    value."""
    tag_enum = {"origin": sorted(ORIGINS.values()), "nature": sorted(NATURES.values()),
                "scope": sorted(SCOPES.values())}
    value = {"type": "object", "required": ["type", "value"], "oneOf": [
        {"properties": {"type": {"enum": ["u32", "s32", "u64", "s64"]},
                        "value": {"type": "integer"}}},
        {"properties": {"type": {"enum": ["flt"]}, "value": {"type": "number"}}},
        {"properties": {"type": {"enum": ["str"]}, "value": {"type": "string"}}}]}
    field = {
        "type": "object",
        "required": ["objType", "proxyId", "id", "field", "processNum", "tags", "value"],
        "properties": {
            "objType": {"enum": sorted(OBJ_NAMES.values())},
            "proxyId": {"type": "integer", "minimum": 0},
            "id": {"type": "integer", "minimum": 0},
            "field": {"type": "object", "required": ["pos", "name"],
                      "properties": {"pos": {"type": "integer", "minimum": 0},
                                     "name": {"type": "string"}}},
            "processNum": {"type": "integer", "minimum": 1},
            "tags": {"type": "object", "required": ["origin", "nature", "scope"],
                     "properties": {k: {"enum": v} for k, v in tag_enum.items()}},
            "value": value,
            "desc": {"type": "string"},
        }}
    schema = {"$schema": "http://json-schema.org/draft-04/schema#",
              "title": "Statistics",
              "description": "The statistics export: one array of fields per object "
                             "(frontend, listener, server, backend)",
              "type": "array", "items": {"type": "array", "items": field}}
    return json.dumps(schema, indent=1) + "\n"

