"""Traffic log lines: what a frontend sends when a stream ends (HAProxy's exact tcplog and
httplog layouts, the options that filter lines, levels, tags, structured data, the legacy
"Connect from" line, the stop messages), to real receivers; then end to end with hapx as a
real process, compared field by field with Debian's haproxy where it has the feature."""

from __future__ import annotations

import io
import ipaddress
import os
import re
import socket
import time
from pathlib import Path

import pytest
from hapx.core.config.parser import parse_config
from hapx.core.errors import Diagnostics
from hapx.core.loader import load_plugins
from hapx.core.stream import HttpMessage, Session, Stream
from hapx.plugins.logs import emit
from netutil import UdpSyslog

ACCEPT = time.mktime((2026, 3, 4, 5, 6, 7, 0, 0, -1)) + 0.089
NOW = ACCEPT + 1
LEGACY = time.strftime("%b %e %H:%M:%S", time.localtime(NOW))
PID = os.getpid()


@pytest.fixture(scope="module")
def plugins():
    return load_plugins(warn=lambda text: None)


@pytest.fixture
def rx():
    with UdpSyslog() as r:
        yield r


def load(tmp_path: Path, plugins, text: str):
    cfg = tmp_path / "l.cfg"
    cfg.write_text(text)
    diag = Diagnostics(stream=io.StringIO())
    config = parse_config([str(cfg)], plugins, diag)
    assert not diag.alerts, diag.stream.getvalue()
    return config


def logger_of(px) -> emit.StreamLogger:
    found = [fn for fn in px.stream_end if isinstance(fn, emit.StreamLogger)]
    assert len(found) == 1
    return found[0]


def tcp_stream(config, fe_name="fe", **kw) -> Stream:
    fe = next(p for p in config.proxies if p.name == fe_name)
    be = config.backend("be")
    sess = Session(src=ipaddress.ip_address("10.0.0.1"), src_port=41234,
                   dst=ipaddress.ip_address("127.0.0.1"), dst_port=8080, frontend=fe,
                   accept_date=ACCEPT)
    strm = Stream(sess=sess, frontend=fe, backend=be, server=be.servers[0])
    strm.timers.update(Tw=0, Tc=1, Tt=25)
    strm.counters.update(bytes_in=5, bytes_out=7, act_conn=1, fe_conn=1, be_conn=1,
                         srv_conn=1)
    for key, value in kw.items():
        setattr(strm, key, value)
    return strm


TCP_CFG = """
global
    log {addr} local0
    log-tag hapx
defaults
    mode tcp
    log global
frontend fe
    option tcplog
    bind 127.0.0.1:1
    default_backend be
backend be
    server s1 127.0.0.1:2
"""


def test_tcplog_line(tmp_path, plugins, rx):
    config = load(tmp_path, plugins, TCP_CFG.format(addr=rx.address))
    fe = config.proxies[0]
    assert logger_of(fe).emit(tcp_stream(config), now=NOW)
    assert rx.wait_for(1)[0] == (
        f"<134>{LEGACY} hapx[{PID}]: 10.0.0.1:41234 [04/Mar/2026:05:06:07.089] fe be/s1 "
        "0/1/25 7 -- 1/1/1/1/0 0/0")
    assert rx.raw[0].endswith(b"0/0\n")
    # through the stream_end list, as the engine calls it (the header time is now)
    for fn in fe.stream_end:
        fn(tcp_stream(config, term_state="SC", server=None))
    line = rx.wait_for(2)[1]
    assert re.fullmatch(r"<134>\w{3} [ \d]\d \d\d:\d\d:\d\d hapx\[\d+\]: 10\.0\.0\.1:41234 "
                        r"\[04/Mar/2026:05:06:07\.089\] fe be/<NOSRV> 0/1/25 7 SC "
                        r"1/1/1/1/0 0/0", line), line


HTTP_CFG = """
global
    log {addr} local0
    log-tag hapx
defaults
    mode http
    log global
frontend fe
    option httplog
    {extra}
    bind 127.0.0.1:1
    default_backend be
backend be
    server s1 127.0.0.1:2
"""


def http_stream(config, **kw) -> Stream:
    strm = tcp_stream(config)
    strm.request_date = ACCEPT + 0.002
    strm.req = HttpMessage(method="GET", uri="/a?b=1", version="1.1")
    strm.status = 200
    strm.timers.update(Th=0, Ti=0, TR=1, Tw=0, Tc=1, Tr=3, Ta=6)
    for key, value in kw.items():
        setattr(strm, key, value)
    return strm


