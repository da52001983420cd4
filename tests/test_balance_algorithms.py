"""The load-balancing algorithms beyond roundrobin/static-rr: leastconn, first, source, uri,
url_param, hdr, rdp-cookie, random, hash <expr>; hash-type (map-based, consistent, the hash
functions and avalanche), hash-balance-factor and hash-preserve-affinity.

Unit tests drive the pickers in-process; live tests send real requests through hapx to real
origin servers (each tags its responses with ``X-Origin: <name>``) and, where Debian's
haproxy 2.6 supports the configuration, compare hapx's choice sequence with haproxy's on the
same requests.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from types import SimpleNamespace

import httpx
import pytest
from hapx.core.config.address import Ports, parse_address
from hapx.plugins.balance_first import First
from hapx.plugins.balance_hdr import first_value, main_domain
from hapx.plugins.balance_leastconn import LeastConn
from hapx.plugins.balance_rdp_cookie import ABSENT, FOUND, SHORT, scan_rdp_cookie
from hapx.plugins.balance_uri import http_path, uri_key
from hapx.plugins.balance_url_param import body_param, query_param
from hapx.plugins.servers import Server
from hapx.plugins.servers.lbchash import ChashLookup
from hapx.plugins.servers.lbhash import full_hash, make_hasher, read_int64
from hapx.plugins.servers.lbhashpick import HashPicker
from hapx.plugins.servers.lbmap import MapLookup, build_map
from netutil import (
    OriginServer,
    Response,
    free_port,
    free_ports,
    parse_response,
    recv_until_eof,
    run_haproxy,
    run_hapx,
    wait_until,
)

# --------------------------------------------------------------------------------------------
# helpers


def servers(*weights: int, backups: tuple[int, ...] = (), maxconn: int = 0) -> list[Server]:
    out = []
    for i, w in enumerate(weights + backups):
        srv = Server(f"s{i + 1}", parse_address(f"10.0.0.{i + 1}", ports=Ports.OPTIONAL), "be")
        srv.weight = srv.uweight = w
        srv.id = i + 1
        if i >= len(weights):
            srv.options["backup"] = True
        if maxconn:
            srv.options["maxconn"] = maxconn
        srv.live = SimpleNamespace(up=True, cur_conn=0, queued=0, served=0)
        out.append(srv)
    return out


def backend(srvs: list[Server], **settings: object) -> SimpleNamespace:
    return SimpleNamespace(servers=srvs, settings=dict(settings), options={})


def key_hash(strm: object, picker: HashPicker) -> int | None:
    """hash_of for in-process pickers: the stream is the key itself."""
    return None if strm is None else picker.hasher(str(strm).encode())


KEYS = [f"/obj/{i}" for i in range(2000)]


# --------------------------------------------------------------------------------------------
# hash functions: values computed by haproxy 2.6 itself (converters sdbm, djb2, wt6, crc32
# without and with their avalanche argument, see test_hash_functions_match_haproxy_live)

HAPROXY_VALUES = {
    "a": (97, 177670, 1900802597, 3904355907, 1830748055, 3548763807, 1986649387, 1288200982),
    "haproxy": (248846773, 869782672, 2154904979, 1405960096, 3200903771, 3380240615,
                3132744154, 2007327997),
    "/images/logo.png": (713581038, 3368543325, 3116080871, 1552048426, 3707622295,
                         300954390, 1541819453, 1583568371),
    "user42": (956198665, 556066410, 2769745836, 2083503798, 253765262, 3250504791,
               1969511451, 2703474008),
    "123456789": (1755344949, 902675330, 2225171485, 3421780262, 3400502718, 2717138294,
                  4053691039, 1130417534),
}
FUNCS = ("sdbm", "djb2", "wt6", "crc32")


def our_values(text: str) -> tuple[int, ...]:
    return tuple(make_hasher(f, aval)(text.encode()) for aval in (False, True) for f in FUNCS)


@pytest.mark.parametrize("text", sorted(HAPROXY_VALUES))
def test_hash_functions_equal_haproxy_values(text):
    assert our_values(text) == HAPROXY_VALUES[text]


def test_hash_function_none_reads_the_key_as_a_number():
    none = make_hasher("none")
    assert none(b"12345") == 12345
    assert none(b"42abc") == 42
    assert none(b"-1") == 0xFFFFFFFF
    assert none(b"4294967297") == 1  # low 32 bits
    assert none(b"abc") == 0
    assert read_int64(b"+7") == 7
    assert read_int64(b"9" * 30) == (1 << 63) - 1
    assert read_int64(b"-" + b"9" * 30) == -(1 << 63)
    assert make_hasher("none", True)(b"5") == full_hash(5)


def test_hash_functions_match_haproxy_live():
    port = free_port()
    conv = " ".join(f"%[req.hdr(x-in),{f}{a}]" for a in ("", "(1)") for f in FUNCS)
    cfg = f"""defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:{port}
    http-request return status 200 content-type text/plain lf-string "{conv}"
