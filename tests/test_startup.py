"""Start-up on large configurations: the entry-point scan cached until the installed
distributions change, the tokenizer's plain-line path, proxies found by name through an
index, inherited log-formats compiled once, and the plugin pre-scan skipping lines."""

from __future__ import annotations

import importlib.metadata as md
import random
import sys

import pytest
from hapx.core.config import tokenizer
from hapx.core.config.model import Config, Proxy
from hapx.core.config.parser import parse_config
from hapx.core.config.sections import scan_plugin_selection
from hapx.core.errors import Diagnostics
from hapx.core.loader import group_entry_points, load_plugins


@pytest.fixture(scope="module")
def plugins():
    return load_plugins(warn=lambda text: None)


def parse(plugins, path) -> Config:
    diag = Diagnostics(quiet=True)
    config = parse_config([str(path)], plugins, diag)
    assert not diag.failed, [m for m in diag.alerts]
    return config

# -- the entry-point scan ------------------------------------------------------------------


def _install(site, dist: str, eps: dict[str, str]) -> None:
    info = site / f"{dist}-1.0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[hapx.tests]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()))


def test_entry_points_cached_until_a_distribution_changes(tmp_path, monkeypatch):
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    scans = []
    real = md.entry_points

    def counting(**kw):
        scans.append(kw.get("group"))
        return real(**kw)

    monkeypatch.setattr(md, "entry_points", counting)
    assert group_entry_points("hapx.tests") == []
    assert group_entry_points("hapx.tests") == []
    assert len(scans) == 1  # nothing changed: the scan is reused
    _install(site, "first", {"one": "mod_one"})  # installed while the process runs
    assert [ep.name for ep in group_entry_points("hapx.tests")] == ["one"]
    assert len(scans) == 2
    # a re-install rewriting the entry points of the same distribution is seen too
    ep_file = site / "first-1.0.dist-info" / "entry_points.txt"
    ep_file.write_text("[hapx.tests]\none = mod_one\ntwo = mod_two\n")
    st = ep_file.stat()
    import os
    os.utime(ep_file, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000))
    assert sorted(ep.name for ep in group_entry_points("hapx.tests")) == ["one", "two"]
    assert len(scans) == 3
    import shutil
    shutil.rmtree(site / "first-1.0.dist-info")
    assert group_entry_points("hapx.tests") == []


# -- tokenizer ---------------------------------------------------------------------------------


def test_plain_lines_split_as_the_full_scanner_does(monkeypatch):
    rnd = random.Random(3)
    lines = ["    server s1 10.0.0.1:80 weight 10", "\tbind\t:80  ssl ", "", "   ",
             "x" * 3 + " y" * 70, "a\vb c"]
    lines += ["".join(rnd.choice("ab \t:,.{}()%[]$\v") for _ in range(rnd.randint(0, 40)))
              for _ in range(300)]
    fast = [tokenizer.tokenize(text, env={}) for text in lines]
    monkeypatch.setattr(tokenizer, "_SPECIAL", type("Never", (), {
        "search": staticmethod(lambda text: True)}))
    slow = [tokenizer.tokenize(text, env={}) for text in lines]
    assert fast == slow


# -- proxies by name -------------------------------------------------------------------------


def test_proxy_lookups_by_name_follow_the_list():
    config = Config(registry=None, diag=Diagnostics())
    fe = Proxy("web", "frontend")
    be = Proxy("web", "backend")
    config.proxies += [fe, Proxy("api", "listen")]
    assert config.frontend("web") is fe and config.backend("web") is None
    config.proxies.append(be)  # appended after the index was made
    assert config.backend("web") is be and config.named("web") == [fe, be]
    assert config.backend("api") is config.proxy("api") and config.proxy("nope") is None
    config.proxies[0] = Proxy("other", "frontend")  # replaced in place: reindexed
    assert config.frontend("web") is None and config.frontend("other") is not None
    del config.proxies[0]
    assert config.named("other") == [] and config.backend("web") is be


# -- a large configuration -----------------------------------------------------------------

BIG = """
defaults
    mode http
    option httplog
    timeout client 5s
    timeout server 5s
    timeout connect 1s

frontend fe
    bind 127.0.0.1:18080
{rules}
    default_backend be_0
{backends}
"""


def test_inherited_log_format_compiled_once_and_shared(tmp_path, plugins):
    n = 30
    cfg = tmp_path / "big.cfg"
    cfg.write_text(BIG.format(
        rules="\n".join(f"    use_backend be_{i} if {{ req.hdr(host) -i h{i} }}"
                        for i in range(n)),
        backends="\n".join(f"backend be_{i}\n    server s1 10.0.{i}.1:80\n" for i in range(n))))
    config = parse(plugins, cfg)
    formats = {id(px.settings["log-format"]) for px in config.proxies if px.kind == "backend"}
    assert len(formats) == 1
    fe = config.frontend("fe")
    assert fe.settings["log-format"].text == config.backend("be_7").settings["log-format"].text


@pytest.mark.parametrize("fmt,distinct", [("%[nbsrv] %[var(txn.x)]", 3),
                                          ("%[var(txn.x)] %{+Q}o %b", 1)])
def test_a_format_looking_at_the_proxy_is_compiled_per_proxy(tmp_path, plugins, fmt,
                                                             distinct):
    # nbsrv without argument names the proxy it is compiled in: one compile per backend
    cfg = tmp_path / "c.cfg"
    cfg.write_text(BIG.format(rules="", backends="".join(
        f"backend be_{i}\n    server s1 10.0.{i}.1:80\n" for i in range(3))).replace(
        "option httplog", f'log-format "{fmt}"'))
    config = parse(plugins, cfg)
    backends = [px for px in config.proxies if px.kind == "backend"]
    assert len({id(px.settings["log-format"]) for px in backends}) == distinct


def test_plugin_prescan_skips_indented_lines_outside_global(tmp_path):
    cfg = tmp_path / "p.cfg"
    cfg.write_text("global\n    disable-plugin cache\nbackend b\n    disable-plugin no\n"
                   "    server s 1.2.3.4:80\n  global\n\tenable-plugin lua\n"
                   "frontend f\n    \"disable-plugin\" nope\n")
    assert scan_plugin_selection([str(cfg)]) == (["cache"], ["lua"])


def test_bench_startup_configuration_checks(tmp_path, plugins):
    """The bench's generator writes a configuration hapx accepts (small here)."""
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent.parent / "bench"))
    try:
        from startup import make_config
    finally:
        sys.path.pop(0)
    cfg = tmp_path / "b.cfg"
    cfg.write_text(make_config(20, 4))
    config = parse(plugins, cfg)
    assert sum(len(px.servers) for px in config.proxies) == 80
