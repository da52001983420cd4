"""The HTML statistics page (plugin stats_page), listener rows (option socket-stats) and
show errors, against a running hapx with real clients (httpx, headless Chromium, socat) and
compared with Debian's haproxy 2.6 where it has the same configuration."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import threading
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from cliutil import socat_cli
from netutil import OriginServer, free_port, run_haproxy, run_hapx, wait_until
from test_runtime_api import parse_csv

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium is not installed (apt-get install chromium)")


def page_config(port: int, stats_port: int, origin: int, dead: int, sock: str, *,
                stats: str = "", port2: int | None = None, servers: str = "") -> str:
    port2 = port2 if port2 is not None else free_port()
    return f"""
global
    stats socket {sock} level admin
defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 2s
frontend fe
    bind 127.0.0.1:{port}
    bind 127.0.0.1:{port2} name second
    option socket-stats
    default_backend be
backend be
    server s1 127.0.0.1:{origin}
    server s2 127.0.0.1:{dead} disabled
    server s3 127.0.0.1:{origin} backup
{servers}listen stats
    bind 127.0.0.1:{stats_port}
    stats enable
    stats uri /st
{stats}"""


class Dom(HTMLParser):
    """The rows of the page's tables: (tr class, [cell texts]), and the forms' inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[str, list[str]]] = []
        self.inputs: list[dict[str, str]] = []
        self.options: list[str] = []
        self._cell: list[str] | None = None
        self._tips = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if self._tips and tag != "div":
            return  # a tooltip's own table
        if tag == "tr":
            self.rows.append((a.get("class", ""), []))
        elif tag in ("td", "th") and self.rows:
            self._cell = []
        elif tag == "div" and a.get("class") == "tips":
            self._tips += 1
        elif tag == "input":
            self.inputs.append(a)
        elif tag == "option":
            self.options.append(a.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "div" and self._tips:
            self._tips -= 1
        elif tag in ("td", "th") and self._cell is not None and not self._tips:
            self.rows[-1][1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None and not self._tips:
            self._cell.append(data)

    def row(self, name: str) -> tuple[str, list[str]]:
        for cls, cells in self.rows:
            if len(cells) > 1 and cells[1] == name:
                return cls, cells
        raise AssertionError(f"no row {name!r} in {self.rows}")


def dom(text: str) -> Dom:
    d = Dom()
    d.feed(text)
    return d


def chromium(url: str, tmp: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                           f"--user-data-dir={tmp / 'chromium-profile'}", *args, url],
                          capture_output=True, timeout=120)


# -- the page in a browser ---------------------------------------------------------------------

@needs_chromium
def test_page_renders_in_chromium(tmp_path):
    origin = OriginServer()
    port, stats_port, dead = free_port(), free_port(), free_port()
    sock = str(tmp_path / "s.sock")
    with origin, run_hapx(page_config(port, stats_port, origin.port, dead, sock,
                                      stats="    stats show-legends\n    stats refresh 5s\n"),
                          ready_ports=[port, stats_port, sock]):
        with httpx.Client() as c:
            assert c.get(f"http://127.0.0.1:{port}/x").status_code == 200
        url = f"http://127.0.0.1:{stats_port}/st;norefresh"
        shot = tmp_path / "page.png"
        res = chromium(url, tmp_path, f"--screenshot={shot}", "--window-size=1400,900")
        assert res.returncode == 0, res.stderr.decode(errors="replace")
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10000
        res = chromium(url, tmp_path, "--dump-dom")
        assert res.returncode == 0
        page = dom(res.stdout.decode("latin-1"))
    fe_cls, fe = page.row("Frontend")
    assert fe_cls == "frontend" and "OPEN" in fe
    assert page.row("sock-1")[0] == "socket" and page.row("second")[0] == "socket"
    cls, s1 = page.row("s1")
    assert cls == "active_no_check" and s1[-7] == "no check" and s1[-5] == "1/1"
    cls, s2 = page.row("s2")
    assert cls == "maintain" and any(c.endswith(" MAINT") for c in s2)
    assert page.row("s3")[0] == "backup_no_check"
    cls, be = page.row("Backend")
    assert cls == "backend" and any(c.endswith(" UP") for c in be)
    # the column groups of HAProxy's page
    titles = [cells for cls, cells in page.rows if cls == "titre" and "Queue" in cells][0]
    assert titles[2:] == ["Queue", "Session rate", "Sessions", "Bytes", "Denied", "Errors",
                          "Warnings", "Server"]


# -- the admin form ------------------------------------------------------------------------------

def test_admin_form_puts_a_server_in_maintenance(tmp_path):
    origin = OriginServer()
    port, stats_port, dead = free_port(), free_port(), free_port()
    sock = str(tmp_path / "s.sock")
    stats = "    stats auth admin:secret\n    stats admin if TRUE\n"
    with origin, run_hapx(page_config(port, stats_port, origin.port, dead, sock, stats=stats),
                          ready_ports=[port, stats_port, sock]):
        base = f"http://127.0.0.1:{stats_port}"
        with httpx.Client(auth=("admin", "secret")) as c:
            text = c.get(base + "/st").text
            page = dom(text)
            assert '<form method="post">' in text
            boxes = [i["value"] for i in page.inputs if i.get("name") == "s"]
            assert boxes == ["s1", "s2", "s3"]
            b = next(i["value"] for i in page.inputs if i.get("name") == "b")
            assert {"ready", "drain", "maint", "shutdown"} <= set(page.options)
            res = c.post(base + "/st", data={"s": "s1", "action": "maint", "b": b})
            assert res.status_code == 303
            assert res.headers["location"] == "/st;st=DONE"
            assert res.headers["content-type"] == "text/plain"
            done = c.get(base + res.headers["location"]).text
            assert "Action processed successfully." in done
            csv_rows = parse_csv(socat_cli(sock, "show stat"))[1]
            status = {r["svname"]: r["status"] for r in csv_rows if r["pxname"] == "be"}
            assert status["s1"] == "MAINT"
            assert dom(c.get(base + "/st").text).row("s1")[0] == "maintain"
            # one known and one unknown server: partly done; unknown backend: ERRP
            res = c.post(base + "/st;up", data={"s": ["s1", "nope"], "action": "ready",
                                                "b": b})
            assert res.headers["location"] == "/st;st=PART;up"
            res = c.post(base + "/st", data={"s": "s1", "action": "maint", "b": "#999"})
            assert res.headers["location"] == "/st;st=ERRP"
            res = c.post(base + "/st", data={"s": "s1", "action": "bogus", "b": b})
            assert res.headers["location"] == "/st;st=ERRP"
            status = {r["svname"]: r["status"] for r in parse_csv(socat_cli(sock, "show stat"))[1]
                      if r["pxname"] == "be"}
            assert status["s1"] == "no check"
            # the page's own messages for each code
            assert "Action partially processed." in c.get(base + "/st;st=PART").text
            assert "Action denied." in c.get(base + "/st;st=DENY").text


def test_post_without_stats_admin_is_denied(tmp_path):
    origin = OriginServer()
    port, stats_port, dead = free_port(), free_port(), free_port()
    sock = str(tmp_path / "s.sock")
    with origin, run_hapx(page_config(port, stats_port, origin.port, dead, sock,
                                      stats="    stats admin if FALSE\n"),
                          ready_ports=[port, stats_port, sock]):
        with httpx.Client() as c:
            base = f"http://127.0.0.1:{stats_port}"
            assert '<form method="post">' not in c.get(base + "/st").text
            res = c.post(base + "/st", data={"s": "s1", "action": "maint", "b": "#2"})
            assert res.status_code == 303 and res.headers["location"] == "/st;st=DENY"
        rows = parse_csv(socat_cli(sock, "show stat"))[1]
        assert [r["status"] for r in rows if r["svname"] == "s1"] == ["no check"]


# -- authentication, options, exports ----------------------------------------------------------

AUTH_CFG = """
defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 2s
listen stats
    bind 127.0.0.1:{port}
    stats uri /st
    stats realm Private\\ Zone
    stats auth admin:secret
    stats auth other:pw2
"""


def _auth_answers(port: int) -> list[tuple[int, str | None]]:
    out = []
    with httpx.Client() as c:
        for auth in (None, ("admin", "bad"), ("nobody", "secret"), ("admin", "secret"),
                     ("other", "pw2")):
            res = c.get(f"http://127.0.0.1:{port}/st", auth=auth)
            out.append((res.status_code, res.headers.get("www-authenticate")))
    return out


def test_auth_answers_401_with_the_realm_as_haproxy():
    answers = {}
    for name, runner in (("haproxy", run_haproxy), ("hapx", run_hapx)):
        port = free_port()
        with runner(AUTH_CFG.format(port=port), ready_ports=[port]):
            answers[name] = _auth_answers(port)
    challenge = 'Basic realm="Private Zone"'
    assert answers["hapx"] == [(401, challenge)] * 3 + [(200, None)] * 2
    assert answers["hapx"] == answers["haproxy"]


def test_exports_scope_and_options(tmp_path):
    origin = OriginServer()
    port, stats_port, dead = free_port(), free_port(), free_port()
    sock = str(tmp_path / "s.sock")
    stats = ("    stats refresh 7s\n    stats hide-version\n    stats show-node edge-1\n"
             "    stats show-desc the edge\n    stats http-request deny if { src 10.0.0.1 }\n")
    with origin, run_hapx(page_config(port, stats_port, origin.port, dead, sock, stats=stats),
                          ready_ports=[port, stats_port, sock]):
        base = f"http://127.0.0.1:{stats_port}"
        with httpx.Client() as c:
            assert c.get(f"http://127.0.0.1:{port}/").status_code == 200
            res = c.get(base + "/st")
            assert res.headers["content-type"] == "text/html"
            assert res.headers["refresh"] == "7"
            assert res.headers["cache-control"] == "no-cache"
            text = res.text
            assert "<title>Statistics Report for HAProxy on edge-1</title>" in text
            assert ">HAProxy</a></h1>" in text and "version" not in text.split("</h1>")[0]
            assert "on edge-1: the edge</h2>" in text
            assert "refresh" not in c.get(base + "/st;norefresh").headers
            # ;up hides the server in maintenance; scope= keeps the matching proxies
            up = dom(c.get(base + "/st;up").text)
            names = [cells[1] for _c, cells in up.rows if len(cells) > 1]
            assert "s1" in names and "s2" not in names
            scoped = c.get(base + "/st?scope=stat").text
            assert 'name="stats"' in scoped and 'name="be"' not in scoped
            # the exports are show stat's
            csv_text = c.get(base + "/st;csv").text
            assert res.status_code == 200
            sock_csv = socat_cli(sock, "show stat")
            page_header, page_rows = parse_csv(csv_text + "\n")
            cli_header, cli_rows = parse_csv(sock_csv)
            assert page_header == cli_header
            assert [(r["pxname"], r["svname"], r["type"]) for r in page_rows] == \
                [(r["pxname"], r["svname"], r["type"]) for r in cli_rows]
            js = c.get(base + "/st;json")
            assert js.headers["content-type"] == "application/json"
            cli_js = httpx.Response(200, text=socat_cli(sock, "show stat json")).json()
            page_js = js.json()
            assert [[(f["objType"], f["field"]["name"]) for f in row] for row in page_js] == \
                [[(f["objType"], f["field"]["name"]) for f in row] for row in cli_js]
            typed = c.get(base + "/st;typed").text
            assert typed.splitlines()[0].startswith("F.")
            schema = c.get(base + "/st;json-schema")
            assert schema.headers["content-type"] == "application/json"
            items = schema.json()["items"]["items"]
            assert set(items["required"]) == set(page_js[0][0])


def _tags(text: str) -> list[str]:
    """The page's element structure: tag, class and colspan of every element."""
    out = []

    class P(HTMLParser):
        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if tag not in ("style", "link", "meta"):
                out.append(f"<{tag} {a.get('class', '')} {a.get('colspan', '')}>")

        def handle_endtag(self, tag):
            out.append(f"</{tag}>")
    P().feed(text)
    return out


def test_page_structure_matches_haproxy_26(tmp_path):
    """Same configuration on haproxy 2.6 and hapx: the same elements, classes and column
    spans in the same order (values aside)."""
    origin = OriginServer()
    dead = free_port()
    pages = {}
    stats = ("    stats show-legends\n    stats refresh 10s\n    stats admin if TRUE\n"
             "    stats show-node\n    stats show-desc hello\n")
    with origin:
        for name, runner in (("haproxy", run_haproxy), ("hapx", run_hapx)):
            port, stats_port = free_port(), free_port()
            sock = str(tmp_path / f"{name}.sock")
            checked = f"    server s4 127.0.0.1:{dead} check inter 500ms\n"
            with runner(page_config(port, stats_port, origin.port, dead, sock, stats=stats,
                                    servers=checked),
                        ready_ports=[port, stats_port, sock]):
                wait_until(lambda s=sock: ",s4,0,0,0,0,,0,0,0,,0,,0,0,0,0,DOWN," in
                           socat_cli(s, "show stat"), timeout=15)
                with httpx.Client() as c:
                    assert c.get(f"http://127.0.0.1:{port}/").status_code == 200
                    pages[name] = c.get(f"http://127.0.0.1:{stats_port}/st").text
    assert _tags(pages["hapx"]) == _tags(pages["haproxy"])
    s4 = dom(pages["hapx"]).row("s4")
    assert s4[0] == "active_down" and s4[1][-9].endswith(" DOWN")
    assert s4[1][-8].startswith("L4CON in ")
    for cls in ("frontend", "socket", "active_no_check", "maintain", "backup_no_check",
                "backend", "active_down"):
        assert (f'<tr class="{cls}">' in pages["hapx"] or f"<tr class={cls}>" in
                pages["hapx"]), cls


# -- listener rows -------------------------------------------------------------------------------

def test_listener_rows_match_haproxy_26(tmp_path):
    origin = OriginServer()
    dead = free_port()
    outs = {}
    with origin:
        for name, runner in (("haproxy", run_haproxy), ("hapx", run_hapx)):
            port, port2, stats_port = free_port(), free_port(), free_port()
            sock = str(tmp_path / f"{name}.sock")
            with runner(page_config(port, stats_port, origin.port, dead, sock, port2=port2),
                        ready_ports=[port, port2, stats_port, sock]):
                with httpx.Client() as c:
                    for p in (port, port2, port2):
                        assert c.get(f"http://127.0.0.1:{p}/").status_code == 200
                raw = socket.create_connection(("127.0.0.1", port2))
                raw.sendall(b"GET / HTTP/1.1\r\nHo st: x\r\n\r\n")
                assert raw.recv(100).startswith(b"HTTP/1.1 400")
                raw.close()
                wait_until(lambda s=sock: [r["stot"]
                                           for r in parse_csv(socat_cli(s, "show stat"))[1]
                                           if r["svname"] == "second"] == ["2"],
                           message=lambda s=sock: socat_cli(s, "show stat"))
                outs[name] = ((port, port2), socat_cli(sock, "show stat"),
                              socat_cli(sock, "show stat typed"))
    (ref_ports, ref_csv, ref_typed), (ports, csv_text, typed) = outs["haproxy"], outs["hapx"]
    ref_header = ref_csv[2:].split("\n", 1)[0].split(",")
    common = ref_header[:ref_header.index("-")]
    import csv
    import io
    ref_rows = [dict(zip(ref_header, r, strict=False))
                for r in csv.reader(io.StringIO(ref_csv[2:])) if len(r) > 2][1:]
    rows = parse_csv(csv_text)[1]
    ref_l = [r for r in ref_rows if r["type"] == "3"]
    mine_l = [r for r in rows if r["type"] == "3"]
    assert [r["svname"] for r in mine_l] == [r["svname"] for r in ref_l] == ["sock-1",
                                                                              "second"]
    for mine, theirs in zip(mine_l, ref_l, strict=True):
        filled = {c for c in common if theirs[c] != ""}
        assert {c for c in common if mine[c] != ""} == filled
        for col in ("pxname", "scur", "slim", "stot", "dreq", "dresp", "ereq", "status",
                    "pid", "sid", "type", "mode", "dcon", "dses", "wrew", "eint"):
            assert mine[col] == theirs[col], (mine["svname"], col)
        ref_addr = theirs["addr"].replace(f":{ref_ports[0]}", f":{ports[0]}")
        assert mine["addr"] == ref_addr.replace(f":{ref_ports[1]}", f":{ports[1]}")
    # typed: L.<iid>.<sid> lines with the same fields
    ref_fields = [ln.split(".")[4] for ln in ref_typed.splitlines() if ln.startswith("L.")]
    fields = [ln.split(".")[4] for ln in typed.splitlines() if ln.startswith("L.")]
    assert [f for f in fields if f != "proto"] == [f for f in ref_fields if f in common]


# -- show errors -------------------------------------------------------------------------------

class BadOrigin:
    """A server answering every request with an invalid response head."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                try:
                    conn.recv(65536)
                    conn.sendall(b"HTTP/1.1 200 OK\r\nBad Header\r\nContent-Length: 0\r\n\r\n")
                except OSError:
                    pass

    def __enter__(self) -> BadOrigin:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


ERR_CFG = """
global
    stats socket {sock} level admin
defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 2s
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
    server s1 127.0.0.1:{bad}
"""


def _mask(text: str) -> list[str]:
    out = []
    for line in text.splitlines():
        if line.startswith("  H1 "):
            continue  # 2.6's H1 multiplexer flags: hapx has no such multiplexer
        line = re.sub(r"\[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d\.\d{3}\]", "[DATE]", line)
        line = re.sub(r"src 127\.0\.0\.1:\d+", "src ADDR", line)
        line = re.sub(r"\(#\d+\)", "(#ID)", line)
        line = re.sub(r"wraps at \d+", "wraps at N", line)
        out.append(line)
    return out


def test_show_errors_after_bad_request_and_response(tmp_path):
    outs = {}
    with BadOrigin() as bad:
        for name, runner in (("haproxy", run_haproxy), ("hapx", run_hapx)):
            port = free_port()
            sock = str(tmp_path / f"{name}.sock")
            with runner(ERR_CFG.format(sock=sock, port=port, bad=bad.port),
                        ready_ports=[port, sock]):
                empty = socat_cli(sock, "show errors")
                assert re.fullmatch(r"Total events captured on \[[^]]+\] : 0\n\n", empty)
                with httpx.Client() as c:
                    assert c.get(f"http://127.0.0.1:{port}/x").status_code == 502
                raw = socket.create_connection(("127.0.0.1", port))
                raw.sendall(b"GET / HTTP/1.1\r\nHo st: x\r\nX-Long: " + b"a" * 90 +
                            b"\x01\r\n\r\n")
                assert raw.recv(100).startswith(b"HTTP/1.1 400")
                raw.close()
                outs[name] = {
                    "all": socat_cli(sock, "show errors"),
                    "fe": socat_cli(sock, "show errors fe"),
                    "req": socat_cli(sock, "show errors -1 request"),
                    "resp": socat_cli(sock, "show errors be response"),
                    "none": socat_cli(sock, "show errors be request"),
                    "bad": socat_cli(sock, "show errors nosuch"),
                }
    mine, ref = outs["hapx"], outs["haproxy"]
    for key in mine:
        assert _mask(mine[key]) == _mask(ref[key]), key
    text = mine["all"]
    assert "frontend fe (#1): invalid request" in text
    assert "backend be (#2): invalid response" in text
    assert "error at position 18" in text and "  00016  Ho st: x\\r\\n" in text
    assert "  00017  Bad Header\\r\\n" in text
    assert mine["bad"] == "No such proxy.\n\n"