"""
    texts = ["b", "The quick brown fox", "/a/b/c?x=1", "0"]
    with run_haproxy(cfg, ready_ports=[port]):
        for text in texts:
            data = _exchange(port, f"GET / HTTP/1.1\r\nHost: x\r\nX-In: {text}\r\n"
                             "Connection: close\r\n\r\n".encode())
            got = tuple(int(v) for v in parse_response(data).body.split())
            assert got == our_values(text), text


# --------------------------------------------------------------------------------------------
# key extraction


def test_uri_keys():
    assert uri_key("/a/b/c?x=1", 0, 0, False) == "/a/b/c"
    assert uri_key("/a/b/c?x=1", 0, 0, True) == "/a/b/c?x=1"
    assert uri_key("/a/b/c?x=1", 0, 2, False) == "/a/b"
    assert uri_key("/a?b/c/d", 0, 2, True) == "/a?b/c"
    assert uri_key("/a/b/c", 4, 0, False) == "/a/b"
    assert uri_key("/abcdef/g", 3, 1, False) == "/ab"
    assert http_path("http://h:8/x/y?z") == "/x/y?z"
    assert http_path("/x") == "/x" and http_path("*") == "" and http_path("http://h") == ""


def test_param_header_and_rdp_keys():
    assert query_param("a=1&user=bob&user=x", "user") == "bob"
    assert query_param("username=1&user", "user") is None
    assert body_param(b"a=1&id=%41b&c", b"id") == b"%41b"
    assert body_param(b"id=\x01\x02", b"id") is None  # not urlencoded
    assert body_param(b"id= x", b"id") == b""
    assert first_value([("Host", " a.b , c")], "host") == "a.b"
    assert main_domain("haproxy.1wt.eu") == "1wt"
    assert main_domain("www.example.com:8080") == "example"
    assert main_domain("localhost") == "localhost"
    head = b"\x03\x00\x00\x2a\x25\xe0\x00\x00\x00\x00\x00"
    assert scan_rdp_cookie(head + b"Cookie: mstshash=bob\r\n", b"mstshash") == (FOUND, b"bob")
    assert scan_rdp_cookie(head + b"Cookie: msts=bob\r\n", b"mstshash")[0] == ABSENT
    assert scan_rdp_cookie(head + b"Cookie: mstshash=bo", b"mstshash")[0] == SHORT
    assert scan_rdp_cookie(head + b"Cookie: any=v\r\n", b"") == (FOUND, b"v")


# --------------------------------------------------------------------------------------------
# map-based and consistent lookups


def test_map_table_repeats_servers_by_weight():
    srvs = servers(1, 2, 3, 1)
    table = build_map(srvs, 7, lambda s: s.uweight)
    assert Counter(s.name for s in table) == {"s1": 1, "s2": 2, "s3": 3, "s4": 1}
    lookup = MapLookup(servers(2, 4), False)  # weights reduced by their GCD
    assert [s.name for s in lookup.table] == ["s1", "s2", "s2"]


@pytest.mark.parametrize("method", ["map-based", "consistent"])
def test_hash_picker_is_stable_and_weighted(method):
    srvs = servers(1, 2, 3, 1)
    picker = HashPicker(backend(srvs, **{"hash-type": {
        "method": method, "function": "sdbm", "avalanche": method == "consistent"}}),
        key_hash)
    first = [picker.pick(k).name for k in KEYS]
    assert first == [picker.pick(k).name for k in KEYS]
    counts = Counter(first)
    assert counts["s3"] > counts["s2"] > counts["s1"]
    # a request without a key: round robin over the same lookup
    assert {picker.pick(None).name for _ in range(40)} == {"s1", "s2", "s3", "s4"}


def test_consistent_hashing_moves_only_the_removed_servers_keys():
    srvs = servers(1, 1, 1, 1)
    picker = HashPicker(backend(srvs, **{"hash-type": {
        "method": "consistent", "function": "sdbm", "avalanche": True}}), key_hash)
    before = {k: picker.pick(k) for k in KEYS}
    picker.server_down(srvs[1])
    after = {k: picker.pick(k) for k in KEYS}
    moved = [k for k in KEYS if before[k] is not after[k]]
    assert all(before[k] is srvs[1] for k in moved)  # only keys of the removed server move
    assert len(moved) <= len(KEYS) * 0.25 * 1.5       # about 1/N of them
    picker.server_up(srvs[1])
    assert {k: picker.pick(k) for k in KEYS} == before
    # map-based remaps most keys
    mpicker = HashPicker(backend(servers(1, 1, 1, 1)), key_hash)
    mbefore = {k: mpicker.pick(k).name for k in KEYS}
    mpicker.server_down(mpicker.lookup.groups.servers[1])
    assert sum(mbefore[k] != mpicker.pick(k).name for k in KEYS) > len(KEYS) * 0.5


def test_consistent_weights_are_dynamic_and_map_weights_static():
    srvs = servers(1, 1)
    picker = HashPicker(backend(srvs, **{"hash-type": {
        "method": "consistent", "function": "sdbm", "avalanche": True}}), key_hash)
    picker.set_weight(srvs[0], 4)
    counts = Counter(picker.pick(k).name for k in KEYS)
    assert counts["s1"] > 3 * counts["s2"] * 0.7
    picker.set_weight(srvs[0], 0)
    assert {picker.pick(k).name for k in KEYS[:50]} == {"s2"}
    msrvs = servers(1, 1)
    mpicker = HashPicker(backend(msrvs), key_hash)
    mpicker.set_weight(msrvs[0], 4)
    assert msrvs[0].uweight == 1  # static: only zero / configured weight
    with pytest.raises(ValueError):
        mpicker.set_weight(msrvs[0], 300)


@pytest.mark.parametrize("method", ["map-based", "consistent"])
def test_hash_backups_and_allbackups(method):
    srvs = servers(1, 1, backups=(1, 1))
    be = backend(srvs, **{"hash-type": {"method": method, "function": "djb2",
                                        "avalanche": method == "consistent"}})
    picker = HashPicker(be, key_hash)
    assert {picker.pick(k).name for k in KEYS[:100]} == {"s1", "s2"}
    picker.server_down(srvs[0])
    picker.server_down(srvs[1])
    assert {picker.pick(k).name for k in KEYS[:100]} == {"s3"}  # the first backup only
    be.options["allbackups"] = True
    picker = HashPicker(be, key_hash)
    assert {picker.pick(k).name for k in KEYS[:100]} == {"s3", "s4"}
    for srv in srvs:
        picker.server_down(srv)
    assert picker.pick("x") is None and not picker.available()


def test_hash_balance_factor_bounds_the_load():
    srvs = servers(1, 1, 1, 1)
    lookup = ChashLookup(srvs, False, balance_factor=125)
    h = make_hasher("sdbm", True)(b"hot-key")
    target = lookup.by_hash(h)
    target.live.served = 10  # the others serve nothing: 10 > 1.25 x 11 / 4
    other = lookup.by_hash(h)
    assert other is not target
    target.live.served = 2
    for s in srvs:
        if s is not target:
            s.live.served = 2
    assert lookup.by_hash(h) is target  # 2 < ceil(1.25 x 9) / 4


@pytest.mark.parametrize("affinity", ["always", "maxconn", "maxqueue"])
def test_hash_preserve_affinity(affinity):
    srvs = servers(1, 1, 1, maxconn=2)
    for s in srvs:
        s.options["maxqueue"] = 1
    lookup = ChashLookup(srvs, False, affinity=affinity)
    h = make_hasher("sdbm", True)(b"user-7")
    target = lookup.by_hash(h)
    target.live.served = 1
    assert lookup.by_hash(h) is target  # room left: affinity kept by every mode
    target.live.served = 2               # full
    assert (lookup.by_hash(h) is target) == (affinity != "maxconn")
    target.live.queued = 1               # full queue
    assert (lookup.by_hash(h) is target) == (affinity == "always")
    for s in srvs:                       # everybody full: the ring's previous server
        s.live.served, s.live.queued = 2, 1
    keys, ring = lookup.act.keys, lookup.act.srvs
    if affinity != "always":
        assert lookup.by_hash(h) in srvs
    else:
        assert lookup.by_hash(h) is target
    assert len(keys) == 3 * 16 and keys == sorted(keys) and set(ring) == set(srvs)


# --------------------------------------------------------------------------------------------
# leastconn and first (in-process)


def test_leastconn_in_process():
    srvs = servers(1, 1, 2)
    picker = LeastConn(srvs)
    assert [picker.pick().name for _ in range(6)] == ["s1", "s2", "s3"] * 2  # RR on ties
    srvs[0].live.served = 1
    srvs[2].live.served = 1  # weight 2: half the load of s1
    assert picker.pick() is srvs[1]
    srvs[1].live.served = 1
    assert picker.pick() is srvs[2]
    srvs[2].live.served = 3
    assert picker.pick() in (srvs[0], srvs[1])
    picker.server_down(srvs[0])
    picker.server_down(srvs[1])
    assert picker.pick() is srvs[2]
    picker.set_weight(srvs[2], 0)
    assert picker.pick() is None and not picker.available()


def test_first_in_process():
    srvs = servers(1, 1, 1, maxconn=2)
    srvs[2].options.pop("maxconn")
    srvs[0].id, srvs[1].id, srvs[2].id = 3, 1, 2
    picker = First(srvs)
    assert picker.pick() is srvs[1]
    srvs[1].live.served = 2
    assert picker.pick() is srvs[2]  # next id; it has no maxconn: it always takes
    srvs[2].live.served = 50
    assert picker.pick() is srvs[2]
    picker.server_down(srvs[2])
    assert picker.pick() is srvs[0]
    srvs[0].live.served = 2
    assert picker.pick() is None  # everybody full: the request would queue


# --------------------------------------------------------------------------------------------
# live: hapx versus haproxy on the same requests


def _exchange(port: int, data: bytes, src: str = "127.0.0.1", split: int = 0) -> bytes:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10,
                                    source_address=(src, 0))
    try:
        if split:
            sock.sendall(data[:split])
            time.sleep(0.05)
            sock.sendall(data[split:])
        else:
            sock.sendall(data)
        return recv_until_eof(sock)
    finally:
        sock.close()


def _config(port: int, names_ports: list[tuple[str, int]], lines: str, *,
            mode: str = "http", weights: tuple[int, ...] = (1, 2, 3, 1),
            extra: str = "") -> str:
    srv = "\n".join(f"    server {name} 127.0.0.1:{p} weight {w}{extra}"
                    for (name, p), w in zip(names_ports, weights, strict=True))
    return f"""defaults
    mode {mode}
    timeout connect 2s
    timeout client 10s
    timeout server 10s
