"""The HTML of the statistics page, laid out as HAProxy's: the process information block
with the colour legend and the display options, then one table per proxy with the same
column groups (Queue, Session rate, Sessions, Bytes, Denied, Errors, Warnings, Server, and
"Extra modules" with ``stats show-modules``), its frontend row, listener rows (``option
socket-stats``), server rows coloured by state and its backend row.

Every value comes from the statistics registry (the fields ``show stat`` prints), by name.
"""

from __future__ import annotations

import os
from html import escape
from typing import Any

from hapx.core.runtime.statdump import context, values
from hapx.core.version import HAPROXY_VERSION, HAPX_RELEASE_DATE, HAPX_VERSION

#: the colour of each row class (light scheme), HAProxy's palette
_CSS = """body { font-family: arial, helvetica, sans-serif; font-size: 12px; font-weight: normal; color: black; background: white;}
th,td { font-size: 10px;}
h1 { font-size: x-large; margin-bottom: 0.5em;}
h2 { font-family: helvetica, arial; font-size: x-large; font-weight: bold; font-style: italic; color: #6020a0; margin-top: 0em; margin-bottom: 0em;}
h3 { font-family: helvetica, arial; font-size: 16px; font-weight: bold; color: #b00040; background: #e8e8d0; margin-top: 0em; margin-bottom: 0em;}
li { margin-top: 0.25em; margin-right: 2em;}
.hr {margin-top: 0.25em; border-color: black; border-bottom-style: solid;}
.titre {background: #20D0D0; color: #000000; font-weight: bold; text-align: center;}
.total {background: #20D0D0; color: #ffff80;}
.frontend {background: #e8e8d0;}
.socket {background: #d0d0d0;}
.backend {background: #e8e8d0;}
.active_down {background: #ff9090;}
.active_going_up {background: #ffd020;}
.active_going_down {background: #ffffa0;}
.active_up {background: #c0ffc0;}
.active_nolb {background: #20a0ff;}
.active_draining {background: #20a0FF;}
.active_no_check {background: #e0e0e0;}
.backup_down {background: #ff9090;}
.backup_going_up {background: #ff80ff;}
.backup_going_down {background: #c060ff;}
.backup_up {background: #b0d0ff;}
.backup_nolb {background: #90b0e0;}
.backup_draining {background: #cc9900;}
.backup_no_check {background: #e0e0e0;}
.maintain {background: #c07820;}
.rls {letter-spacing: 0.2em; margin-right: 1px;}
a.px:link, a.px:visited {color: #ffff40; text-decoration: none;}
a.px:hover {color: #ffffff; text-decoration: none;}
a.lfsb:link, a.lfsb:visited {color: #000000; text-decoration: none;}
a.lfsb:hover {color: #505050; text-decoration: none;}
table.tbl { border-collapse: collapse; border-style: none;}
table.tbl td { text-align: right; border-width: 1px 1px 1px 1px; border-style: solid solid solid solid; padding: 2px 3px; border-color: gray; white-space: nowrap;}
table.tbl td.ac { text-align: center;}
table.tbl th { border-width: 1px; border-style: solid solid solid solid; border-color: gray;}
table.tbl th.pxname { background: #b00040; color: #ffff40; font-weight: bold; border-style: solid solid none solid; padding: 2px 3px; white-space: nowrap;}
table.tbl th.empty { border-style: none; empty-cells: hide; background: white;}
table.tbl th.desc { background: white; border-style: solid solid none solid; text-align: left; padding: 2px 3px;}
table.lgd { border-collapse: collapse; border-width: 1px; border-style: none none none solid; border-color: black;}
table.lgd td { border-width: 1px; border-style: solid solid solid solid; border-color: gray; padding: 2px;}
table.lgd td.noborder { border-style: none; padding: 2px; white-space: nowrap;}
table.det { border-collapse: collapse; border-style: none; }
table.det th { text-align: left; border-width: 0px; padding: 0px 1px 0px 0px; font-style:normal; font-size:11px; font-weight:bold; font-family: sans-serif;}
table.det td { text-align: right; border-width: 0px; padding: 0px 0px 0px 4px; white-space: nowrap; font-style:normal; font-size:11px; font-weight:normal;}
u {text-decoration:none; border-bottom: 1px dotted black;}
div.tips { display:block; visibility:hidden; z-index:2147483647; position:absolute; padding:2px 4px 3px; background:#f0f060; color:#000000; border:1px solid #7040c0; white-space:nowrap; font-style:normal; font-size:11px; font-weight:normal; border-radius:3px; box-shadow:gray 2px 2px 3px;}
u:hover div.tips {visibility:visible;}
"""

