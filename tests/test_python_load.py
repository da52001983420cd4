"""``python-load <file.py>`` (plugin python_load): a module's @hookimpl registration
functions add keywords to the configuration; a real hapx process uses them in rules."""

from __future__ import annotations

import httpx
from cfgtools import parse_text
from netutil import OriginServer, free_port, run_hapx

MODULE = '''
"""Keywords for one configuration, without packaging."""
from hapx.core.hookspecs import hookimpl
from hapx.core.records import Arg, ArgType, Converter, Fetch, SmpType, Use
from hapx.core.sample.types import Sample

STARTED = []


def _hdr_count(args, strm):
    return Sample(SmpType.SINT, len(strm.req.headers))


def _wrap(args, smp, strm):
    left, right = args
    return Sample(SmpType.STR, f"{left}{smp.value}{right}")


@hookimpl
def hapx_register_fetches(fetches):
    fetches.add(Fetch("py.hdr_count", process=_hdr_count, out_type=SmpType.SINT,
                      uses=Use.HTTP_REQ,
                      doc="py.hdr_count\\n\\nThe number of request headers."))


@hookimpl
def hapx_register_converters(converters):
    converters.add(Converter("py.wrap", process=_wrap, in_type=SmpType.STR,
                             out_type=SmpType.STR,
                             args=(Arg("left"), Arg("right", optional=True, default="")),
                             doc="py.wrap(<left>[,<right>])\\n\\nSurround the input."))


@hookimpl
def hapx_startup(config, runtime):
    STARTED.append(config)
'''


def test_python_load_fetch_and_converter_in_rules():
    port = free_port()
    with OriginServer() as o:
        cfg = f"""global
    python-load ext/kw.py
defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 2s
frontend fe
    bind 127.0.0.1:{port}
    http-request deny deny_status 429 if {{ py.hdr_count gt 6 }}
    http-request set-header x-wrapped %[path,py.wrap(<,>)]
    http-request set-header x-count %[py.hdr_count,py.wrap(n=)]
    default_backend be
backend be
    server s1 127.0.0.1:{o.port}
"""
        with run_hapx(cfg, files={"ext/kw.py": MODULE}, ready_ports=[port]):
            r = httpx.get(f"http://127.0.0.1:{port}/a/b", headers={"x-one": "1"})
            assert r.status_code == 200
            req = o.last
            assert req.header("x-wrapped") == "</a/b>"
            # host, accept, accept-encoding, connection, user-agent, x-one, x-wrapped
            assert req.header("x-count") == "n=7"
            many = {f"x-h{i}": "v" for i in range(5)}
            assert httpx.get(f"http://127.0.0.1:{port}/", headers=many).status_code == 429


def test_python_load_errors(tmp_path):
    (tmp_path / "bad.py").write_text("import nonexistent_module_xyz\n")
    (tmp_path / "dup.py").write_text(
        "from hapx.core.hookspecs import hookimpl\n"
        "from hapx.core.records import Converter\n"
        "@hookimpl\n"
        "def hapx_register_converters(converters):\n"
        "    converters.add(Converter('lower', process=lambda a, s, t: s, doc='x'))\n")
    (tmp_path / "empty.py").write_text("X = 1\n")
    _, diag, _ = parse_text(tmp_path, "global\n    python-load nothere.py\n")
    assert "failed to load Python file" in diag.alerts[0].text
    assert "No such file or directory" in diag.alerts[0].text
    _, diag, _ = parse_text(tmp_path, f"global\n    python-load {tmp_path}/bad.py\n")
    assert "ModuleNotFoundError" in diag.alerts[0].text
    _, diag, _ = parse_text(tmp_path, f"global\n    python-load {tmp_path}/dup.py\n")
    assert "lower" in diag.alerts[0].text
    config, diag, _ = parse_text(tmp_path, f"global\n    python-load {tmp_path}/empty.py\n")
    assert not diag.alerts and "registers nothing" in diag.warnings[0].text
    # a fetch from a module is unknown to a configuration that does not load it
    _, diag, _ = parse_text(tmp_path, "frontend f\n    mode http\n    bind :0\n"
                            "    http-request set-var(txn.x) py.hdr_count\n")
    assert diag.alerts