listen li
    bind 127.0.0.1:{port}
{lines}
{srv}
"""


def _http_requests() -> list[tuple[bytes, str, int]]:
    """(request, source address, split offset) for the HTTP comparisons."""
    out = []
    for i in range(36):
        q = f"?user=u{i * 17}&id={i}" if i % 4 else "?id=1"
        req = (f"GET /d{i % 5}/s{i * 7}/f{i}.png{q} HTTP/1.1\r\nHost: w{i}.site{i % 6}.org\r\n"
               f"X-Key: k{i * 31}\r\nConnection: close\r\n\r\n").encode()
        out.append((req, f"127.0.{i % 3}.{i * 5 + 1}", 0))
    for i in range(12):  # url_param in a POST body, sent apart from the head every other time
        body = f"a=1&user=p{i * 13}&z=2".encode()
        head = (f"POST /form HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\nConnection: close\r\n\r\n")
        out.append((head.encode() + body, "127.0.0.1", len(head) if i % 2 else 0))
    return out


HTTP_CASES = [
    "balance source",
    "balance source\n    hash-type consistent",
    "balance uri\n    hash-type map-based sdbm",
    "balance uri depth 2\n    hash-type consistent djb2",
    "balance uri len 7 whole\n    hash-type map-based wt6 avalanche",
    "balance uri path-only\n    hash-type consistent crc32",
    "balance url_param user check_post\n    hash-type consistent wt6",
    "balance url_param user\n    hash-type map-based crc32",
    "balance hdr(host) use_domain_only\n    hash-type map-based sdbm avalanche",
    "balance hdr(x-key)\n    hash-type consistent djb2 avalanche",
    "balance hash req.hdr(x-key)\n    hash-type consistent",
    "balance hash path,lower\n    hash-type map-based djb2",
]


@pytest.fixture(scope="module")
def origins():
    servers_ = [OriginServer(name=f"s{i}") for i in range(1, 5)]
    for o in servers_:
        o.__enter__()
    yield servers_
    for o in servers_:
        o.close()


def _cases_config(ports: list[int], origins) -> str:
    """One ``listen`` per HTTP_CASES entry (``li<i>`` on ``ports[i]``), all on the same
    four servers: one process serves every case."""
    names_ports = [(o.name, o.port) for o in origins]
    parts = [_config(port, names_ports, "    " + lines) for port, lines in zip(
        ports, HTTP_CASES, strict=True)]
    head, _, _ = parts[0].partition("listen li\n")
    return head + "".join(f"listen li{i}\n" + part.partition("listen li\n")[2]
                          for i, part in enumerate(parts))


@pytest.fixture(scope="module")
def hapx_cases(origins):
    """hapx serving every HTTP_CASES entry on its own port (hash choices keep no state)."""
    ports = free_ports(len(HTTP_CASES))
    with run_hapx(_cases_config(ports, origins), ready_ports=ports):
        yield ports


@pytest.fixture(scope="module")
def haproxy_cases(origins):
    """Debian's haproxy with the same configuration (skips the test when absent)."""
    ports = free_ports(len(HTTP_CASES))
    with run_haproxy(_cases_config(ports, origins), ready_ports=ports):
        yield ports