#: the column groups of every proxy table: (title, sub-columns)
GROUPS = [
    ("Queue", ("Cur", "Max", "Limit")),
    ("Session rate", ("Cur", "Max", "Limit")),
    ("Sessions", ("Cur", "Max", "Limit", "Total", "LbTot", "Last")),
    ("Bytes", ("In", "Out")),
    ("Denied", ("Req", "Resp")),
    ("Errors", ("Req", "Conn", "Resp")),
    ("Warnings", ("Retr", "Redis")),
    ("Server", ("Status", "LastChk", "Wght", "Act", "Bck", "Chk", "Dwn", "Dwntme",
                "Thrtle")),
]

#: ;st= codes -> (row class, message)
ST_MESSAGES = {
    "DONE": ("active_up", "Action processed successfully."),
    "NONE": ("active_going_down", "Nothing has changed."),
    "PART": ("active_going_down", "Action partially processed.<br>Some server names are "
             "probably unknown or ambiguous (duplicated names in the backend)."),
    "ERRP": ("active_down", "Action not processed because of invalid parameters.<ul><li>The "
             "action is maybe unknown.</li><li>Invalid key parameter (empty or too long)."
             "</li><li>The backend name is probably unknown or ambiguous (duplicated names)."
             "</li><li>Some server names are probably unknown or ambiguous (duplicated names "
             "in the backend).</li></ul>"),
    "EXCD": ("active_down", "<b>Action not processed : the buffer couldn't store all the "
             "data.<br>You should retry with less servers at a time.</b>"),
    "DENY": ("active_down", "<b>Action denied.</b>"),
    "IVAL": ("active_down", "<b>Invalid requests (unsupported method or chunked encoded "
             "request).</b>"),
}

ADMIN_OPTIONS = [
    ("", ""), ("ready", "Set state to READY"), ("drain", "Set state to DRAIN"),
    ("maint", "Set state to MAINT"), ("dhlth", "Health: disable checks"),
    ("ehlth", "Health: enable checks"), ("hrunn", "Health: force UP"),
    ("hnolb", "Health: force NOLB"), ("hdown", "Health: force DOWN"),
    ("dagent", "Agent: disable checks"), ("eagent", "Agent: enable checks"),
    ("arunn", "Agent: force UP"), ("adown", "Agent: force DOWN"),
    ("shutdown", "Kill Sessions"),
]


# -- formatting ---------------------------------------------------------------------------------

def u2h(val: Any) -> str:
    """A number with its thousands groups marked as HAProxy's U2H does."""
    if val is None:
        return ""
    text = str(val)
    if not text.isdigit() or len(text) <= 3:
        return text
    head = len(text) % 3 or 3
    groups = [text[:head]] + [text[i:i + 3] for i in range(head, len(text), 3)]
    return "".join(f'<span class="rls">{g}</span>' for g in groups[:-1]) + groups[-1]


