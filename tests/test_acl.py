"""ACL expressions: match methods, flags, pattern files, multi-valued fetches, MISS, and the
``acl`` directive."""

from __future__ import annotations

import ipaddress

import pytest
from hapx.core.errors import ConfigError
from hapx.core.records import AclKeyword, Arg, ArgType, Fetch, SmpType, Use
from hapx.core.sample.acl import Acl, AclResult, declare_acl, parse_acl_expr
from hapx.core.sample.match import build_matcher, match_word
from hapx.core.sample.types import F_MAY_CHANGE, Sample, smp_bin, smp_bool, smp_int, smp_str
from hapx.core.stream import HttpMessage, Session, Stream
from hapx.plugins import acl_directive

# -- small fetches reading a Stream ------------------------------------------------------------


def _path(args, strm):
    return None if strm.req is None else smp_str(strm.req.path)


def _hdr_values(args, strm):
    name, occ = args[0], args[1]
    vals = [v.strip() for full in strm.req.get_all(name) for v in full.split(",")]
    if occ:
        idx = occ - 1 if occ > 0 else len(vals) + occ
        vals = vals[idx:idx + 1] if 0 <= idx < len(vals) else []
    return [smp_str(v) for v in vals]


def _hdr(args, strm):
    vals = _hdr_values([args[0], args[1] or -1], strm)
    return vals[0] if vals else None


def _req_len(args, strm):
    return Sample(SmpType.SINT, len(strm.req_buffer), F_MAY_CHANGE)


def _payload(args, strm):
    return smp_bin(strm.req_buffer) if strm.req_buffer else None


FETCHES = (
    Fetch("path", process=_path, uses=Use.HTTP_REQ, doc="path"),
    Fetch("src", process=lambda a, s: Sample(SmpType.IPV4 if s.sess.src.version == 4
                                             else SmpType.IPV6, s.sess.src),
          out_type=SmpType.ADDR, uses=Use.L4CLI, doc="src"),
    Fetch("req.hdr", process=_hdr, values=_hdr_values, uses=Use.HTTP_REQ,
          args=(Arg("name"), Arg("occ", ArgType.SINT, optional=True, default=0)),
          doc="req.hdr"),
    Fetch("req.len", process=_req_len, out_type=SmpType.SINT, uses=Use.L6REQ, doc="req.len"),
    Fetch("req.payload", process=_payload, out_type=SmpType.BIN, uses=Use.L6REQ,
          doc="req.payload"),
    Fetch("int", process=lambda a, s: smp_int(a[0]), out_type=SmpType.SINT,
          args=(Arg("v", ArgType.SINT),), doc="int"),
    Fetch("str", process=lambda a, s: smp_str(a[0]), args=(Arg("v"),), doc="str"),
    Fetch("bool", process=lambda a, s: smp_bool(bool(a[0])), out_type=SmpType.BOOL,
          args=(Arg("v", ArgType.SINT),), doc="bool"),
    Fetch("nothing", process=lambda a, s: None, doc="nothing"),
    AclKeyword("path_beg", fetch="path", match="beg", doc="path_beg"),
    AclKeyword("path_end", fetch="path", match="end", doc="path_end"),
    AclKeyword("path_dir", fetch="path", match="dir", doc="path_dir"),
    AclKeyword("path_len", fetch="path", match="len", doc="path_len"),
    AclKeyword("hdr_sub", fetch="req.hdr", match="sub", doc="hdr_sub"),
    AclKeyword("hdr_found", fetch="req.hdr", match="found", doc="hdr_found"),
)


@pytest.fixture
def ctx(registry_with, make_ctx):
    return make_ctx(registry_with(*FETCHES))


def stream(path="/", headers=(), src="10.0.0.1", buf=b""):
    strm = Stream(Session(src=ipaddress.ip_address(src)))
    strm.req = HttpMessage(method="GET", uri=path, headers=list(headers))
    strm.req_buffer = buf
    return strm


def run(ctx, text, strm):
    return parse_acl_expr(text.split(), ctx, None).exec(strm)


