"""Indexed pattern matchers: the same answers as trying every pattern (HAProxy's rules for
which entry wins), lookups that probe the index instead of scanning, and incremental
updates (add, del, set, clear, prepare/commit) that agree with a fresh build."""

from __future__ import annotations

import ipaddress
import random

import pytest
from hapx.core.records import SmpType
from hapx.core.sample.match import RefIndexMatcher, RefMatcher, build_matcher, match_word
from hapx.core.sample.matchers import DIR_DELIMS, DOM_DELIMS, lower, parse_int_range
from hapx.core.sample.patterns import PatternStore, read_map_lines
from hapx.core.sample.types import Sample, smp_int, smp_str

# -- reference answers: every pattern tried, as HAProxy's lists and trees decide ----------------


def naive(method: str, patterns: list[str], s: str, icase: bool) -> int | None:
    """Index of the winning pattern for string sample ``s``."""
    if icase:
        s = lower(s)
        patterns = [lower(p) for p in patterns]
    if method == "beg" and not icase:  # a prefix tree: the longest prefix, then the first
        best = None
        for i, p in enumerate(patterns):
            if s.startswith(p) and (best is None or len(p) > len(patterns[best])):
                best = i
        return best
    tests = {
        "str": lambda p: s == p,
        "beg": lambda p: s.startswith(p),
        "end": lambda p: s.endswith(p),
        "sub": lambda p: p in s,
        "dir": lambda p: match_word(s, p, DIR_DELIMS),
        "dom": lambda p: match_word(s, p, DOM_DELIMS),
    }
    test = tests[method]
    return next((i for i, p in enumerate(patterns) if test(p)), None)


def rand_text(rnd: random.Random, alphabet: str, n: int) -> str:
    return "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, n)))


@pytest.mark.parametrize("icase", [False, True])
@pytest.mark.parametrize("method", ["str", "beg", "end", "sub", "dir", "dom"])
def test_string_methods_agree_with_trying_every_pattern(method, icase):
    rnd = random.Random(f"{method}{icase}")
    alphabet = "aAb./:?"
    for _ in range(40):
        patterns = [rand_text(rnd, alphabet, 5) for _ in range(rnd.randint(1, 12))]
        m = build_matcher(method, [(p, i) for i, p in enumerate(patterns)], icase=icase)
        for _ in range(60):
            s = rand_text(rnd, alphabet, 9)
            want = naive(method, patterns, s, icase)
            assert m.lookup(smp_str(s)) == want, (patterns, s)
            assert m.match(smp_str(s)) is (want is not None), (patterns, s)


def test_int_ranges_first_declared_wins():
    rnd = random.Random(7)
    for _ in range(60):
        keys = []
        for _ in range(rnd.randint(1, 10)):
            lo, hi = sorted(rnd.randint(-5, 20) for _ in range(2))
            keys.append(rnd.choice([f"{lo}", f"{lo}:{hi}", f"{lo}:", f":{hi}"]))
        m = build_matcher("int", [(k, i) for i, k in enumerate(keys)])
        for n in range(-8, 24):
            want = None
            for i, k in enumerate(keys):
                lo, hi = parse_int_range(k)
                if (lo is None or n >= lo) and (hi is None or n <= hi):
                    want = i
                    break
            assert m.lookup(smp_int(n)) == want, (keys, n)
            assert m.match(smp_int(n)) is (want is not None)


def _ip(text: str) -> Sample:
    addr = ipaddress.ip_address(text)
    return Sample(SmpType.IPV4 if addr.version == 4 else SmpType.IPV6, addr)


def test_ip_longest_prefix_then_mapped_then_masks():
    m = build_matcher("ip", [("10.1.0.0/255.0.255.0", "masked"), ("10.0.0.0/8", "wide"),
                             ("10.1.0.0/16", "narrow"), ("10.1.2.3", "host"),
                             ("10.1.0.0/16", "dup"), ("::ffff:192.168.0.0/112", "mapped"),
                             ("2001:db8::/32", "doc"), ("2001:db8:1::/48", "doc48")])
    assert m.lookup(_ip("10.1.2.3")) == "host"
    assert m.lookup(_ip("10.1.9.9")) == "narrow"
    assert m.lookup(_ip("10.7.9.9")) == "wide"
    # a v4 sample looks in the v6 networks as ::ffff:a.b.c.d, before the masked entries
    assert m.lookup(_ip("192.168.3.4")) == "mapped"
    assert m.lookup(_ip("2001:db8:1::5")) == "doc48"
    assert m.lookup(_ip("2001:db8:2::5")) == "doc"
    assert m.lookup(_ip("::ffff:10.1.9.9")) == "narrow"
    assert m.lookup(_ip("11.0.0.1")) is None
    masked = build_matcher("ip", [("10.0.0.0/255.0.255.0", "a"), ("10.0.0.0/255.0.0.255", "b")])
    assert masked.lookup(_ip("10.9.0.7")) == "a" and masked.lookup(_ip("10.9.7.0")) == "b"


# -- lookups probe the index -----------------------------------------------------------------