def _case_sequence(port: int) -> list[str]:
    out = []
    for data, src, split in _http_requests():
        resp = parse_response(_exchange(port, data, src, split))
        out.append(resp.header("X-Origin") or f"status {resp.status}")
    return out


@pytest.mark.parametrize("case", range(len(HTTP_CASES)),
                         ids=[c.replace("\n    ", "; ") for c in HTTP_CASES])
def test_choice_sequence_equals_haproxy(hapx_cases, case, request):
    ours = _case_sequence(hapx_cases[case])
    assert len(set(ours)) >= 2 and all(s.startswith("s") for s in ours), ours
    theirs = _case_sequence(request.getfixturevalue("haproxy_cases")[case])
    assert ours == theirs


class NameServer:
    """A TCP server answering every connection with its name, then closing."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.recv(4096)
                conn.sendall(self.name.encode())

    def close(self) -> None:
        self.sock.close()


RDP_HEAD = b"\x03\x00\x00\x2a\x25\xe0\x00\x00\x00\x00\x00"


@pytest.mark.parametrize("hash_type", ["map-based", "consistent wt6"])
def test_rdp_cookie_sequence_equals_haproxy(hash_type):
    names = [NameServer(f"s{i}") for i in range(1, 5)]
    port = free_port()
    cfg = _config(port, [(n.name, n.port) for n in names],
                  f"    balance rdp-cookie\n    hash-type {hash_type}\n"
                  "    tcp-request inspect-delay 5s\n"
                  "    tcp-request content accept if RDP_COOKIE", mode="tcp")
    payloads = [RDP_HEAD + f"Cookie: mstshash=user{i * 7}\r\n".encode() + b"\x01\x00\x08\x00"
                for i in range(24)]
    try:
        results = []
        for runner in (run_hapx, run_haproxy):
            seq = []
            with runner(cfg, ready_ports=[port]):
                for i, data in enumerate(payloads):
                    seq.append(_exchange(port, data, split=14 if i % 2 else 0).decode())
            results.append(seq)
        assert len(set(results[0])) >= 2
        assert results[0] == results[1]
    finally:
        for n in names:
            n.close()


# --------------------------------------------------------------------------------------------
# live: hapx alone


def _get(port: int, path: str = "/", headers: str = "") -> str | None:
    data = _exchange(port, f"GET {path} HTTP/1.1\r\nHost: x\r\n{headers}"
                     "Connection: close\r\n\r\n".encode())
    return parse_response(data).header("X-Origin")


def _hold(port: int, path: str, headers: str = "") -> tuple[threading.Thread, list]:
    """Send a slow request in the background; the list receives its server."""
    out: list = []
    thread = threading.Thread(target=lambda: out.append(_get(port, path, headers)))
    thread.start()
    return thread, out


def _slow_origins(n: int, delay: float = 1.5) -> list[OriginServer]:
    return [OriginServer({"/slow": Response(200, b"slow\n", delay_head=delay)},
                         name=f"s{i}") for i in range(1, n + 1)]


def _last_path(origin: OriginServer) -> str | None:
    return origin.requests[-1].path if origin.requests else None


def _wait_served(origins: list[OriginServer], n: int) -> None:
    wait_until(lambda: sum(len(o.requests) for o in origins) >= n, 5,
               message="slow requests did not reach the servers")


def test_leastconn_picks_the_least_loaded_live():
    origins = _slow_origins(3)
    for o in origins:
        o.__enter__()
    port = free_port()
    cfg = _config(port, [(o.name, o.port) for o in origins], "    balance leastconn",
                  weights=(1, 1, 1))
    try:
        with run_hapx(cfg, ready_ports=[port]):
            assert [_get(port) for _ in range(6)] == ["s1", "s2", "s3"] * 2
            held = [_hold(port, "/slow") for _ in range(2)]
            _wait_served(origins, 8)
            busy = {o.name for o in origins if _last_path(o) == "/slow"}
            assert len(busy) == 2
            idle = ({"s1", "s2", "s3"} - busy).pop()
            assert [_get(port) for _ in range(5)] == [idle] * 5
            for thread, _ in held:
                thread.join()
            assert sorted(_get(port) for _ in range(3)) == ["s1", "s2", "s3"]
    finally:
        for o in origins:
            o.close()


def test_first_fills_the_lowest_id_live():
    origins = _slow_origins(3)
    for o in origins:
        o.__enter__()
    port = free_port()
    names_ports = [(o.name, o.port) for o in origins]
    srv = "\n".join(f"    server {n} 127.0.0.1:{p} maxconn 2 id {10 - i}"
                    for i, (n, p) in enumerate(names_ports))
    cfg = f"""defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