M, N, MISS = AclResult.MATCH, AclResult.NOMATCH, AclResult.MISS


# -- match methods ---------------------------------------------------------------------------


def test_str_exact_and_icase(ctx):
    assert run(ctx, "path /a /b", stream("/b")) == M
    assert run(ctx, "path /a /b", stream("/B")) == N
    assert run(ctx, "path -i /a /b", stream("/B")) == M
    assert run(ctx, "path /a", stream("/a/")) == N


@pytest.mark.parametrize("method,pat,value,plain,icase", [
    ("beg", "/api", "/API/x", False, True),
    ("beg", "/api", "/api/x", True, True),
    ("end", ".css", "/x/Y.CSS", False, True),
    ("end", ".css", "/x/y.css", True, True),
    ("sub", "mid", "/aMIDb", False, True),
    ("sub", "mid", "/amidb", True, True),
    ("reg", "^/[a-z]+$", "/ABC", False, True),
    ("reg", "^/[a-z]+$", "/abc", True, True),
    ("dir", "images", "/IMAGES/x.png", False, True),
    ("dom", "example", "/a.EXAMPLE.com", False, True),
])
def test_string_methods_with_and_without_icase(ctx, method, pat, value, plain, icase):
    assert (run(ctx, f"path -m {method} {pat}", stream(value)) == M) is plain
    assert (run(ctx, f"path -i -m {method} {pat}", stream(value)) == M) is icase


def test_dir_and_dom_examples():
    s = "/images/png/logo/32x32.png"
    for pat in ("/images", "images/png", "logo/32x32.png", "png", "/images/"):
        assert match_word(s, pat, "/?"), pat
    assert not match_word(s, "png/l", "/?")
    assert not match_word(s, "/", "/?")
    host = "www1.dc-eu.example.com:80"
    assert match_word(host, "dc-eu.example", "/?.:")
    assert match_word(host, ".example.com.", "/?.:")
    assert match_word(host, "80", "/?.:")
    assert not match_word(host, "eu", "/?.:")


def test_acl_keywords_imply_method(ctx):
    assert run(ctx, "path_beg /api/ /v2/", stream("/v2/x")) == M
    assert run(ctx, "path_end -i .css .js", stream("/a.JS")) == M
    assert run(ctx, "path_dir logo", stream("/img/logo/a.png")) == M
    assert run(ctx, "path_len 3", stream("/ab")) == M
    assert run(ctx, "path_len gt 3", stream("/ab")) == N
    # -m overrides the implied method
    assert run(ctx, "path_beg -m str /api", stream("/api/x")) == N


def test_int_values_ranges_and_operators(ctx):
    def ok(spec, n):
        return run(ctx, f"int({n}) {spec}", stream()) == M
    assert ok("5", 5) and not ok("5", 6)
    assert ok("1:5", 3) and ok("1:5", 5) and not ok("1:5", 6)
    assert ok("10:", 99) and not ok("10:", 9)
    assert ok(":10", -3) and not ok(":10", 11)
    assert ok("gt 5", 6) and not ok("gt 5", 5)
    assert ok("ge 5", 5) and not ok("ge 5", 4)
    assert ok("lt 5", 4) and not ok("lt 5", 5)
    assert ok("le 5", 5) and not ok("le 5", 6)
    assert ok("eq 5", 5) and not ok("eq 5", 4)
    # the operator applies to the following patterns
    assert ok("lt 2 gt 8", 9) and ok("lt 2 gt 8", 1) and not ok("lt 2 gt 8", 5)
    assert ok("-- -5", -5) and ok("-- -9:-5", -7)


def test_int_dotted_versions():
    m = build_matcher("int", ["1.1:"])
    assert m.match(smp_int((1 << 16) + 2))
    assert not m.match(smp_int(1 << 16))


def test_int_pattern_errors(ctx):
    with pytest.raises(ConfigError, match="'abc' is not a number"):
        parse_acl_expr(["int(1)", "abc"], ctx)
    with pytest.raises(ConfigError, match="'x' is neither a number nor a supported operator"):
        parse_acl_expr(["int(1)", "gt", "x"], ctx)


