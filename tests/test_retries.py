"""Retries end to end: ``retries``, each ``retry-on`` family and ``option redispatch``, with
the requests each origin saw, the answer, the %rc log field and the txn.conn_retries /
txn.redispatched fetches; every scenario haproxy 2.6 supports is also run against it on the
same configuration and compared (skipped when it is absent)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from netutil import (
    OriginServer,
    Response,
    UdpSyslog,
    free_port,
    free_ports,
    have_haproxy,
    raw_exchange,
    run_haproxy,
    run_hapx,
)

RUNNERS = [("hapx", run_hapx), ("haproxy", run_haproxy)]


def runners() -> list[tuple[str, Any]]:
    return RUNNERS if have_haproxy() else RUNNERS[:1]


CFG = """
global
    tune.bufsize 16384
defaults
    mode http
    timeout client 10s
    timeout server {tserver}
    timeout connect 200
frontend fe
    bind 127.0.0.1:{fe}
    log {log} format raw local0
    log-format "%ST %ts %b/%s %rc {fetches} %HP"
{switch}
{backends}
"""


class FirstFails:
    """Answers the first request of each path with ``first(path)``, later ones 200; counts
    requests per path."""

    def __init__(self, first: Any) -> None:
        self.first = first
        self.lock = threading.Lock()
        self.count: dict[str, int] = {}

    def __call__(self, req: Any) -> Response:
        with self.lock:
            n = self.count[req.path] = self.count.get(req.path, 0) + 1
        if n == 1:
            return self.first(req.path)
        return Response(200, f"ok {req.path}\n")


def run(runner: Any, backends: str, requests: list[bytes], *, switch: str = "",
        tserver: str = "10s") -> tuple[list[bytes], dict[str, list[str]]]:
    fe = free_port()
    with UdpSyslog() as log:
        # haproxy 2.6 has no txn.conn_retries / txn.redispatched: %rc and the
        # redispatch flag as an integer stand in for them there
        fetches = ("%[txn.conn_retries] %[txn.redispatched]" if runner is run_hapx
                   else "%[int(-1)] %[int(-1)]")
        cfg = CFG.format(fe=fe, log=log.address, backends=backends, switch=switch,
                         tserver=tserver, fetches=fetches)
        with runner(cfg, ready_ports=[fe]):
            answers = [raw_exchange(fe, r, timeout=15) for r in requests]
            lines = log.wait_for(len(requests), 10)
    out = {}
    for ln in lines:
        words = ln.split()
        if words[4] == "-1":
            # haproxy: the fetches' values follow from %rc
            words[4:6] = [words[3].lstrip("+"), "1" if words[3][0] == "+" else "0"]
        out[words[-1]] = words[:-1]
    return answers, out


def get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n".encode()


def post(path: str, body: bytes) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0


@pytest.mark.parametrize("name,runner", runners())
def test_conn_failure_retries_then_503(name, runner):
    dead = free_port()
    answers, lines = run(runner, f"""
backend be
    retries 2
    server s1 127.0.0.1:{dead}
""", [get("/x")], switch="    default_backend be")
    assert status(answers[0]) == 503
    assert lines["/x"] == ["503", "SC", "be/s1", "2", "2", "0"], lines


@pytest.mark.parametrize("name,runner", runners())
def test_retry_on_none_does_not_retry(name, runner):
    dead = free_port()
    answers, lines = run(runner, f"""
backend be
    retries 2
    retry-on none
    server s1 127.0.0.1:{dead}
""", [get("/x")], switch="    default_backend be")
    assert status(answers[0]) == 503
    assert lines["/x"] == ["503", "SC", "be/s1", "0", "0", "0"], lines


@pytest.mark.parametrize("name,runner", runners())
def test_redispatch_on_the_last_retry(name, runner):
    """use-server binds the request to the dead s1; option redispatch (default -1) moves
    it to the balancer's s2 on the last retry: %rc shows +2."""
    dead = free_port()
    with OriginServer(name="s2") as origin:
        answers, lines = run(runner, f"""
backend be
    retries 2
    option redispatch
    use-server s1 if {{ path /x }}
    server s1 127.0.0.1:{dead} weight 0
    server s2 127.0.0.1:{origin.port}
""", [get("/x")], switch="    default_backend be")
        assert len(origin.requests) == 1
    assert status(answers[0]) == 200
    assert lines["/x"] == ["200", "--", "be/s2", "+2", "2", "1"], lines