listen li
    bind 127.0.0.1:{port}
    balance first
{srv}
"""
    try:
        with run_hapx(cfg, ready_ports=[port]):
            assert {_get(port) for _ in range(4)} == {"s3"}  # id 8: the lowest
            held = [_hold(port, "/slow") for _ in range(2)]
            _wait_served(origins, 6)
            assert [o.name for o in origins if _last_path(o) == "/slow"] == ["s3"]
            assert {_get(port) for _ in range(3)} == {"s2"}  # s3 is full: next id (9)
            for thread, out in held:
                thread.join()
                assert out == ["s3"]
            assert _get(port) == "s3"
    finally:
        for o in origins:
            o.close()


@pytest.mark.parametrize("affinity", ["always", "maxconn"])
def test_hash_preserve_affinity_live(affinity):
    origins = _slow_origins(3)
    for o in origins:
        o.__enter__()
    port = free_port()
    cfg = _config(port, [(o.name, o.port) for o in origins],
                  "    balance hdr(x-user)\n    hash-type consistent\n"
                  f"    hash-preserve-affinity {affinity}", weights=(1, 1, 1),
                  extra=" maxconn 1")
    try:
        with run_hapx(cfg, ready_ports=[port]):
            target = _get(port, "/", "X-User: alice\r\n")
            assert {_get(port, "/", "X-User: alice\r\n") for _ in range(3)} == {target}
            thread, out = _hold(port, "/slow", "X-User: alice\r\n")
            _wait_served(origins, 5)
            # the target now serves its maxconn: 'maxconn' walks the ring, 'always' stays
            other = _get(port, "/", "X-User: alice\r\n")
            assert (other == target) == (affinity == "always")
            thread.join()
            assert out == [target]
            assert _get(port, "/", "X-User: alice\r\n") == target  # room again: back home
    finally:
        for o in origins:
            o.close()


def test_consistent_hashing_removed_server_moves_its_keys_only_live(origins):
    port = free_port()
    names_ports = [(o.name, o.port) for o in origins]

    def cfg(members: list[tuple[str, int]]) -> str:
        srv = "\n".join(f"    server {n} 127.0.0.1:{p} id {n[1:]}" for n, p in members)
        return f"""defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