def test_ip_masks_and_mapping(ctx):
    def ok(spec, src):
        return run(ctx, f"src {spec}", stream(src=src)) == M
    assert ok("10.0.0.0/8", "10.2.3.4")
    assert ok("10.0.0.0/255.0.0.0", "10.2.3.4")
    assert not ok("10.0.0.0/8", "11.2.3.4")
    assert ok("1.2.3.4", "1.2.3.4") and not ok("1.2.3.4", "1.2.3.5")
    assert ok("1.0.3.0/255.0.255.0", "1.9.3.9")
    assert ok("2001:db8::/32", "2001:db8::1") and not ok("2001:db8::/32", "2001:db9::1")
    # v4 samples match v4-mapped patterns and v4-mapped samples match v4 patterns
    assert ok("::ffff:10.0.0.0/104", "10.1.1.1")
    assert ok("10.0.0.0/8", "::ffff:10.1.1.1")
    assert ok("127.0.0.1/8 ::1", "::1")


def test_ip_longest_prefix_in_maps():
    m = build_matcher("ip", [("10.0.0.0/8", "wide"), ("10.1.0.0/16", "narrow"),
                             ("10.1.0.0/16", "dup")])
    assert m.lookup(Sample(SmpType.IPV4, ipaddress.ip_address("10.1.2.3"))) == "narrow"
    assert m.lookup(Sample(SmpType.IPV4, ipaddress.ip_address("10.9.2.3"))) == "wide"
    assert m.lookup(smp_str("10.1.9.9")) == "narrow"


def test_ip_hostnames_and_no_dns(ctx):
    assert run(ctx, "src localhost", stream(src="127.0.0.1")) == M
    with pytest.raises(ConfigError, match="is not a valid IPv4 or IPv6 address"):
        parse_acl_expr(["src", "-n", "localhost"], ctx)
    with pytest.raises(ConfigError, match="'1.2.3.4/abc' is not a valid IPv4 or IPv6"):
        parse_acl_expr(["src", "1.2.3.4/abc"], ctx)


def test_bin_len_found_bool(ctx):
    s = stream(buf=b"\x16\x03\x01")
    assert run(ctx, "req.payload -m bin 160301", s) == M
    assert run(ctx, "req.payload -m bin 1603", s) == N
    assert run(ctx, "req.payload -m len 3", s) == M
    assert run(ctx, "path -m len 2:4", stream("/abc")) == M
    assert run(ctx, "path -m found", stream("/x")) == M
    assert run(ctx, "nothing -m found", stream()) == N
    assert run(ctx, "bool(1)", stream()) == M
    assert run(ctx, "bool(0)", stream()) == N
    assert run(ctx, "int(3) -m bool", stream()) == M
    assert run(ctx, "int(0) -m bool", stream()) == N


def test_bin_needs_a_method(ctx):
    with pytest.raises(ConfigError, match="matching method must be specified first"):
        parse_acl_expr(["req.payload", "00"], ctx)
    with pytest.raises(ConfigError, match="an even number of hex digit is expected"):
        parse_acl_expr(["req.payload", "-m", "bin", "012"], ctx)


def test_string_match_stops_at_nul(ctx):
    assert run(ctx, "req.payload -m str ab", stream(buf=b"ab\x00cd")) == M
    assert run(ctx, "req.payload -m sub cd", stream(buf=b"ab\x00cd")) == N


def test_method_errors(ctx):
    with pytest.raises(ConfigError, match="unknown matching method 'foo'"):
        parse_acl_expr(["path", "-m", "foo", "x"], ctx)
    with pytest.raises(ConfigError, match="matching method 'ip' cannot be used with fetch "
                                          "keyword 'req.payload'"):
        parse_acl_expr(["req.payload", "-m", "ip", "1.2.3.4"], ctx)
    with pytest.raises(ConfigError, match="regex '\\(' is invalid"):
        parse_acl_expr(["path", "-m", "reg", "("], ctx)
    with pytest.raises(ConfigError, match="'-x' is not a valid ACL option"):
        parse_acl_expr(["path", "-x", "a"], ctx)
    with pytest.raises(ConfigError, match="missing fetch method"):
        parse_acl_expr([], ctx)