@pytest.mark.parametrize("name,runner", runners())
def test_redispatch_every_retry(name, runner):
    dead = free_port()
    with OriginServer(name="s2") as origin:
        answers, lines = run(runner, f"""
backend be
    retries 3
    option redispatch 1
    use-server s1 if {{ path /x }}
    server s1 127.0.0.1:{dead} weight 0
    server s2 127.0.0.1:{origin.port}
""", [get("/x")], switch="    default_backend be")
    assert status(answers[0]) == 200
    assert lines["/x"] == ["200", "--", "be/s2", "+1", "1", "1"], lines


@pytest.mark.parametrize("name,runner", runners())
def test_response_timeout(name, runner):
    hold = FirstFails(lambda p: Response(200, b"late\n", delay_head=2))
    with OriginServer(handler=hold) as origin:
        answers, lines = run(runner, f"""
backend retry
    retry-on response-timeout
    server s1 127.0.0.1:{origin.port}
backend plain
    server s1 127.0.0.1:{origin.port}
""", [get("/r"), get("/p")], tserver="300",
            switch="    use_backend retry if { path /r }\n    default_backend plain")
    assert hold.count == {"/r": 2, "/p": 1}
    assert [status(a) for a in answers] == [200, 504]
    assert lines["/r"] == ["200", "--", "retry/s1", "1", "1", "0"], lines
    assert lines["/p"] == ["504", "sH", "plain/s1", "0", "0", "0"], lines


STATUSES = [401, 403, 404, 408, 425, 500, 501, 502, 503, 504]
#: statuses haproxy 2.6 does not know yet (429 came after it, 421 with 3.2)
NEWER = [421, 429]


@pytest.mark.parametrize("name,runner", runners())
def test_retry_on_each_status(name, runner):
    statuses = STATUSES + (NEWER if name == "hapx" else [])
    hold = FirstFails(lambda p: Response(int(p.split("/")[-1]), b"no\n"))
    with OriginServer(handler=hold) as origin:
        backends = "".join(f"""
backend b{st}
    retry-on {st}
    server s1 127.0.0.1:{origin.port}
""" for st in statuses) + f"""
backend other
    retry-on 503
    server s1 127.0.0.1:{origin.port}
"""
        switch = "".join(f"    use_backend b{st} if {{ path /b/{st} }}\n" for st in statuses)
        switch += "    default_backend other\n"
        reqs = [get(f"/b/{st}") for st in statuses] + [get("/o/500")]
        answers, lines = run(runner, backends, reqs, switch=switch)
    for st, answer in zip(statuses, answers, strict=False):
        assert hold.count[f"/b/{st}"] == 2, (st, hold.count)
        assert status(answer) == 200
        assert lines[f"/b/{st}"] == ["200", "--", f"b{st}/s1", "1", "1", "0"], lines
    # a status retry-on does not name is forwarded as is
    assert hold.count["/o/500"] == 1 and status(answers[-1]) == 500
    assert lines["/o/500"] == ["500", "--", "other/s1", "0", "0", "0"], lines


@pytest.mark.parametrize("name,runner", runners())
def test_all_retryable_errors(name, runner):
    hold = FirstFails(lambda p: Response(int(p.split("/")[-1]), b"no\n"))
    with OriginServer(handler=hold) as origin:
        answers, lines = run(runner, f"""
backend be
    retry-on all-retryable-errors
    server s1 127.0.0.1:{origin.port}
""", [get("/a/502"), get("/a/404")], switch="    default_backend be")
    assert hold.count == {"/a/502": 2, "/a/404": 1}
    assert [status(a) for a in answers] == [200, 404]


@pytest.mark.parametrize("name,runner", runners())
@pytest.mark.parametrize("kind,first,term", [
    ("empty-response", Response(action="close"), "SH"),
    ("junk-response", Response(action="raw", raw=b"garbage\r\n\r\n"), "PH"),
])
def test_empty_and_junk_responses(name, runner, kind, first, term):
    hold = FirstFails(lambda p: first)
    with OriginServer(handler=hold) as origin:
        answers, lines = run(runner, f"""
backend retry
    retry-on {kind}
    server s1 127.0.0.1:{origin.port}
backend plain
    server s1 127.0.0.1:{origin.port}
""", [get("/r"), get("/p")],
            switch="    use_backend retry if { path /r }\n    default_backend plain")
    assert hold.count == {"/r": 2, "/p": 1}
    assert [status(a) for a in answers] == [200, 502]
    assert lines["/r"] == ["200", "--", "retry/s1", "1", "1", "0"], lines
    assert lines["/p"] == ["502", term, "plain/s1", "0", "0", "0"], lines


