"""The log-format aliases' ``inline`` expressions print what their render functions print
(and, for the aliases of a fetch such as %ci, what the fetch prints): a format holding
every alias (plain and ``+Q``) rendered through the generated function with the inline
expressions and with calls of the renders, on varied streams."""

from __future__ import annotations

import io
import random
import types
from ipaddress import ip_address
from pathlib import Path

import pytest
from hapx.core.config.parser import parse_config
from hapx.core.errors import Diagnostics
from hapx.core.loader import load_plugins
from hapx.core.sample import logformat
from hapx.core.stream import HttpMessage, ProcState, Session, Stream
from hapx.plugins.logs import aliases

CONFIG = """\
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend fe
    bind 127.0.0.1:18080
    http-request capture req.hdr(User-Agent) len 64
    log-format "{fmt}"
    default_backend be
backend be
    server s1 127.0.0.1:18081
"""


def _format() -> str:
    names = list(aliases._ALIASES)
    return " ".join(f"%{n}" for n in names) + " " + " ".join(f"%{{+Q}}{n}" for n in names)


def _compile(tmp_path: Path, plugins: object, inline: bool,
             monkeypatch: pytest.MonkeyPatch) -> object:
    if not inline:
        def call_only(node: object, i: int, ns: dict) -> str:
            ns[f"_a{i}"] = node.alias.render  # type: ignore[attr-defined]
            return f"_a{i}(strm, _o{i})"
        monkeypatch.setattr(logformat, "_alias_value", call_only)
        # and the aliases standing for a fetch (%ci, %cp) evaluate it
        monkeypatch.setattr(logformat, "_env_fits", lambda alias, ns: False)
    monkeypatch.setattr(logformat, "_CODE", {})
    cfg = tmp_path / f"inline-{inline}.cfg"
    cfg.write_text(CONFIG.format(fmt=_format()))
    config = parse_config([str(cfg)], plugins, Diagnostics(stream=io.StringIO()))
    assert not config.diag.failed
    monkeypatch.undo()
    return config


def _stream(config: object, rnd: random.Random) -> Stream:
    fe, be = config.frontend("fe"), config.backend("be")  # type: ignore[attr-defined]
    src = rnd.choice([ip_address("127.0.0.1"), ip_address("10.1.2.3"), ip_address("::1"),
                      None])
    sess = Session(src=src, src_port=rnd.choice([40000, 1]) if src is not None else None,
                   dst=ip_address("127.0.0.1"), dst_port=18080, frontend=fe)
    uri = rnd.choice(["/100", "/a b", "/\x00", "/#x", "/q?x=1"])
    req = HttpMessage(method="GET", uri=uri, version="1.1",
                      headers=[("Host", "h"), ("User-Agent", "wrk")])
    strm = Stream(sess=sess, frontend=fe, backend=rnd.choice([be, None]), req=req,
                  proc=rnd.choice([ProcState(), None]))
    strm.timers.update({"TR": 1, "Tw": 0, "Tc": 1, "Tr": 2, "Ta": 4})
    if rnd.random() < .5:
        strm.timers.pop("TR")
    if rnd.random() < .5:
        strm.timers.update({"Tt": 7, "Th": 0, "Ti": 1})
    strm.status = rnd.choice([200, 503, -1])
    strm.term_state = rnd.choice([None, "", "--", "CD", "SDNN", "PR--"])
    strm.redispatched = rnd.random() < .3
    strm.conn_retries = rnd.randint(0, 3)
    if rnd.random() < .5:
        strm.counters.update(bytes_out=123, act_conn=5, fe_conn=2, srv_queue=1)
    if rnd.random() < .3:
        strm.ext["capture_cookie"] = (rnd.choice([None, "a=b", ""]),
                                      rnd.choice([None, "c", "\x00x"]))
    if rnd.random() < .5:
        strm.captures_req = [rnd.choice(["x", None, "a|b", "\xe9", ""])]
    if rnd.random() < .3:
        strm.request_date = 1e9 + rnd.random()
    live = rnd.choice([None, types.SimpleNamespace(cur_conn=3)])
    strm.server = rnd.choice([None, types.SimpleNamespace(name=rnd.choice(["", "s1"]),
                                                          live=live)])
    return strm


def test_inline_aliases_print_what_renders_print(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    plugins = load_plugins(warn=lambda _t: None)
    with_inline = _compile(tmp_path, plugins, True, monkeypatch)
    with_calls = _compile(tmp_path, plugins, False, monkeypatch)
    lf1 = with_inline.frontend("fe").settings["log-format"]  # type: ignore[attr-defined]
    lf2 = with_calls.frontend("fe").settings["log-format"]  # type: ignore[attr-defined]
    assert lf1.render is not lf2.render
    rnd = random.Random(1)
    for _ in range(300):
        strm = _stream(with_inline, rnd)
        assert lf1.render(strm) == lf2.render(strm)