class CountingDict(dict):
    """A dict counting the lookups made through get() and ``in``."""

    probes = 0

    def get(self, key, default=None):
        CountingDict.probes += 1
        return super().get(key, default)

    def __contains__(self, key):
        CountingDict.probes += 1
        return super().__contains__(key)


def probes(m, table, smp) -> int:
    CountingDict.probes = 0
    m.table.first = CountingDict(table.first)
    m.find(smp)
    m.match(smp)
    return CountingDict.probes


def test_lookups_do_not_scan():
    n = 5000
    beg = build_matcher("beg", [(f"/p{i:05d}/", i) for i in range(n)] + [("/", -1)])
    assert probes(beg, beg.table, smp_str("/p04999/x/y")) <= 2 * 2  # two lengths present
    assert beg.lookup(smp_str("/p04999/x/y")) == 4999 and beg.lookup(smp_str("/q")) == -1
    end = build_matcher("end", [(f".d{i:05d}.com", i) for i in range(n)])
    assert probes(end, end.table, smp_str("www.d01234.com")) <= 2
    dom = build_matcher("dom", [(f"h{i}.example.com", i) for i in range(n)])
    sample = smp_str("www.h4321.example.com:8080")
    # 6 segments x 1 pattern size (3 segments): 4 candidate runs, twice (find + match)
    assert probes(dom, dom.table, sample) <= 8
    assert dom.lookup(sample) == 4321
    ip = build_matcher("ip", [(f"10.{i // 256}.{i % 256}.0/24", i) for i in range(n)])
    CountingDict.probes = 0
    table = ip.v4.tables[24]
    table.first = CountingDict(table.first)
    assert ip.lookup(_ip("10.3.4.5")) == 3 * 256 + 4
    assert CountingDict.probes == 1
    rx = build_matcher("reg", [("^/a", 1), ("^/a", 2)])
    assert len({id(item[1]) for item in rx.items}) == 1  # the same regex compiled once


def test_exact_map_shares_the_list_key_index():
    store = PatternStore()
    ref = store.load("virt@hosts", kind="map")
    ref.add_many([("a.example", "be_a"), ("b.example", "be_b"), ("a.example", "dup")])
    m = RefMatcher(ref, "str")
    assert isinstance(m.matcher, RefIndexMatcher)
    assert m.lookup(smp_str("a.example")) == "be_a"
    ref.delete_entry(ref.find("a.example")[0])
    assert m.lookup(smp_str("a.example")) == "dup"
    ref.set("b.example", "be_b2")
    assert m.lookup(smp_str("b.example")) == "be_b2"
    ver = ref.prepare()
    ref.add("c.example", "be_c", version=ver)
    assert m.lookup(smp_str("c.example")) is None
    ref.commit(ver)
    assert m.lookup(smp_str("c.example")) == "be_c" and m.lookup(smp_str("b.example")) is None
    ref.clear()
    assert not m.match(smp_str("c.example"))
    # with -i or a typed value, the matcher has its own table
    assert not isinstance(RefMatcher(ref, "str", icase=True).matcher, RefIndexMatcher)


# -- incremental updates agree with a fresh build -------------------------------------------

KEYS = {
    "str": ["a", "b", "ab", "A"],
    "beg": ["/", "/a", "/ab", "/A"],
    "end": [".js", "s", ".css", "js"],
    "sub": ["a", "bc", "x"],
    "dir": ["a", "a/b", "/b/"],
    "dom": ["example.com", "com", "www.example"],
    "int": ["1", "1:5", "3", ":2", "4:"],
    "ip": ["10.0.0.0/8", "10.1.0.0/16", "10.1.2.3", "10.0.0.0/255.0.255.0", "::1"],
    "reg": ["^a", "b$", "a.b"],
}
SAMPLES = {
    "str": ["a", "b", "ab", "A", "x"],
    "beg": ["/abc", "/a", "/x", "/ABC", "x"],
    "end": ["a.js", "b.css", "xs", "nothing"],
    "sub": ["xabc", "bcd", "zz"],
    "dir": ["/a/b/c", "/x/a", "/b", "/z"],
    "dom": ["www.example.com", "x.com", "www.example.org", "none"],
    "int": ["0", "1", "3", "4", "9"],
    "ip": ["10.1.2.3", "10.1.9.9", "10.9.0.1", "10.9.8.7", "::1", "1.2.3.4"],
    "reg": ["abc", "xb", "a-b", "zzz"],
}


def sample_for(method: str, text: str) -> Sample:
    if method == "int":
        return smp_int(int(text))
    if method == "ip":
        return _ip(text)
    return smp_str(text)