@pytest.mark.parametrize("name,runner", runners())
def test_only_requests_within_a_buffer_are_replayed(name, runner):
    """A POST body is sent again whole on a retry; one larger than tune.bufsize is not
    kept, so the request is not retried and the status goes to the client."""
    hold = FirstFails(lambda p: Response(503, b"busy\n"))
    small = bytes(range(256)) * 4
    large = b"x" * 20000
    with OriginServer(handler=hold) as origin:
        answers, lines = run(runner, f"""
backend be
    retry-on 503
    server s1 127.0.0.1:{origin.port}
""", [post("/small", small), post("/large", large)], switch="    default_backend be")
        bodies = [r.body for r in origin.requests if r.path == "/small"]
    assert hold.count == {"/small": 2, "/large": 1}
    assert bodies == [small, small]
    assert [status(a) for a in answers] == [200, 503]
    assert lines["/small"][:4] == ["200", "--", "be/s1", "1"]
    assert lines["/large"][:4] == ["503", "--", "be/s1", "0"]


@pytest.mark.parametrize("name,runner", runners())
def test_retries_share_one_count(name, runner):
    """Every retry, whatever its kind, counts against 'retries': with retries 1 the second
    503 reaches the client."""
    with OriginServer(default=Response(503, b"busy\n")) as origin:
        answers, lines = run(runner, f"""
backend be
    retries 1
    retry-on 503
    server s1 127.0.0.1:{origin.port}
""", [get("/x")], switch="    default_backend be")
        assert len(origin.requests) == 2
    assert status(answers[0]) == 503
    assert lines["/x"] == ["503", "--", "be/s1", "1", "1", "0"], lines


@pytest.mark.parametrize("name,runner", runners())
def test_status_retry_redispatches_between_servers(name, runner):
    """option redispatch with a round robin over two servers: a retried request goes to
    the other server at once."""
    with OriginServer(name="a", default=Response(503, b"busy\n")) as bad, \
            OriginServer(name="b") as good:
        answers, lines = run(runner, f"""
backend be
    retry-on 503
    option redispatch
    server s1 127.0.0.1:{bad.port}
    server s2 127.0.0.1:{good.port}
""", [get("/1"), get("/2")], switch="    default_backend be")
        hit_bad = len(bad.requests)
        assert len(good.requests) == 2 and hit_bad >= 1
    assert [status(a) for a in answers] == [200, 200]
    assert all(lines[p][:3] == ["200", "--", "be/s2"] for p in ("/1", "/2")), lines
    # each request that met s1 was moved to s2 at once (round robin, two servers)
    assert sorted(lines[p][3] for p in ("/1", "/2")).count("+1") == hit_bad, lines


def test_tcp_mode_retries_and_redispatch():
    """mode tcp: connection failures are retried (retry-on is HTTP only)."""
    from netutil import TcpEchoServer

    dead = free_port()
    fe, fe2 = free_ports(2)
    with TcpEchoServer() as echo, UdpSyslog() as log, run_hapx(f"""
defaults
    mode tcp
    timeout client 5s
    timeout server 5s
    timeout connect 200
frontend fe
    bind 127.0.0.1:{fe}
    log {log.address} format raw local0
    log-format "%ts %b/%s %rc"
    default_backend be
frontend fe2
    bind 127.0.0.1:{fe2}
    log {log.address} format raw local0
    log-format "%ts %b/%s %rc"
    default_backend be2
backend be
    retries 2
    option redispatch
    use-server s1 if TRUE
    server s1 127.0.0.1:{dead} weight 0
    server s2 127.0.0.1:{echo.port}
backend be2
    retries 1
    server s1 127.0.0.1:{dead}
""", ready_ports=[fe, fe2]):
        assert raw_exchange(fe, b"hi", shut_write=True) == b"hi"
        assert raw_exchange(fe2, b"hi", shut_write=True) == b""
        lines = log.wait_for(2, 10)
    assert sorted(lines) == ["-- be/s2 +2", "SC be2/s1 1"], lines
