"""Map converters: map, map_<match>, map_<match>_<out>, defaults, regm back-references,
pattern files and runtime updates."""

from __future__ import annotations

import ipaddress

import pytest
from hapx.core.errors import ConfigError
from hapx.core.records import Arg, ArgType, Fetch, SmpType
from hapx.core.sample.expr import compile_expr
from hapx.core.sample.types import Sample, smp_int, smp_str
from hapx.core.stream import Session, Stream
from hapx.plugins.conv_map import map_converters

FETCHES = (
    Fetch("str", process=lambda a, s: smp_str(a[0]), args=(Arg("v"),), doc="str"),
    Fetch("int", process=lambda a, s: smp_int(a[0]), out_type=SmpType.SINT,
          args=(Arg("v", ArgType.SINT),), doc="int"),
    Fetch("src", process=lambda a, s: Sample(SmpType.IPV4, s.sess.src),
          out_type=SmpType.IPV4, doc="src"),
)


@pytest.fixture
def ctx(registry_with, make_ctx):
    return make_ctx(registry_with(*FETCHES, *map_converters()))


def val(ctx, text, src="10.0.0.1"):
    smp = compile_expr(text, ctx).eval(Stream(Session(src=ipaddress.ip_address(src))))
    return None if smp is None else (smp.type, smp.value)


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_all_names_registered():
    names = {c.name for c in map_converters()}
    for match in ("str", "beg", "sub", "dir", "dom", "end", "reg", "regm", "int", "ip"):
        assert f"map_{match}" in names
        assert f"map_{match}_int" in names and f"map_{match}_ip" in names
    assert "map" in names
    assert all(c.doc.startswith(c.name + "(<map>[,<default>])") for c in map_converters())


def test_map_str_and_default(ctx, tmp_path):
    f = write(tmp_path, "hosts.map", "# hosts\nexample.com be_ex\nfoo.org   be foo  \n"
                                     "example.com dup\n")
    assert val(ctx, f"str(example.com),map({f})") == (SmpType.STR, "be_ex")
    assert val(ctx, f"str(foo.org),map_str({f})") == (SmpType.STR, "be foo  ")
    assert val(ctx, f"str(nope),map({f})") is None
    assert val(ctx, f"str(nope),map({f},be_default)") == (SmpType.STR, "be_default")
    assert val(ctx, f"str(EXAMPLE.com),map({f})") is None


def test_map_beg_longest_prefix_wins(ctx, tmp_path):
    # HAProxy indexes "beg" keys in a prefix tree (seen with Debian's haproxy 2.6: a map
    # "/a x" then "/ab y" gives y for /abc), although acl.md says the first line wins
    f = write(tmp_path, "paths.map", "/api first\n/api/v2 second\n/ root\n/api again\n")
    assert val(ctx, f"str(/api/v2/x),map_beg({f})") == (SmpType.STR, "second")
    assert val(ctx, f"str(/api/x),map_beg({f})") == (SmpType.STR, "first")
    assert val(ctx, f"str(/other),map_beg({f})") == (SmpType.STR, "root")


def test_list_methods_first_line_wins(ctx, tmp_path):
    g = write(tmp_path, "ends.map", ".css css\n.js js\n")
    assert val(ctx, f"str(/a/b.js),map_end({g})") == (SmpType.STR, "js")
    assert val(ctx, f"str(xxcssyy),map_sub({write(tmp_path, 's', 'css c')})") == (
        SmpType.STR, "c")
    d = write(tmp_path, "dom.map", "example.com ex\n")
    assert val(ctx, f"str(www.example.com:80),map_dom({d})") == (SmpType.STR, "ex")
    assert val(ctx, f"str(www.myexample.com),map_dom({d})") is None
    r = write(tmp_path, "dir.map", "logo l\n")
    assert val(ctx, f"str(/img/logo/a.png),map_dir({r})") == (SmpType.STR, "l")