def test_httplog_line_and_levels(tmp_path, plugins, rx):
    config = load(tmp_path, plugins, HTTP_CFG.format(addr=rx.address,
                                                     extra="option log-separate-errors"))
    log = logger_of(config.proxies[0])
    assert log.emit(http_stream(config), now=NOW)
    assert rx.wait_for(1)[0] == (
        f"<134>{LEGACY} hapx[{PID}]: 10.0.0.1:41234 [04/Mar/2026:05:06:07.091] fe be/s1 "
        '1/0/1/3/6 200 7 - - ---- 1/1/1/1/0 0/0 "GET /a?b=1 HTTP/1.1"')
    # errors: 5xx, a server abort, retries -> err with log-separate-errors
    log.emit(http_stream(config, status=503), now=NOW)
    log.emit(http_stream(config, term_state="SD"), now=NOW)
    log.emit(http_stream(config, conn_retries=1), now=NOW)
    # a local reply (L) is not an error
    log.emit(http_stream(config, term_state="LR", server=None), now=NOW)
    msgs = rx.wait_for(5)
    assert [m[:5] for m in msgs[1:]] == ["<131>", "<131>", "<131>", "<134>"]
    assert " fe be/<NOSRV> " in msgs[4] and " LR-- " in msgs[4]
    # set-log-level overrides, silent suppresses
    assert log.emit(http_stream(config, log_level="notice"), now=NOW)
    assert not log.emit(http_stream(config, log_level="silent"), now=NOW)
    assert rx.wait_for(6)[5].startswith("<133>")
    # no request parsed: <BADREQ>
    log.emit(http_stream(config, req=None, status=400, term_state="CR"), now=NOW)
    assert rx.wait_for(7)[6].endswith('"<BADREQ>"')


def test_dontlognull_and_dontlog_normal(tmp_path, plugins, rx):
    config = load(tmp_path, plugins, HTTP_CFG.format(
        addr=rx.address, extra="option dontlognull\n    option dontlog-normal"))
    log = logger_of(config.proxies[0])
    empty = http_stream(config, term_state="CR", req=None)
    empty.counters["bytes_in"] = 0
    assert not log.emit(empty, now=NOW)  # nothing received: not logged even as an error
    assert not log.emit(http_stream(config), now=NOW)  # normal: not logged
    assert log.emit(http_stream(config, term_state="sH", status=504), now=NOW)
    msgs = rx.wait_for(1)
    assert len(msgs) == 1 and " 504 " in msgs[0] and msgs[0].startswith("<134>")


def test_log_counter_and_formats(tmp_path, plugins, rx):
    config = load(tmp_path, plugins, f"""
global
    log {rx.address} format rfc5424 local1
    log {rx.address} format raw local2 err
    log-send-hostname edge1
defaults
    mode tcp
    log global
frontend fe
    log-tag front
    log-format "%ci %lc %ft"
    log-format-sd "[meta@1 fe=\\"%f\\"]"
    bind 127.0.0.1:1
    default_backend be
backend be
    server s1 127.0.0.1:2
""")
    log = logger_of(config.proxies[0])
    log.emit(tcp_stream(config), now=NOW)
    log.emit(tcp_stream(config, term_state="sD"), now=NOW)
    iso = emit.build_header("iso", 0, 0, now=NOW, tag="", pid="", host=None)[:-1]
    assert rx.wait_for(2) == [
        f'<142>1 {iso} edge1 front {PID} - [meta@1 fe="fe"] 10.0.0.1 0 fe',
        f'<142>1 {iso} edge1 front {PID} - [meta@1 fe="fe"] 10.0.0.1 1 fe',
    ]


def test_legacy_connect_line_and_no_log(tmp_path, plugins, rx):
    config = load(tmp_path, plugins, f"""
global
    log {rx.address} local0
defaults
    log global
frontend fe
    bind 127.0.0.1:1
    default_backend be
frontend quiet
    no log
    bind 127.0.0.1:3
    default_backend be
frontend web
    mode http
    bind 127.0.0.1:4
    default_backend be
backend be
    server s1 127.0.0.1:2
""")
    fe, quiet, web = config.proxies[:3]
    assert not any(isinstance(fn, emit.StreamLogger) for fn in quiet.stream_end)
    logger_of(fe).emit(tcp_stream(config), now=NOW)
    second = tcp_stream(config, "web", first_req=False)
    assert not logger_of(web).emit(second, now=NOW)  # once per connection
    logger_of(web).emit(tcp_stream(config, "web"), now=NOW)
    tag = emit.program_name()
    assert rx.wait_for(2) == [
        f"<134>{LEGACY} {tag}[{PID}]: Connect from 10.0.0.1:41234 to 127.0.0.1:8080 "
        "(fe/TCP)",
        f"<134>{LEGACY} {tag}[{PID}]: Connect from 10.0.0.1:41234 to 127.0.0.1:8080 "
        "(web/HTTP)",
    ]