@pytest.mark.parametrize("icase", [False, True])
@pytest.mark.parametrize("method", sorted(KEYS))
def test_runtime_updates_match_a_fresh_build(method, icase):
    if icase and method in ("int", "ip"):
        pytest.skip("-i applies to strings")
    rnd = random.Random(f"upd{method}{icase}")
    store = PatternStore()
    ref = store.load(f"virt@{method}", kind="map")
    live = RefMatcher(ref, method, icase=icase)
    pending: int | None = None
    for step in range(300):
        op = rnd.choice(["add", "add", "del", "set", "del_entry", "prepare", "commit",
                         "clear"])
        key = rnd.choice(KEYS[method])
        if op == "add":
            if pending is not None and rnd.random() < 0.5:
                ref.add(key, f"v{step}", version=pending)
            else:
                ref.add(key, f"v{step}")
        elif op == "del":
            ref.delete(key)
        elif op == "set":
            ref.set(key, f"s{step}")
        elif op == "del_entry" and len(ref):
            ref.delete_entry(rnd.choice(ref.entries))
        elif op == "prepare" and pending is None:
            pending = ref.prepare()
        elif op == "commit" and pending is not None:
            ref.commit(pending)
            pending = None
        elif op == "clear" and rnd.random() < 0.2:
            ref.clear()
        fresh = build_matcher(method, [(e.key, e.value) for e in ref.entries], icase=icase)
        assert len(live) == len(fresh)
        for text in SAMPLES[method]:
            smp = sample_for(method, text)
            assert live.lookup(smp) == fresh.lookup(smp), (step, op, key, text)
            assert live.match(smp) is fresh.match(smp)


def test_typed_values_follow_set_and_skip_bad_ones():
    store = PatternStore()
    ref = store.load("virt@typed", kind="map")
    ref.add("k", "1")
    m = RefMatcher(ref, "str", value_parser=int)
    assert m.lookup(smp_str("k")) == 1
    ref.set("k", "nope")  # not a number: the entry is not matched any more
    assert m.lookup(smp_str("k")) is None
    ref.set("k", "7")
    assert m.lookup(smp_str("k")) == 7


def test_map_reader_edge_cases():
    data = "\v\fk1 \t v 1 \r\nk2\r\n  #c\n#d\nk3\x85x y\n \t\r\nk4  \r v4\nlast one"
    assert read_map_lines(data) == [("k1", "v 1 "), ("k2", ""), ("k3\x85x", "y"),
                                    ("k4", "v4"), ("last", "one")]


# -- the same winners as HAProxy -------------------------------------------------------------

ORACLE_MAPS = {
    "beg.map": "/a first\n/ab second\n/ root\n/a dup\n",
    "end.map": "b.c one\n.c two\nc three\n",
    "dom.map": "example.com one\nwww.example two\ncom three\n",
    "dir.map": "b/c one\na two\nc three\n",
    "sub.map": "bc one\nab two\n",
    "reg.map": "b one\n^a two\n",
    "int.map": "5:9 one\n7 two\n:3 three\n",
    "ip.map": "10.0.0.0/8 wide\n10.1.0.0/16 narrow\n10.1.0.0/16 dup\n10.0.0.0/255.0.255.0 mask\n",
    "str.map": "k one\nk two\n",
}

ORACLE_CFG = """
defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 1s
frontend fe
    bind 127.0.0.1:{port}
    http-request return status 200 hdr x-beg "%[req.hdr(x-s),map_beg(beg.map,none)]" \
hdr x-end "%[req.hdr(x-s),map_end(end.map,none)]" \
hdr x-dom "%[req.hdr(x-s),map_dom(dom.map,none)]" \
hdr x-dir "%[req.hdr(x-s),map_dir(dir.map,none)]" \
hdr x-sub "%[req.hdr(x-s),map_sub(sub.map,none)]" \
hdr x-reg "%[req.hdr(x-s),map_reg(reg.map,none)]" \
hdr x-str "%[req.hdr(x-s),map_str(str.map,none)]" \
hdr x-int "%[req.hdr(x-n),map_int(int.map,none)]" \
hdr x-ip "%[req.hdr(x-ip),map_ip(ip.map,none)]"
"""


def test_winners_match_haproxy():
    import httpx
    from netutil import free_port, have_haproxy, run_haproxy, run_hapx

    requests = [("/abc", "7", "10.1.2.3"), ("/a/b/c", "4", "10.2.0.9"),
                ("www.example.com", "2", "10.9.0.1"), ("k", "8", "11.0.0.1"),
                ("abc", "x", "10.1.0.1"), ("/x/a/b/c", "100", "::ffff:10.1.0.1")]
    results = {}
    runners = [("hapx", run_hapx)] + ([("haproxy", run_haproxy)] if have_haproxy() else [])
    for name, runner in runners:
        port = free_port()
        got = []
        with runner(ORACLE_CFG.format(port=port), ready_ports=[port], files=ORACLE_MAPS):
            for s, n, ip in requests:
                r = httpx.get(f"http://127.0.0.1:{port}/",
                              headers={"x-s": s, "x-n": n, "x-ip": ip})
                got.append({k: v for k, v in r.headers.items() if k.startswith("x-")})
        results[name] = got
    assert results["hapx"][0] == {"x-beg": "second", "x-end": "three", "x-dom": "none",
                                  "x-dir": "none", "x-sub": "one", "x-reg": "one",
                                  "x-str": "none", "x-int": "one", "x-ip": "narrow"}
    assert results["hapx"][2]["x-dom"] == "one" and results["hapx"][1]["x-end"] == "three"
    assert results["hapx"][3]["x-str"] == "one"
    if "haproxy" in results:
        assert results["hapx"] == results["haproxy"]