def test_map_reg_and_regm(ctx, tmp_path):
    f = write(tmp_path, "re.map", "^/user/([0-9]+)/(\\w+)$ id=\\1,act=\\2\n^/ any\n")
    assert val(ctx, f"str(/user/42/edit),map_reg({f})") == (SmpType.STR, "id=\\1,act=\\2")
    assert val(ctx, f"str(/user/42/edit),map_regm({f})") == (SmpType.STR, "id=42,act=edit")
    assert val(ctx, f"str(/x),map_regm({f})") == (SmpType.STR, "any")
    n = write(tmp_path, "ren.map", "^/n/([0-9]+) \\1\n")
    assert val(ctx, f"str(/n/17),map_regm_int({n})") == (SmpType.SINT, 17)


def test_typed_outputs(ctx, tmp_path):
    f = write(tmp_path, "t.map", "a 12\nb -3\n")
    assert val(ctx, f"str(a),map_str_int({f})") == (SmpType.SINT, 12)
    ip = write(tmp_path, "ip.map", "b 10.1.2.3\nc 2001:db8::1\n")
    assert val(ctx, f"str(b),map_str_ip({ip})") == (SmpType.IPV4,
                                                    ipaddress.ip_address("10.1.2.3"))
    assert val(ctx, f"str(c),map_str_ip({ip})") == (SmpType.IPV6,
                                                    ipaddress.ip_address("2001:db8::1"))
    assert val(ctx, f"str(z),map_str_int({f},7)") == (SmpType.SINT, 7)
    with pytest.raises(ConfigError, match="'10.1.2.3' is not a number"):
        compile_expr(f"str(b),map_str_int({ip})", ctx)
    with pytest.raises(ConfigError, match="cannot parse default ip <nope>"):
        compile_expr(f"str(b),map_str_ip({ip},nope)", ctx)


def test_int_and_ip_keys(ctx, tmp_path):
    f = write(tmp_path, "int.map", "1 one\n5:9 some\n")
    assert val(ctx, f"int(1),map_int({f})") == (SmpType.STR, "one")
    assert val(ctx, f"int(7),map_int({f})") == (SmpType.STR, "some")
    assert val(ctx, f"int(10),map_int({f})") is None
    g = write(tmp_path, "net.map", "10.0.0.0/8 wide\n10.1.0.0/16 narrow\n::1 six\n")
    assert val(ctx, f"src,map_ip({g})", "10.1.9.9") == (SmpType.STR, "narrow")
    assert val(ctx, f"src,map_ip({g})", "10.2.9.9") == (SmpType.STR, "wide")
    assert val(ctx, f"str(10.1.0.1),map_ip({g})") == (SmpType.STR, "narrow")
    assert val(ctx, f"src,map_ip({g},none)", "192.0.2.1") == (SmpType.STR, "none")
    bad = write(tmp_path, "bad.map", "notanip x\n")
    with pytest.raises(ConfigError, match="not a valid IPv4 or IPv6 address"):
        compile_expr(f"src,map_ip({bad})", ctx)


def test_files_and_runtime_updates(ctx, tmp_path):
    with pytest.raises(ConfigError, match="failed to open pattern file"):
        compile_expr(f"str(a),map({tmp_path}/missing)", ctx)
    assert val(ctx, f"str(a),map(opt@{tmp_path}/missing,d)") == (SmpType.STR, "d")
    expr = compile_expr("str(k),map(virt@dyn)", ctx)
    strm = Stream(Session())
    assert expr.eval(strm) is None
    ref = ctx.config.patterns.get("virt@dyn")
    ref.add("k", "v1")
    assert expr.eval(strm).value == "v1"
    ref.set("k", "v2")
    assert expr.eval(strm).value == "v2"
    ver = ref.prepare()
    ref.add("k", "v3", version=ver)
    assert expr.eval(strm).value == "v2"
    ref.commit(ver)
    assert expr.eval(strm).value == "v3"
    assert ref.is_map and ref.used_by[0].kind == "map"
    # a second user of the same list shares the compiled matcher
    compile_expr("str(k),map(virt@dyn)", ctx)
    assert len(ref.cache) == 1 and len(ref.used_by) == 2