def human_time(secs: Any) -> str:
    """HAProxy's human_time(): the two largest non-zero units, "?" when unknown."""
    if secs is None or secs < 0:
        return "?"
    t = int(secs)
    if t == 0:
        return "0s"
    out, left = "", 2
    for part, unit in ((t // 86400, "d"), (t % 86400 // 3600, "h"), (t % 3600 // 60, "m"),
                       (t % 60, "s")):
        if part and left:
            out += f"{part}{unit}"
            left -= 1
    return out


def _n(val: Any) -> str:
    return "0" if val is None else str(val)


def _pct(part: Any, total: Any) -> str:
    p, t = int(part or 0), int(total or 0)
    return f"{p * 100 // t}%" if t else "0%"


def _det(rows: list[tuple[str, str] | tuple[str, str, str]]) -> str:
    """A tooltip table: (label, value[, extra]) rows."""
    out = ["<div class=tips><table class=det>"]
    for row in rows:
        if len(row) == 1:
            out.append(f"<tr><th colspan=3>{row[0]}</th></tr>")
            continue
        out.append(f"<tr><th>{row[0]}</th><td>{row[1]}</td>")
        if len(row) > 2:
            out.append(f"<td>{row[2]}</td>")
        out.append("</tr>")
    out.append("</table></div>")
    return "".join(out)


def _tip(value: str, rows: list[Any]) -> str:
    return f"<td><u>{value}{_det(rows)}</u></td>"


def _addr_tip(obj: Any, f: dict[str, Any], sid: int) -> str:
    addr = f.get("addr") or ""
    family = "IPv6" if addr.startswith("[") else "IPv4" if addr[:1].isdigit() else "unix"
    return f"{family}: {escape(addr)}, id: {sid}" if addr else f"id: {sid}"


# -- the process block --------------------------------------------------------------------------

def _info(page: Any, reg: Any) -> dict[str, Any]:
    ctx = context(page.config)
    out: dict[str, Any] = {}
    for fld in reg.info:
        try:
            out[fld.name] = fld.get(ctx) if fld.get is not None else None
        except Exception:  # noqa: BLE001 - one broken plugin field must not break the page
            out[fld.name] = None
    return out


def _head(page: Any, info: dict[str, Any], opts: Any) -> list[str]:
    st = page.settings
    node = st.node or os.uname().nodename
    on_node = f" on {escape(node)}" if st.show_node else ""
    desc = f": {escape(st.desc)}" if st.show_desc and st.desc else ""
    version = "" if st.hide_version else (f" version {HAPROXY_VERSION} (hapx {HAPX_VERSION})"
                                          f", released {HAPX_RELEASE_DATE}")
    memmax = info.get("Memmax_MB") or 0
    uri = escape(page.uri)
    keep_refresh = ";norefresh" if opts.norefresh and st.refresh else ""
    scope = f";scope={escape(opts.scope)}" if opts.scope else ""
    up = ";up" if opts.up else ""
    out = [
        '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN"\n'
        '"http://www.w3.org/TR/html4/loose.dtd">\n',
        f"<html><head><title>Statistics Report for HAProxy{on_node}</title>\n",
        '<link rel="icon" href="data:,">\n',
        '<meta http-equiv="content-type" content="text/html; charset=iso-8859-1">\n',
        f'<style type="text/css"><!--\n{_CSS}-->\n</style></head>\n',
        '<body><h1><a href="http://www.haproxy.org/" style="text-decoration: none;">'
        f"HAProxy{version}</a></h1>\n",
        f"<h2>Statistics Report for pid {info.get('Pid')}{on_node}{desc}</h2>\n",
        '<hr width="100%" class="hr">\n',
        "<h3>&gt; General process information</h3>\n",
        '<table border=0><tr><td align="left" nowrap width="1%">\n',
        f"<p><b>pid = </b> {info.get('Pid')} (process #1, nbproc = 1, nbthread = "
        f"{info.get('Nbthread')})<br>\n",
        f"<b>uptime = </b> {info.get('Uptime')}<br>\n",
        f"<b>system limits:</b> memmax = {f'{memmax} MB' if memmax else 'unlimited'}; "
        f"ulimit-n = {info.get('Ulimit-n')}<br>\n",
        f"<b>maxsock = </b> {info.get('Maxsock')}; <b>maxconn = </b> {info.get('Maxconn')}; "
        f"<b>maxpipes = </b> {info.get('Maxpipes')}<br>\n",
        f"current conns = {info.get('CurrConns')}; current pipes = {info.get('PipesUsed')}/"
        f"{(info.get('PipesUsed') or 0) + (info.get('PipesFree') or 0)}; conn rate = "
        f"{info.get('ConnRate')}/sec; bit rate = "
        f"{(info.get('BytesOutRate') or 0) * 8 / 1000:.3f} kbps<br>\n",
        f"Running tasks: {info.get('Run_queue')}/{info.get('Tasks')}; idle = "
        f"{info.get('Idle_pct')} %<br>\n",
        '</td><td align="center" nowrap>\n',
        '<table class="lgd"><tr>\n',
        '<td class="active_up">&nbsp;</td><td class="noborder">active UP </td>'
        '<td class="backup_up">&nbsp;</td><td class="noborder">backup UP </td></tr><tr>\n',
        '<td class="active_going_down"></td><td class="noborder">active UP, going down </td>'
        '<td class="backup_going_down"></td><td class="noborder">backup UP, going down </td>'
        "</tr><tr>\n",
        '<td class="active_going_up"></td><td class="noborder">active DOWN, going up </td>'
        '<td class="backup_going_up"></td><td class="noborder">backup DOWN, going up </td>'
        "</tr><tr>\n",
        '<td class="active_down"></td><td class="noborder">active or backup DOWN &nbsp;</td>'
        '<td class="active_no_check"></td><td class="noborder">not checked </td></tr><tr>\n',
        '<td class="maintain"></td><td class="noborder" colspan="3">active or backup DOWN '
        "for maintenance (MAINT) &nbsp;</td></tr><tr>\n",
        '<td class="active_draining"></td><td class="noborder" colspan="3">active or backup '
        "SOFT STOPPED for maintenance &nbsp;</td></tr></table>\n",
        'Note: "NOLB"/"DRAIN" = UP with load-balancing disabled.</td>'
        '<td align="left" valign="top" nowrap width="1%"><b>Display option:</b>'
        '<ul style="margin-top: 0.25em;">',
        f'<li><form method="GET">Scope : <input value="{escape(opts.scope)}" name="scope" '
        'size="8" maxlength="20" tabindex="1"/></form>\n',
        f'<li><a href="{uri}{"" if opts.up else ";up"}{keep_refresh}{scope}">'
        f"{'Show all servers' if opts.up else 'Hide &#39;DOWN&#39; servers'}</a><br>\n",
    ]
    if st.refresh:
        out.append(f'<li><a href="{uri}{up}{"" if opts.norefresh else ";norefresh"}{scope}">'
                   f"{'Enable refresh' if opts.norefresh else 'Disable refresh'}</a><br>\n")
    out.append(f'<li><a href="{uri}{up}{keep_refresh}{scope}">Refresh now</a><br>\n')
    norefresh = ";norefresh" if st.refresh else ""
    out.append(f'<li><a href="{uri};csv{norefresh}{scope}">CSV export</a><br>\n')
    out.append(f'<li><a href="{uri};json{norefresh}{scope}">JSON export</a> '
               f'(<a href="{uri};json-schema">schema</a>)<br>\n')
    out.append("</ul></td>")
    if not st.hide_version:
        major = ".".join(HAPROXY_VERSION.split(".")[:2])
        out.append('<td align="left" valign="top" nowrap width="1%"><b>External '
                   'resources:</b><ul style="margin-top: 0.25em;">\n'
                   '<li><a href="http://www.haproxy.org/">Primary site</a><br>\n'
                   f'<li><a href="http://www.haproxy.org/#down">Updates (v{major})</a><br>\n'
                   '<li><a href="http://www.haproxy.org/#docs">Online manual</a><br>\n'
                   "</ul></td>")
    out.append("</tr></table>\n")
    if opts.st is not None:
        cls, text = ST_MESSAGES.get(opts.st, ("active_no_check", "Unexpected result."))
        out.append(f'<p><div class={cls}><a class=lfsb href="{uri}{up}{keep_refresh}{scope}" '
                   f'title="Remove this message">[X]</a> {text}</div>\n<p>\n')
    return out


# -- the proxy tables ---------------------------------------------------------------------------

def _modules(reg: Any) -> list[tuple[str, list[Any]]]:
    mods: dict[str, list[Any]] = {}
    for fld in reg.extra:
        mods.setdefault(fld.owner, []).append(fld)
    return list(mods.items())


def _table_head(px: Any, admin: bool, legends: bool, modules: list[Any]) -> str:
    name = escape(px.name)
    cap = ("proxy" if px.is_frontend and px.is_backend else
           "frontend" if px.is_frontend else "backend")
    title = f'<a class=px href="#{name}">{name}</a>'
    if legends:
        title = (f"<u>{title}<div class=tips>cap: {cap}, mode: {px.mode}, id: {px.uuid}"
                 "</div></u>")
    desc = px.settings.get("description")
    last = (f'<th class="desc" width="90%">{escape(str(desc))}</th>' if desc else
            '<th class="empty" width="90%"></th>')
    out = [f'<table class="tbl" width="100%">\n<tr class="titre"><th class="pxname" '
           f'width="10%"><a name="{name}"></a>{title}</th>{last}</tr>\n</table>\n'
           '<table class="tbl" width="100%">\n<tr class="titre">']
    if admin:
        out.append('<th rowspan=2 width=1><input type="checkbox" onclick="for(c in '
                   f"document.getElementsByClassName('{name}-checkbox')) "
                   f"document.getElementsByClassName('{name}-checkbox').item(c).checked = "
                   'this.checked"></th>')
    else:
        out.append("<th rowspan=2></th>")
    out.append("<th rowspan=2></th>")
    out.extend(f"<th colspan={len(cols)}>{title}</th>" for title, cols in GROUPS)
    if modules:
        out.append(f"<th colspan={len(modules)}>Extra modules</th>")
    out.append("</tr>\n<tr class=\"titre\">")
    out.extend(f"<th>{c}</th>" for _t, cols in GROUPS for c in cols)
    out.append("\n")
    out.extend(f"<th>{escape(m)}</th>" for m, _f in modules)
    out.append("</tr>")
    return "".join(out)


def _module_cells(kind: str, vals: dict[str, Any], modules: list[Any]) -> str:
    out = []
    for mod, flds in modules:
        rows = [(escape(f.desc), escape(_n(vals.get(f.name)))) for f in flds
                if kind in f.kinds]
        out.append(f"<td><u>{escape(mod)}{_det(rows)}</u></td>" if rows else "<td></td>")
    return "".join(out)


def _http_lines(f: dict[str, Any], pct: bool) -> list[Any]:
    total = f.get("req_tot")
    rows: list[Any] = [("Cum. HTTP requests:", _n(total))]
    for code in ("1xx", "2xx", "3xx", "4xx", "5xx"):
        val = f.get(f"hrsp_{code}")
        if pct:
            rows.append((f"- HTTP {code} responses:", _n(val), f"({_pct(val, total)})"))
        else:
            rows.append((f"- HTTP {code} responses:", _n(val)))
        if code == "2xx" and not pct:
            rows.append(("&nbsp;&nbsp;Compressed 2xx:", _n(f.get("comp_rsp")),
                         f"({_pct(f.get('comp_rsp'), val)})"))
    if pct:
        rows.append(("- other responses:", _n(f.get("hrsp_other")),
                     f"({_pct(f.get('hrsp_other'), total)})"))
    else:
        rows.append(("- other responses:", _n(f.get("hrsp_other"))))
    return rows


def _times(f: dict[str, Any]) -> list[Any]:
    return [("Max / Avg over last 1024 success. conn.",),
            ("- Queue time:", f"{_n(f.get('qtime_max'))} / {_n(f.get('qtime'))}", "ms"),
            ("- Connect time:", f"{_n(f.get('ctime_max'))} / {_n(f.get('ctime'))}", "ms"),
            ("- Responses time:", f"{_n(f.get('rtime_max'))} / {_n(f.get('rtime'))}", "ms"),
            ("- Total time:", f"{_n(f.get('ttime_max'))} / {_n(f.get('ttime'))}", "ms")]


def _bytes_out(f: dict[str, Any]) -> str:
    comp_in, comp_out = int(f.get("comp_in") or 0), int(f.get("comp_out") or 0)
    return (f"<td>{u2h(f.get('bout'))}" + _det([
        ("Response bytes in:", u2h(f.get("bout"))),
        ("Compression in:", u2h(comp_in)),
        ("Compression out:", u2h(comp_out), f"({_pct(comp_out, comp_in)})"),
        ("Compression bypass:", u2h(f.get("comp_byp") or 0)),
        ("Total bytes saved:", u2h(max(comp_in - comp_out, 0)),
         f"({_pct(comp_in - comp_out, f.get('bout'))})")]) + "</td>")


def _anchor(px: Any, label: str, key: str) -> tuple[str, str]:
    ref = f"{escape(px.name)}/{escape(key)}"
    return (f'<a name="{ref}"></a>', f'<a class=lfsb href="#{ref}">{escape(label)}</a>')


def _frontend_row(obj: Any, f: dict[str, Any], st: Any, modules: list[Any]) -> str:
    px = obj.px
    name, link = _anchor(px, "Frontend", "Frontend")
    http = px.mode == "http"
    rate_rows = [("Current connection rate:", f"{_n(f.get('conn_rate'))}/s"),
                 ("Current session rate:", f"{_n(f.get('rate'))}/s")]
    max_rows = [("Max connection rate:", f"{_n(f.get('conn_rate_max'))}/s"),
                ("Max session rate:", f"{_n(f.get('rate_max'))}/s")]
    total_rows: list[Any] = [("Cum. connections:", u2h(f.get("conn_tot"))),
                             ("Cum. sessions:", u2h(f.get("stot")))]
    if http:
        rate_rows.append(("Current request rate:", f"{_n(f.get('req_rate'))}/s"))
        max_rows.append(("Max request rate:", f"{_n(f.get('req_rate_max'))}/s"))
        total_rows += _http_lines(f, False)
        total_rows += [("Intercepted requests:", u2h(f.get("intercepted"))),
                       ("Cache lookups:", u2h(f.get("cache_lookups"))),
                       ("Cache hits:", u2h(f.get("cache_hits")),
                        f"({_pct(f.get('cache_hits'), f.get('cache_lookups'))})"),
                       ("Failed hdr rewrites:", u2h(f.get("wrew"))),
                       ("Internal errors:", u2h(f.get("eint")))]
    rate_lim = f.get("rate_lim")
    cells = [
        f'<tr class="frontend"><td></td><td class=ac>{name}{link}</td><td colspan=3></td>',
        _tip(u2h(f.get("rate")), rate_rows), _tip(u2h(f.get("rate_max")), max_rows),
        f"<td>{u2h(rate_lim) if rate_lim else '-'}</td>",
        f"<td>{u2h(f.get('scur'))}</td><td>{u2h(f.get('smax'))}</td>"
        f"<td>{u2h(f.get('slim'))}</td>",
        _tip(u2h(f.get("stot")), total_rows), "<td></td><td></td>",
        f"<td>{u2h(f.get('bin'))}</td>",
        _bytes_out(f) if http else f"<td>{u2h(f.get('bout'))}</td>",
        f"<td>{u2h(f.get('dreq'))}</td><td>{u2h(f.get('dresp'))}</td>",
        f"<td>{u2h(f.get('ereq'))}</td><td></td><td></td><td></td><td></td>",
        f"<td class=ac>{escape(_n(f.get('status')))}</td><td class=ac colspan=8></td>",
        _module_cells("F", f, modules), "</tr>"]
    return "".join(cells)


def _listener_row(obj: Any, f: dict[str, Any], st: Any, modules: list[Any]) -> str:
    px = obj.px
    label = str(f.get("svname"))
    name, link = _anchor(px, label, "+" + label)
    if st.legends:
        link = f"<u>{link}<div class=tips>{_addr_tip(obj, f, obj.sid)}</div></u>"
    return "".join([
        f"<tr class=socket><td></td><td class=ac>{name}{link}</td><td colspan=3></td>"
        "<td colspan=3>&nbsp;</td>",
        f"<td>{u2h(f.get('scur'))}</td><td>{u2h(f.get('smax'))}</td>"
        f"<td>{u2h(f.get('slim'))}</td><td>{u2h(f.get('stot'))}</td>"
        "<td>&nbsp;</td><td>&nbsp;</td>",
        f"<td>{u2h(f.get('bin'))}</td><td>{u2h(f.get('bout'))}</td>",
        f"<td>{u2h(f.get('dreq'))}</td><td>{u2h(f.get('dresp'))}</td>",
        f"<td>{u2h(f.get('ereq'))}</td><td></td><td></td><td></td><td></td>",
        f"<td class=ac>{escape(_n(f.get('status')))}</td><td class=ac colspan=8></td>",
        _module_cells("L", f, modules), "</tr>"])


def row_class(obj: Any, status: str) -> str:
    """The colour class of a server row, as HAProxy picks it."""
    prefix = "backup" if obj.srv.backup else "active"
    if status.startswith("MAINT"):
        return "maintain"
    if status == "DRAIN":
        return f"{prefix}_draining"
    if status == "NOLB":
        return f"{prefix}_nolb"
    if status == "no check":
        return f"{prefix}_no_check"
    if status.startswith("DOWN"):
        return f"{prefix}_going_up" if "/" in status else f"{prefix}_down"
    if status.startswith("UP") and "/" in status:
        return f"{prefix}_going_down"
    return f"{prefix}_up"


def _server_row(obj: Any, f: dict[str, Any], st: Any, admin: bool,
                modules: list[Any]) -> str:
    px, srv = obj.px, obj.srv
    status = str(f.get("status") or "")
    name, link = _anchor(px, srv.name, srv.name)
    if st.legends:
        link = f"<u>{link}<div class=tips>{_addr_tip(obj, f, obj.sid)}</div></u>"
    box = (f"<td><input class='{escape(px.name)}-checkbox' type=\"checkbox\" name=\"s\" "
           f'value="{escape(srv.name)}"></td>' if admin else "<td></td>")
    http = px.mode == "http"
    slim = f.get("slim")
    conn_rows = [("Current active connections:", _n(f.get("scur"))),
                 ("Current used connections:", _n(f.get("used_conn_cur"))),
                 ("Current idle connections:", _n(f.get("srv_icur"))),
                 ("- unsafe:", _n(f.get("idle_conn_cur"))),
                 ("- safe:", _n(f.get("safe_conn_cur"))),
                 ("Estimated need of connections:", _n(f.get("need_conn_est"))),
                 ("Active connections limit:", _n(slim) if slim else "-"),
                 ("Idle connections limit:", _n(f.get("src_ilim")) if f.get("src_ilim")
                  else "-")]
    total_rows: list[Any] = [("Cum. sessions:", u2h(f.get("stot"))),
                             ("New connections:", u2h(f.get("connect"))),
                             ("Reused connections:", u2h(f.get("reuse")),
                              f"({_pct(f.get('reuse'), f.get('connect'))})")]
    if http:
        total_rows += _http_lines(f, True)
        total_rows += [("Failed hdr rewrites:", u2h(f.get("wrew"))),
                       ("Internal error:", u2h(f.get("eint")))]
    total_rows += _times(f)
    if status == "no check":
        state = "<i>no check</i>"
    else:
        state = f"{human_time(f.get('lastchg'))} {escape(status)}"
    check = f.get("check_status")
    if check:
        code = f.get("check_code")
        text = f" {escape(str(check))}"
        if code:
            text += f"/{code}"
        text += f" in {_n(f.get('check_duration'))}ms"
        lastchk = (f"<td class=ac><u>{text}<div class=tips>"
                   f"{escape(str(f.get('check_desc') or ''))}"
                   f"{': ' + escape(str(f.get('last_chk'))) if f.get('last_chk') else ''}"
                   "</div></u></td>")
    else:
        lastchk = "<td></td>"
    if f.get("chkfail") is not None:
        chk = (f"<td><u>{u2h(f.get('chkfail'))}<div class=tips>Failed Health Checks</div>"
               f"</u></td><td>{u2h(f.get('chkdown'))}</td>"
               f"<td>{human_time(f.get('downtime'))}</td>")
    else:
        chk = "<td colspan=3></td>"
    throttle = f.get("throttle")
    return "".join([
        f'<tr class="{row_class(obj, status)}">{box}<td class=ac>{name}{link}</td>',
        f"<td>{u2h(f.get('qcur'))}</td><td>{u2h(f.get('qmax'))}</td>"
        f"<td>{u2h(f.get('qlimit')) if f.get('qlimit') else '-'}</td>",
        f"<td>{u2h(f.get('rate'))}</td><td>{u2h(f.get('rate_max'))}</td><td></td>",
        _tip(u2h(f.get("scur")), conn_rows), f"<td>{u2h(f.get('smax'))}</td>",
        f"<td>{u2h(slim) if slim else '-'}</td>", _tip(u2h(f.get("stot")), total_rows),
        f"<td>{u2h(f.get('lbtot'))}</td><td>{human_time(f.get('lastsess'))}</td>",
        f"<td>{u2h(f.get('bin'))}</td><td>{u2h(f.get('bout'))}</td>",
        f"<td></td><td>{u2h(f.get('dresp'))}</td>",
        f"<td></td><td>{u2h(f.get('econ'))}</td>",
        f"<td><u>{u2h(f.get('eresp'))}<div class=tips>Connection resets during transfers: "
        f"{_n(f.get('cli_abrt'))} client, {_n(f.get('srv_abrt'))} server</div></u></td>",
        f"<td>{u2h(f.get('wretr'))}</td><td>{u2h(f.get('wredis'))}</td>",
        f"<td class=ac>{state}</td>", lastchk,
        f"<td class=ac>{_n(f.get('uweight'))}/{srv.weight}</td>",
        f"<td class=ac>{'-' if srv.backup else 'Y'}</td>",
        f"<td class=ac>{'Y' if srv.backup else '-'}</td>", chk,
        f"<td class=ac>{f'{throttle} %' if throttle else '-'}</td>",
        _module_cells("S", f, modules), "</tr>\n"])


def _backend_row(obj: Any, f: dict[str, Any], st: Any, modules: list[Any]) -> str:
    px = obj.px
    name, link = _anchor(px, "Backend", "Backend")
    label = f"{name}{link}"
    if st.legends:
        label = f"<u>{label}<div class=tips>balancing: {escape(_n(f.get('algo')))}</div></u>"
    http = px.mode == "http"
    total_rows: list[Any] = [("Cum. sessions:", u2h(f.get("stot"))),
                             ("New connections:", u2h(f.get("connect"))),
                             ("Reused connections:", u2h(f.get("reuse")),
                              f"({_pct(f.get('reuse'), f.get('connect'))})")]
    if http:
        total_rows += _http_lines(f, False)
        total_rows += [("Cache lookups:", u2h(f.get("cache_lookups"))),
                       ("Cache hits:", u2h(f.get("cache_hits")),
                        f"({_pct(f.get('cache_hits'), f.get('cache_lookups'))})"),
                       ("Failed hdr rewrites:", u2h(f.get("wrew"))),
                       ("Internal errors:", u2h(f.get("eint")))]
    total_rows += _times(f)
    status = escape(_n(f.get("status")))
    downtime = human_time(f.get("downtime")) if px.servers else "&nbsp;"
    return "".join([
        f'<tr class="backend"><td></td><td class=ac>{label}</td>',
        f"<td>{u2h(f.get('qcur'))}</td><td>{u2h(f.get('qmax'))}</td><td></td>",
        f"<td>{u2h(f.get('rate'))}</td><td>{u2h(f.get('rate_max'))}</td><td></td>",
        f"<td>{u2h(f.get('scur'))}</td><td>{u2h(f.get('smax'))}</td>"
        f"<td>{u2h(f.get('slim'))}</td>", _tip(u2h(f.get("stot")), total_rows),
        f"<td>{u2h(f.get('lbtot'))}</td><td>{human_time(f.get('lastsess'))}</td>",
        f"<td>{u2h(f.get('bin'))}</td>",
        _bytes_out(f) if http else f"<td>{u2h(f.get('bout'))}</td>",
        f"<td>{u2h(f.get('dreq'))}</td><td>{u2h(f.get('dresp'))}</td>",
        f"<td></td><td>{u2h(f.get('econ'))}</td>",
        f"<td><u>{u2h(f.get('eresp'))}<div class=tips>Connection resets during transfers: "
        f"{_n(f.get('cli_abrt'))} client, {_n(f.get('srv_abrt'))} server</div></u></td>",
        f"<td>{u2h(f.get('wretr'))}</td><td>{u2h(f.get('wredis'))}</td>",
        f"<td class=ac>{human_time(f.get('lastchg'))} {status}</td>",
        "<td class=ac>&nbsp;</td>",
        f"<td class=ac>{_n(f.get('uweight'))}/{_n(f.get('weight'))}</td>",
        f"<td class=ac>{_n(f.get('act'))}</td><td class=ac>{_n(f.get('bck'))}</td>",
        f"<td class=ac>&nbsp;</td><td>{u2h(f.get('chkdown'))}</td><td>{downtime}</td>"
        "<td></td>", _module_cells("B", f, modules), "</tr>"])


def _admin_form_end(px: Any) -> str:
    options = "".join(f'<option value="{v}">{t}</option>' for v, t in ADMIN_OPTIONS)
    return ("Choose the action to perform on the checked servers : <select name=action>"
            f'{options}</select><input type="hidden" name="b" value="#{px.uuid}">&nbsp;'
            '<input type="submit" value="Apply"></form>')


def page(pg: Any, reg: Any, objs: list[Any], opts: Any) -> str:
    """The whole HTML page for ``objs`` (rows of show stat, already filtered)."""
    st = pg.settings
    info = _info(pg, reg)
    out = _head(pg, info, opts)
    modules = _modules(reg) if st.modules else []
    by_proxy: dict[int, list[Any]] = {}
    order: list[Any] = []
    for obj in objs:
        if id(obj.px) not in by_proxy:
            by_proxy[id(obj.px)] = []
            order.append(obj.px)
        by_proxy[id(obj.px)].append(obj)
    for px in order:
        admin = opts.admin and px.is_backend and bool(px.servers)
        if admin:
            out.append('<form method="post">')
        out.append(_table_head(px, admin, st.legends, modules))
        for obj in by_proxy[id(px)]:
            f = {fld.name: val for _pos, fld, val in values(reg, obj)}
            if obj.kind == "F":
                out.append(_frontend_row(obj, f, st, modules))
            elif obj.kind == "L":
                out.append(_listener_row(obj, f, st, modules))
            elif obj.kind == "S":
                out.append(_server_row(obj, f, st, admin, modules))
            else:
                out.append(_backend_row(obj, f, st, modules))
        out.append("</table>")
        if admin:
            out.append(_admin_form_end(px))
        out.append("<p>\n")
    out.append("</body></html>\n")
    return "".join(out)