def test_dashes_and_literal_i(ctx):
    assert run(ctx, "path -- -i", stream("-i")) == M
    assert run(ctx, "path /x -i", stream("-i")) == M
    assert run(ctx, "path /x -i", stream("/X")) == N


def test_missing_patterns_warns(ctx):
    parse_acl_expr(["path_beg"], ctx)
    assert any("no pattern to match against" in m.text for m in ctx.diag.warnings)
    before = len(ctx.diag.warnings)
    parse_acl_expr(["path_beg", "--"], ctx)
    parse_acl_expr(["path", "-m", "found"], ctx)
    assert len(ctx.diag.warnings) == before


# -- multi-valued fetches and MISS ---------------------------------------------------------------


def test_every_value_is_tried(ctx):
    s = stream(headers=[("X", "a, b"), ("X", "c")])
    assert run(ctx, "req.hdr(x) b", s) == M
    assert run(ctx, "req.hdr(x) c", s) == M
    assert run(ctx, "hdr_sub(x) b", s) == M
    assert run(ctx, "req.hdr(x,1) b", s) == N
    assert run(ctx, "req.hdr(x,2) b", s) == M
    assert run(ctx, "hdr_found(x)", s) == M
    assert run(ctx, "hdr_found(y)", s) == N


def test_may_change_gives_miss(ctx):
    assert run(ctx, "req.len gt 10", stream(buf=b"abc")) == MISS
    assert run(ctx, "req.len gt 1", stream(buf=b"abc")) == M


def test_failing_fetch_is_nomatch(ctx):
    assert run(ctx, "nothing x", stream()) == N


# -- pattern files ------------------------------------------------------------------------------


def test_pattern_files(ctx, tmp_path):
    f1 = tmp_path / "a.lst"
    f1.write_text("# comment\n\n  /one\n\t/Two\n #hash\n")
    e = parse_acl_expr(["path", "-f", str(f1)], ctx)
    assert e.exec(stream("/one")) == M
    assert e.exec(stream("#hash")) == M
    assert e.exec(stream("/two")) == N
    ei = parse_acl_expr(["path", "-i", "-f", str(f1), "/three"], ctx)
    assert ei.exec(stream("/two")) == M and ei.exec(stream("/THREE")) == M
    # -i affects only the lists after it
    e2 = parse_acl_expr(["path", "-f", str(f1), "-i", "-f", "virt@x"], ctx)
    assert e2.exec(stream("/TWO")) == N
    ctx.config.patterns.get("virt@x").add("/ABC")
    assert e2.exec(stream("/abc")) == M


def test_pattern_file_names(ctx, tmp_path):
    with pytest.raises(ConfigError, match="failed to open pattern file"):
        parse_acl_expr(["path", "-f", str(tmp_path / "none")], ctx)
    e = parse_acl_expr(["path", "-f", f"opt@{tmp_path}/none"], ctx)
    assert e.exec(stream("/")) == N
    ref = ctx.config.patterns.get(str(tmp_path / "none"))
    assert ref is not None and ref.entries == []
    ref.add("/")
    assert e.exec(stream("/")) == M


def test_bad_pattern_in_file(ctx, tmp_path):
    f = tmp_path / "ips"
    f.write_text("10.0.0.1\nnot-an-ip\n")
    with pytest.raises(ConfigError, match="not a valid IPv4 or IPv6 address"):
        parse_acl_expr(["src", "-n", "-f", str(f)], ctx)


def test_method_must_come_before_files(ctx, tmp_path):
    f = tmp_path / "a"
    f.write_text("x\n")
    with pytest.raises(ConfigError, match="'-m' must only be specified before"):
        parse_acl_expr(["path", "-f", str(f), "-m", "beg"], ctx)