listen li
    bind 127.0.0.1:{port}
    balance uri
    hash-type consistent
{srv}
"""
    paths = [f"/item/{i}" for i in range(60)]
    with run_hapx(cfg(names_ports), ready_ports=[port]):
        before = {p: _get(port, p) for p in paths}
    with run_hapx(cfg([np for np in names_ports if np[0] != "s2"]), ready_ports=[port]):
        after = {p: _get(port, p) for p in paths}
    moved = [p for p in paths if before[p] != after[p]]
    assert moved and all(before[p] == "s2" for p in moved)
    assert len(moved) == sum(1 for p in paths if before[p] == "s2")
    assert len(moved) <= len(paths) * 0.25 * 1.8


def test_random_spreads_by_weight_live(origins):
    port = free_port()
    cfg = _config(port, [(o.name, o.port) for o in origins], "    balance random(2)")
    with run_hapx(cfg, ready_ports=[port]):
        counts = Counter(_get(port) for _ in range(280))
    assert set(counts) == {"s1", "s2", "s3", "s4"}
    assert counts["s3"] > counts["s1"] and counts["s3"] > counts["s4"]


def test_hash_missing_key_falls_back_to_round_robin_live(origins):
    port = free_port()
    cfg = _config(port, [(o.name, o.port) for o in origins],
                  "    balance hash req.cook(sid)", weights=(1, 1, 1, 1))
    with run_hapx(cfg, ready_ports=[port]):
        keyed = {_get(port, "/", "Cookie: sid=abc\r\n") for _ in range(5)}
        assert len(keyed) == 1
        assert {_get(port) for _ in range(8)} == {"s1", "s2", "s3", "s4"}


def test_backend_without_balance_line_is_weighted_roundrobin_with_backups() -> None:
    """No `balance` line: HAProxy's default, roundrobin with weights; a backup server gets
    nothing while an active one is up."""
    with OriginServer(name="a") as a, OriginServer(name="b") as b, \
            OriginServer(name="c") as c:
        port = free_port()
        conf = f"""defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
listen li
    bind 127.0.0.1:{port}
    server a 127.0.0.1:{a.port} weight 3
    server b 127.0.0.1:{b.port} weight 1
    server c 127.0.0.1:{c.port} backup
"""
        with run_hapx(conf, ready_ports=[port]):
            with httpx.Client() as cl:
                seen = Counter(cl.get(f"http://127.0.0.1:{port}/").headers["x-origin"]
                               for _ in range(40))
        assert seen == {"a": 30, "b": 10}
        assert not c.requests