def test_stopped_messages(tmp_path, plugins, rx, capfd):
    config = load(tmp_path, plugins, TCP_CFG.format(addr=rx.address))
    texts = emit.stopped_messages(config)
    assert texts == ["Proxy fe stopped (cumulated conns: FE: 0, BE: 0).",
                     "Proxy be stopped (cumulated conns: FE: 0, BE: 0)."]
    msgs = rx.wait_for(2)
    assert [m.split(": ", 1)[1] for m in msgs] == texts
    assert all(m.startswith("<132>") for m in msgs)
    err = capfd.readouterr().err
    assert f"[WARNING]  ({PID}) : Proxy fe stopped" in err


def test_ring_targets_are_active(tmp_path, plugins):
    cfg = tmp_path / "r.cfg"
    cfg.write_text("""
global
    log ring@buf0 local0
frontend fe
    log global
    bind 127.0.0.1:1
""")
    diag = Diagnostics(stream=io.StringIO())
    config = parse_config([str(cfg)], plugins, diag)
    assert not [u for u in config.inactive if u.keyword.startswith("log")]
    assert any(isinstance(fn, emit.StreamLogger) for fn in config.proxies[0].stream_end)
    assert emit.proxy_log(config, config.proxies[0]).loggers[0].sender.name == "ring@buf0"


def test_install_is_idempotent(tmp_path, plugins, rx):
    config = load(tmp_path, plugins, TCP_CFG.format(addr=rx.address))
    assert emit.install(config) == []
    assert len(config.proxies[0].stream_end) == 1


def test_a_failing_render_never_raises(tmp_path, plugins, rx, capfd):
    config = load(tmp_path, plugins, TCP_CFG.format(addr=rx.address))
    fe = config.proxies[0]
    broken = Stream(sess=None)  # type: ignore[arg-type]
    for fn in fe.stream_end:
        fn(broken)
        fn(broken)
    assert capfd.readouterr().err.count("[ALERT]") == 1


def udp_free() -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_header_captures_print_only_where_declared(tmp_path, plugins, rx):
    config = load(tmp_path, plugins, HTTP_CFG.format(
        addr=rx.address, extra="capture request header Host len 20"))
    strm = http_stream(config)
    strm.captures_req = ["example.com"]
    logger_of(config.proxies[0]).emit(strm, now=NOW)
    assert rx.wait_for(1)[0].endswith(' 0/0 {example.com} "GET /a?b=1 HTTP/1.1"')


# -- end to end: hapx as a real process, Debian's haproxy as the oracle --------------------

_HDR = re.compile(r"^<(\d+)>\w{3} [ \d]\d \d\d:\d\d:\d\d [\w.-]+\[\d+\]: ")
_DATE = re.compile(r"\[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d\.\d{3}\]")


def normalize(line: str, port: int) -> list[str]:
    """The fields of a log line without what differs between runs: the header's date,
    tag and pid, the client port, the date, timer values (-1 stays: a stage not reached)
    and the frontend's port."""
    m = _HDR.match(line)
    assert m, line
    body = _DATE.sub("[DATE]", line[m.end():])
    body = re.sub(r"^127\.0\.0\.1:\d+ ", "127.0.0.1:PORT ", body)
    body = body.replace(str(port), "FEPORT")
    fields = body.split(" ")
    for i, f in enumerate(fields):
        if re.fullmatch(r"-?\d+(/-?\d+){2,4}", f) and i == 4:  # the timers
            fields[i] = "/".join("-1" if t == "-1" else "T" for t in f.split("/"))
    return [f"<{m.group(1)}>", *fields]


def mask_http_bytes(fields: list[str]) -> list[str]:
    """%B of an HTTP log line: hapx counts the bytes it wrote to the client; HAProxy counts
    its internal (HTX) representation of the response, which leaves out the framing of the
    start line and headers and the connection header its HTTP/1 layer adds.  The two are
    compared elsewhere by the body size they both include."""
    return fields[:7] + ["B"] + fields[8:]


