"""Rules that wait (core/runtime/waits.py): the 3.2 ``pause`` action and
``wait-for-body``, on a real hapx process with real clients and a real origin.

Durations are only checked from below (a pause lasts at least its delay): the order of
answers shows that a paused stream holds nothing else up."""

from __future__ import annotations

import socket
import threading
import time

import httpx
from netutil import OriginServer, Response, free_port, read_response, run_hapx


def cfg(port: int, origin: int, *lines: str, backend: str = "") -> str:
    body = "".join(f"    {line}\n" for line in lines)
    return ("defaults\n    mode http\n    timeout connect 2s\n    timeout client 5s\n"
            f"    timeout server 5s\nfrontend fe\n    bind 127.0.0.1:{port}\n{body}"
            f"    default_backend be\nbackend be\n{backend}"
            f"    server s1 127.0.0.1:{origin}\n")


def test_pause_fixed_delay_holds_only_its_own_request() -> None:
    with OriginServer() as o:
        port = free_port()
        conf = cfg(port, o.port, "http-request pause 1500ms if { path /slow }")
        with run_hapx(conf, ready_ports=[port]):
            done: dict[str, float] = {}
            t0 = time.monotonic()

            def get(client: httpx.Client, path: str) -> None:
                r = client.get(f"http://127.0.0.1:{port}{path}", timeout=10)
                assert r.status_code == 200 and r.text == "ok\n"
                done[path] = time.monotonic() - t0

            with httpx.Client() as slow_client, httpx.Client() as fast_client:
                slow = threading.Thread(target=get, args=(slow_client, "/slow"))
                slow.start()
                o.wait_requests(0)
                for i in range(5):
                    get(fast_client, f"/fast{i}")
                assert "/slow" not in done, "fast requests were held up by the paused one"
                slow.join()
            assert done["/slow"] >= 1.5
            assert [r.path for r in o.requests][-1] == "/slow"


def test_pause_by_expression_and_invalid_value_ignored() -> None:
    with OriginServer() as o:
        port = free_port()
        conf = cfg(port, o.port, "http-request pause req.hdr(x-delay),add(0)",
                   "http-request set-header X-After-Pause yes")
        with run_hapx(conf, ready_ports=[port]):
            t0 = time.monotonic()
            r = httpx.get(f"http://127.0.0.1:{port}/", headers={"x-delay": "300"}, timeout=5)
            assert r.status_code == 200 and time.monotonic() - t0 >= 0.3
            # the rules after the pause ran once it ended
            assert o.last.header("x-after-pause") == "yes"
            # no value: the action does nothing and the next rules run
            r = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
            assert r.status_code == 200 and o.last.header("x-after-pause") == "yes"


def test_response_pause_keeps_the_whole_response() -> None:
    body = bytes(range(256)) * 400  # 100 KiB, several reads
    with OriginServer({"/big": Response(200, body, [("Content-Type", "application/x")])}) as o:
        port = free_port()
        conf = cfg(port, o.port, "http-response pause 200ms",
                   "http-response set-header X-Paused yes")
        with run_hapx(conf, ready_ports=[port]):
            with httpx.Client() as c:
                for _ in range(2):  # keep-alive: the server connection is reused after
                    t0 = time.monotonic()
                    r = c.get(f"http://127.0.0.1:{port}/big", timeout=5)
                    assert time.monotonic() - t0 >= 0.2
                    assert r.status_code == 200 and r.content == body
                    assert r.headers["x-paused"] == "yes"
            assert o.connections == 1


def _post_in_two_parts(port: int, first: bytes, second: bytes | None, gap: float,
                       declared: int | None = None) -> int:
    """POST a body in two writes ``gap`` seconds apart (Content-Length ``declared``, else
    the length of both parts); the answer's status."""
    total = declared if declared is not None else len(first) + len(second or b"")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"POST /form HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                  b"Content-Length: %d\r\n\r\n" % total + first)
        time.sleep(gap)
        if second is not None:
            s.sendall(second)
        return read_response(s, timeout=5).status


def test_wait_for_body_lets_rules_see_a_body_sent_in_two_parts() -> None:
    with OriginServer() as o:
        port = free_port()
        rules = ("http-request wait-for-body time 3s",
                 "http-request deny deny_status 403 if { req.body -m sub secret }")
        with run_hapx(cfg(port, o.port, *rules), ready_ports=[port]):
            out = _post_in_two_parts(port, b"hello ", b"secret world", 0.3)
            assert out == 403
            out = _post_in_two_parts(port, b"hello ", b"public world", 0.3)
            assert out == 200
            assert o.last.body == b"hello public world"


def test_without_wait_for_body_the_rule_cannot_see_a_late_body() -> None:
    with OriginServer() as o:
        port = free_port()
        rules = ("http-request deny deny_status 403 if { req.body -m sub secret }",)
        with run_hapx(cfg(port, o.port, *rules), ready_ports=[port]):
            out = _post_in_two_parts(port, b"hello ", b"secret world", 0.3)
            assert out == 200
            assert o.last.body == b"hello secret world"


def test_wait_for_body_timeout_answers_408() -> None:
    with OriginServer() as o:
        port = free_port()
        rules = ("http-request wait-for-body time 300ms",)
        with run_hapx(cfg(port, o.port, *rules), ready_ports=[port]):
            out = _post_in_two_parts(port, b"only half", None, 0.0, declared=100)
            assert out == 408
            assert not o.requests
            # the process goes on serving
            assert httpx.get(f"http://127.0.0.1:{port}/", timeout=5).status_code == 200


def test_wait_for_body_at_least() -> None:
    with OriginServer() as o:
        port = free_port()
        rules = ("http-request wait-for-body time 5s at-least 4",
                 "http-request set-header X-Body-Start %[req.body,bytes(0,4)]")
        with run_hapx(cfg(port, o.port, *rules), ready_ports=[port]):
            out = _post_in_two_parts(port, b"abcdef", b"ghij", 0.3)
            assert out == 200
            assert o.last.header("x-body-start") == "abcd"
            assert o.last.body == b"abcdefghij"