def test_map_file_as_acl(ctx, tmp_path):
    f = tmp_path / "m.map"
    f.write_text("/a backend1\n/b backend2\n")
    e = parse_acl_expr(["path", "-M", "-f", str(f)], ctx)
    assert e.exec(stream("/b")) == M
    assert e.exec(stream("/b backend2")) == N


def test_inline_patterns_are_a_listed_ref(ctx):
    ctx.line = 7
    e = parse_acl_expr(["path_beg", "-u", "42", "/x"], ctx)
    ref = ctx.config.patterns.get("#42")
    assert ref is e.inline
    assert ref.description == "acl 'path_beg' file 'test.cfg' line 7"
    ref.add("/y")
    assert e.exec(stream("/y/z")) == M


# -- named ACLs and the directive -------------------------------------------------------------


def test_declare_acl_adds_alternatives(ctx):
    px = ctx.proxy
    declare_acl(px, "static", ["path_beg", "/static"], ctx)
    declare_acl(px, "static", ["path_end", ".css"], ctx)
    acl = px.acls["static"]
    assert isinstance(acl, Acl) and len(acl.exprs) == 2
    assert acl.exec(stream("/static/x")) == M
    assert acl.exec(stream("/a.css")) == M
    assert acl.exec(stream("/a.js")) == N
    assert acl.uses == Use.HTTP_REQ


def test_declare_acl_errors(ctx, make_ctx):
    with pytest.raises(ConfigError, match="character '%' is not permitted in acl name 'a%b'"):
        declare_acl(ctx.proxy, "a%b", ["path", "/"], ctx)
    with pytest.raises(ConfigError, match="acl name 'or' will never match"):
        declare_acl(ctx.proxy, "or", ["path", "/"], ctx)
    with pytest.raises(ConfigError, match="error detected while parsing ACL 'x' : unknown "
                                          "matching method 'zz'"):
        declare_acl(ctx.proxy, "x", ["path", "-m", "zz"], ctx)
    anon = make_ctx(ctx.registry, section_kind="defaults", proxy_name="")
    with pytest.raises(ConfigError, match="not allowed in anonymous 'defaults' section"):
        declare_acl(anon.proxy, "x", ["path", "/"], anon)
    named = make_ctx(ctx.registry, section_kind="defaults", proxy_name="d")
    declare_acl(named.proxy, "x", ["path", "/"], named)
    declare_acl(ctx.proxy, "A-z_0.9:x", ["path", "/"], ctx)


def test_acl_directive_through_the_parser(tmp_path):
    from hapx.core.config import sections as kernel_sections
    from hapx.core.config.parser import parse_config
    from hapx.core.errors import Diagnostics
    from hapx.core.hookspecs import hookimpl
    from hapx.core.loader import PluginSet

    class Fetches:
        @hookimpl
        def hapx_register_fetches(self, fetches):
            fetches.add(*FETCHES)

    ps = PluginSet()
    ps.add_plugin("kernel", kernel_sections)
    ps.add_plugin("fetches", Fetches())
    ps.add_plugin("acl_directive", acl_directive)
    cfg = tmp_path / "h.cfg"
    cfg.write_text("frontend fe\n  acl api path_beg /api\n  acl api path_beg /v2\n"
                   "  acl bad path_beg -m nope\n")
    import io
    diag = Diagnostics(quiet=True, stream=io.StringIO())
    config = parse_config([str(cfg)], ps, diag)
    fe = config.proxies[0]
    assert len(fe.acls["api"].exprs) == 2
    assert [m.text for m in diag.alerts] == [
        "error detected while parsing ACL 'bad' : unknown matching method 'nope' when "
        "parsing ACL expression."]
    assert diag.alerts[0].line == 4


def test_untyped_fetch_needs_a_method(registry_with, make_ctx):
    anyf = Fetch("anyv", process=lambda a, s: smp_str("bar"), out_type=SmpType.ANY, doc="anyv")
    c = make_ctx(registry_with(anyf))
    with pytest.raises(ConfigError, match="matching method must be specified first"):
        parse_acl_expr(["anyv", "bar"], c)
    assert parse_acl_expr(["anyv", "-m", "str", "bar"], c).exec(stream()) == M