def run_both(cfg: str, request, ports: dict[str, int]):
    """Run ``cfg`` in hapx, then in haproxy, each with its own syslog receiver and ports;
    ``request(port)`` drives one exchange.  Returns {"hapx": line, "haproxy": line}."""
    from netutil import free_port, have_haproxy, run_haproxy, run_hapx

    out = {}
    runners = [("hapx", run_hapx)] + ([("haproxy", run_haproxy)] if have_haproxy() else [])
    for name, runner in runners:
        fe_port = free_port()
        with UdpSyslog() as syslog:
            text = cfg.format(log=syslog.address, fe=fe_port, **ports)
            with runner(text, ready_ports=[fe_port]):
                request(fe_port)
                line = syslog.wait_for(1, timeout=10)[0]
            out[name] = normalize(line, fe_port)
    return out


E2E_HTTP = """
global
    log {log} local0
defaults
    mode http
    log global
    option httplog
    timeout client 5s
    timeout server 5s
    timeout connect 5s
frontend fe
    bind 127.0.0.1:{fe}
    http-request return status 200 content-type text/plain string hi if {{ path /local }}
    default_backend be
backend be
    server s1 127.0.0.1:{origin}
"""


def test_e2e_httplog_local_reply_matches_haproxy():
    from netutil import free_port, raw_exchange

    def request(port: int) -> None:
        raw_exchange(port, b"GET /local?x=1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")

    lines = run_both(E2E_HTTP, request, {"origin": free_port()})
    hapx = lines["hapx"]
    assert hapx[:7] == ["<134>", "127.0.0.1:PORT", "[DATE]", "fe", "fe/<NOSRV>",
                        "T/-1/-1/-1/T", "200"], hapx
    assert hapx[8:11] == ["-", "-", "LR--"] and hapx[12:] == [
        "0/0", '"GET', "/local?x=1", 'HTTP/1.1"'], hapx
    if "haproxy" in lines:
        assert mask_http_bytes(hapx) == mask_http_bytes(lines["haproxy"])


def test_e2e_httplog_through_a_server_matches_haproxy():
    from netutil import OriginServer, raw_exchange

    with OriginServer() as origin:
        def request(port: int) -> None:
            raw_exchange(port, b"GET /p HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")

        lines = run_both(E2E_HTTP, request, {"origin": origin.port})
    hapx = lines["hapx"]
    assert hapx[4] == "be/s1" and hapx[10] == "----", hapx
    if "haproxy" in lines:
        assert mask_http_bytes(hapx) == mask_http_bytes(lines["haproxy"])


E2E_TCP = """
global
    log {log} local0
defaults
    mode tcp
    log global
    option tcplog
    timeout client 5s
    timeout server 5s
    timeout connect 5s
frontend fe
    bind 127.0.0.1:{fe}
    default_backend be
backend be
    server s1 127.0.0.1:{echo}
"""


def test_e2e_tcplog_matches_haproxy():
    from netutil import TcpEchoServer, raw_exchange

    with TcpEchoServer() as echo:
        def request(port: int) -> None:
            assert raw_exchange(port, b"hello", shut_write=True) == b"hello"

        lines = run_both(E2E_TCP, request, {"echo": echo.port})
    hapx = lines["hapx"]
    assert hapx[3:5] == ["fe", "be/s1"] and hapx[6] == "5", hapx
    if "haproxy" in lines:
        assert hapx == lines["haproxy"]


def test_e2e_stdout_raw_and_dontlognull():
    from netutil import TcpEchoServer, free_port, raw_exchange, run_hapx, wait_until

    fe = free_port()
    with TcpEchoServer() as echo, run_hapx(f"""
global
    log stdout format raw local0
defaults
    mode tcp
    log global
    option tcplog
    option dontlognull
    timeout client 5s
    timeout server 5s
    timeout connect 5s
frontend fe
    bind 127.0.0.1:{fe}
    default_backend be
backend be
    server s1 127.0.0.1:{echo.port}
""", ready_ports=[fe]) as proc:
        socket.create_connection(("127.0.0.1", fe)).close()  # sends nothing: not logged
        raw_exchange(fe, b"abc", shut_write=True)
        wait_until(lambda: " fe be/s1 " in proc.stdout, 10)
        lines = [ln for ln in proc.stdout.splitlines() if " fe be/" in ln]
        assert len(lines) == 1 and re.match(r"127\.0\.0\.1:\d+ \[", lines[0]), proc.stdout
