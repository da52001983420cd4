"""The ``hapx`` command, run as a real process: -c, -cc, -v/-vv, -dK, -dC, plugins and doc,
plugin selection, broken and conflicting plugins (installed as real distributions on
PYTHONPATH), and the process lifecycle (foreground, daemon, master-worker, systemd notify,
pid file, signals, master CLI)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from netutil import wait_until

HAPX = [sys.executable, "-m", "hapx.core.cli.main"]

#: a complete test plugin: keywords of each kind the CLI lists, lifecycle hooks, an option
GOOD_PLUGIN = '''
import os

import anyio

from hapx.core.hookspecs import hookimpl
from hapx.core.records import Arg, ArgType, Converter, Directive, Feature, Fetch, SmpType, Use
from hapx.core.sample.types import Sample

GLOBAL = frozenset({"global"})


def _listener(ctx, args):
    ctx.expect_args(1, "hapxtest-listener <file>")
    ctx.config.extra_listeners += 1
    ctx.config.ext["hapxtest"] = args[0]


def _later(ctx, args):
    if args:
        raise ctx.error("'hapxtest-later' takes no argument.")


@hookimpl
def hapx_register_directives(directives):
    directives.add(
        Directive("hapxtest-listener", sections=GLOBAL, parse=_listener,
                  doc="hapxtest-listener <file>\\n\\nA listener for tests: lifecycle events "
                      "are written to <file>."),
        Directive("hapxtest-later", sections=GLOBAL, parse=_later, active=False,
                  doc="hapxtest-later\\n\\nParsed and validated only."),
    )


@hookimpl
def hapx_register_fetches(fetches):
    fetches.add(Fetch("hapxtest.answer", process=lambda args, strm: Sample(SmpType.SINT, 42),
                      out_type=SmpType.SINT, uses=Use.INTERNAL,
                      args=(Arg("unit", ArgType.STR, optional=True),),
                      doc="hapxtest.answer([<unit>]) : integer\\n\\nThe answer, always 42."))


@hookimpl
def hapx_register_converters(converters):
    converters.add(Converter("hapxtest_double", in_type=SmpType.SINT, out_type=SmpType.SINT,
                             process=lambda args, smp, strm: Sample(SmpType.SINT, smp.value * 2),
                             doc="hapxtest_double : integer => integer\\n\\nDoubles."))


@hookimpl
def hapx_register_features(features):
    features.add(Feature("HAPXTEST", doc="HAPXTEST\\n\\nOn."),
                 Feature("HAPXTEST_OFF", enabled=False, doc="HAPXTEST_OFF\\n\\nOff."))


@hookimpl
def hapx_add_options(parser):
    parser.add_argument("--hapxtest-marker", default="none")


def _log(config, text):
    path = config.ext.get("hapxtest")
    if path:
        with open(path, "a") as fh:
            fh.write(text + "\\n")


async def _work(config, runtime):
    while not runtime.stopping:
        await anyio.sleep(0.02)
    await anyio.sleep(0.1)
    _log(config, "work-done")


@hookimpl
def hapx_startup(config, runtime):
    _log(config, f"started {os.getpid()} {runtime.mode} {runtime.plugin_options.hapxtest_marker}")
    runtime.start_soon(_work, config, runtime)


@hookimpl
def hapx_stopping(config, runtime):
    _log(config, "stopping soft" if runtime.soft else "stopping hard")


@hookimpl
def hapx_shutdown(config, runtime):
    _log(config, "shutdown")
'''

BROKEN_PLUGIN = 'raise ImportError("hapxtest_broken needs a library that is not there")\n'

DUP_PLUGIN = '''
from hapx.core.hookspecs import hookimpl
from hapx.core.records import Fetch, SmpType


@hookimpl
def hapx_register_fetches(fetches):
    fetches.add(Fetch("hapxtest.dup", process=lambda args, strm: None, out_type=SmpType.STR,
                      doc="hapxtest.dup\\n\\nRegistered twice."))
'''


def install_fake_dist(site: Path, dist: str, version: str, plugins: dict[str, str],
                      modules: dict[str, str]) -> None:
    """Write ``modules`` and a ``.dist-info`` declaring ``plugins`` (entry-point name ->
    module) in the ``hapx.plugins`` group, as pip would install them."""
    site.mkdir(parents=True, exist_ok=True)
    for name, source in modules.items():
        (site / f"{name}.py").write_text(textwrap.dedent(source))
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    eps = "".join(f"{k} = {v}\n" for k, v in plugins.items())
    (info / "entry_points.txt").write_text(f"[hapx.plugins]\n{eps}")


def run_hapx(*args: str, site: Path | None = None, env: dict[str, str] | None = None,
             cwd: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    full_env = dict(os.environ)
    full_env.pop("HAPX_DISABLE_PLUGINS", None)
    full_env["COLUMNS"] = "200"
    if site is not None:
        full_env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(site), full_env.get("PYTHONPATH", "")) if p)
    if env:
        full_env.update(env)
    return subprocess.run([*HAPX, *args], capture_output=True, text=True, env=full_env,
                          cwd=cwd, timeout=timeout)


def hapx_env(site: Path | None, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("HAPX_DISABLE_PLUGINS", None)
    if site is not None:
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(site), env.get("PYTHONPATH", "")) if p)
    env.update(extra)
    return env


# -- fixtures ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """A site directory holding the test plugin ``hapxtest`` (distribution hapxtest-plugin)."""
    path = tmp_path_factory.mktemp("site")
    install_fake_dist(path, "hapxtest-plugin", "1.2.3", {"hapxtest": "hapxtest_plugin"},
                      {"hapxtest_plugin": GOOD_PLUGIN})
    return path


@pytest.fixture(scope="module")
def broken_site(tmp_path_factory, site) -> Path:
    path = tmp_path_factory.mktemp("broken")
    install_fake_dist(path, "hapxtest-broken", "0.0.1", {"hapxtest_broken": "hapxtest_broken"},
                      {"hapxtest_broken": BROKEN_PLUGIN})
    return path


@pytest.fixture(scope="module")
def dup_site(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("dup")
    install_fake_dist(path, "hapxtest-dup-a", "1.0", {"hapxtest_dup_a": "hapxtest_dup_a"},
                      {"hapxtest_dup_a": DUP_PLUGIN})
    install_fake_dist(path, "hapxtest-dup-b", "2.0", {"hapxtest_dup_b": "hapxtest_dup_b"},
                      {"hapxtest_dup_b": DUP_PLUGIN})
    return path


def write(path: Path, text: str) -> str:
    path.write_text(textwrap.dedent(text).lstrip())
    return str(path)


@pytest.fixture
def listening_cfg(tmp_path) -> tuple[str, Path]:
    events = tmp_path / "events.log"
    cfg = write(tmp_path / "listen.cfg", f"""
        global
            hapxtest-listener {events}
        """)
    return cfg, events


# -- check mode --------------------------------------------------------------------------------

def test_check_valid_configuration_exits_0_and_says_so(site, listening_cfg):
    cfg, _ = listening_cfg
    res = run_hapx("-c", "-f", cfg, site=site)
    assert res.returncode == 0, res.stderr
    assert res.stdout == "Configuration file is valid\n"
    assert "[ALERT]" not in res.stderr and "[WARNING]" not in res.stderr


def test_quiet_check_prints_nothing_and_verbose_undoes_quiet(site, listening_cfg):
    cfg, _ = listening_cfg
    quiet = run_hapx("-c", "-q", "-f", cfg, site=site)
    assert (quiet.returncode, quiet.stdout) == (0, "")
    verbose = run_hapx("-c", "-q", "-V", "-f", cfg, site=site)
    assert (verbose.returncode, verbose.stdout) == (0, "Configuration file is valid\n")


def test_check_without_listener_exits_2(site, tmp_path):
    cfg = write(tmp_path / "empty.cfg", """
        global
        """)
    res = run_hapx("-c", "-f", cfg, site=site)
    assert res.returncode == 2
    assert ("Configuration file has no error but will not start (no listener) => exit(2)."
            in res.stdout)


def test_check_reports_every_error_with_file_and_line(site, tmp_path):
    cfg = write(tmp_path / "broken.cfg", """
        global
            hapxtest-listener
            hapxtest-lisener /tmp/x
        frontend fe
            bnd :80
        """)
    res = run_hapx("-c", "-f", cfg, site=site)
    assert res.returncode == 1
    assert re.search(rf"^\[ALERT\]    \(\d+\) : config : parsing \[{re.escape(cfg)}:2\] : "
                     "'hapxtest-listener' expects exactly 1 argument", res.stderr, re.M)
    assert f"parsing [{cfg}:3] : unknown keyword 'hapxtest-lisener' in 'global' section; did " \
           "you mean 'hapxtest-listener' maybe ?" in res.stderr
    assert f"parsing [{cfg}:5] : unknown keyword 'bnd' in 'frontend' section; did you mean " \
           "'bind' maybe ?" in res.stderr
    assert f": config : Error(s) found in configuration file : {cfg}" in res.stderr
    assert res.stderr.rstrip().endswith(": config : Fatal errors found in configuration.")
    assert "Configuration file is valid" not in res.stdout


def test_check_lists_keywords_not_active_yet(site, tmp_path, listening_cfg):
    cfg, events = listening_cfg
    later = write(tmp_path / "later.cfg", """
        global
            hapxtest-later
        """)
    res = run_hapx("-c", "-f", cfg, "-f", later, site=site)
    assert res.returncode == 0, res.stderr
    assert re.search(rf"^\[NOTICE\]   \(\d+\) : config : parsing \[{re.escape(later)}:2\] : "
                     r"'hapxtest-later' \(plugin hapxtest\) is not active yet in this version "
                     "of hapx: parsed and validated only$", res.stderr, re.M), res.stderr
    assert res.stdout == "Configuration file is valid\n"


def test_zero_warning_flag_fails_on_a_warning(site, tmp_path, listening_cfg):
    cfg, _ = listening_cfg
    warn = write(tmp_path / "warn.cfg", """
        .warning this is a warning
        """)
    ok = run_hapx("-c", "-f", cfg, "-f", warn, site=site)
    assert ok.returncode == 0
    assert "this is a warning" in ok.stderr
    assert ok.stdout == "Warnings were found.\nConfiguration file is valid\n"
    res = run_hapx("-c", "-dW", "-f", cfg, "-f", warn, site=site)
    assert res.returncode == 1
    assert ("[ALERT]" in res.stderr and
            "Some warnings were found and 'zero-warning' is set. Aborting." in res.stderr)
    keyword = write(tmp_path / "zw.cfg", """
        global
            zero-warning
        """)
    res = run_hapx("-c", "-f", keyword, "-f", cfg, "-f", warn, site=site)
    assert res.returncode == 1
    assert "Some warnings were found and 'zero-warning' is set. Aborting." in res.stderr


def test_directories_and_files_after_double_dash(site, tmp_path, listening_cfg):
    cfg, _ = listening_cfg
    conf_d = tmp_path / "conf.d"
    conf_d.mkdir()
    write(conf_d / "b.cfg", ".notice second\n")
    write(conf_d / "a.cfg", ".notice first\n")
    write(conf_d / "ignored.txt", "garbage\n")
    res = run_hapx("-c", "-f", str(conf_d), "--", cfg, site=site)
    assert res.returncode == 0, res.stderr
    assert res.stderr.index("first") < res.stderr.index("second")


def test_missing_file_is_an_alert(site, tmp_path):
    res = run_hapx("-c", "-f", str(tmp_path / "nope.cfg"), site=site)
    assert res.returncode == 1
    assert "Cannot open configuration file/directory" in res.stderr


def test_no_configuration_prints_usage(site):
    res = run_hapx(site=site)
    assert res.returncode == 1
    assert "Usage : hapx [-f <cfgfile|cfgdir>]*" in res.stderr
    bad = run_hapx("-Z", site=site)
    assert bad.returncode == 1 and "unknown option '-Z'" in bad.stderr


def test_localpeer_and_chdir(site, tmp_path, listening_cfg):
    cfg, _ = listening_cfg
    write(tmp_path / "peer.cfg", '.notice "peer is ${HAPROXY_LOCALPEER}"\n')
    res = run_hapx("-C", str(tmp_path), "-L", "mypeer", "-c", "-f", "peer.cfg", "-f", cfg,
                   site=site)
    assert res.returncode == 0, res.stderr
    assert "peer is mypeer" in res.stderr


def test_dump_configuration(site, tmp_path):
    cfg = write(tmp_path / "dump.cfg", """
        # a comment
        global
        .if version_atleast(9.0)
            hapxtest-listener /never
        .else
            hapxtest-listener "/tmp/with space"
        .endif
        """)
    res = run_hapx("-dC", "-f", cfg, site=site)
    assert res.returncode == 0, res.stderr
    assert res.stdout == "global\n    hapxtest-listener '/tmp/with space'\n"
    numbered = run_hapx("-dCline", "-f", cfg, site=site)
    assert numbered.stdout.splitlines()[0] == "2\tglobal"
    anon = run_hapx("-dC42", "-f", cfg, site=site)
    assert "/tmp/with space" not in anon.stdout
    assert "hapxtest-listener HASH(" in anon.stdout


# -- conditions --------------------------------------------------------------------------------

@pytest.mark.parametrize(("expr", "code"), [
    ("version_atleast(3.2)", 0),
    ("version_atleast(3.3)", 1),
    ("version_before(3.3) && !version_atleast(3.3)", 0),
    ("feature(HAPXTEST)", 0),
    ("feature(HAPXTEST_OFF)", 1),
    ("defined(HAPX_TEST_DEFINED)", 0),
    ("streq(\"${HAPX_TEST_DEFINED}\",yes)", 0),
    ("version_atleast(", 2),
    ("nosuchpredicate(1)", 2),
])
def test_check_condition_exit_codes(site, expr, code):
    res = run_hapx("-cc", expr, site=site, env={"HAPX_TEST_DEFINED": "yes"})
    assert res.returncode == code, res.stderr
    if code == 2:
        assert "[ALERT]" in res.stderr and "condition" in res.stderr


def test_debug_switches_reach_conditions(site):
    assert run_hapx("-cc", "enabled(EPOLL)", site=site).returncode == 0
    assert run_hapx("-de", "-cc", "enabled(EPOLL)", site=site).returncode == 1
    assert run_hapx("-dV", "-cc", "enabled(SERVER-SSL-VERIFY-NONE)", site=site).returncode == 0


def test_memory_debug_options(site):
    helped = run_hapx("-dMhelp", site=site)
    assert helped.returncode == 0 and helped.stdout.startswith("-dM enables memory debugging")
    odd = run_hapx("-dM0x55,bogus", "-cc", "1", site=site)
    assert odd.returncode == 0
    assert "-dM: unknown option 'bogus' ignored" in odd.stderr
    assert "0x55" not in odd.stderr


# -- versions and keyword dumps ----------------------------------------------------------------

def test_version(site):
    res = run_hapx("-v", site=site)
    assert res.returncode == 0
    first = res.stdout.splitlines()[0]
    assert first.startswith("HAPX version 0.1.0 ") and first.endswith(" - HAProxy 3.2 compatible")
    assert "Running on: " in res.stdout


def test_version_verbose_lists_libraries_features_and_plugins(site):
    res = run_hapx("-vv", site=site)
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert out.startswith("HAPX version 0.1.0")
    assert f"Python : {sys.version.split()[0]}" in out
    assert "HAProxy compatibility : 3.2" in out
    for lib in ("pluggy", "stevedore", "anyio", "h11", "rich", "prometheus-client", "lupa"):
        assert f"\n  {lib} : " in out
    feature_line = next(line for line in out.splitlines() if line.startswith("Feature list : "))
    assert "+HAPXTEST" in feature_line.split() and "-HAPXTEST_OFF" in feature_line.split()
    assert "Available services : " in out and "Available filters : " in out
    assert "  kernel (hapx 0.1.0): " in out
    assert "  hapxtest (hapxtest-plugin 1.2.3): 2 directives, 2 features, 1 converter, 1 fetch" \
        in out or "  hapxtest (hapxtest-plugin 1.2.3): 1 converter, 2 directives, 2 features, " \
        "1 fetch" in out
    assert "    fetch: hapxtest.answer" in out


def test_dump_keywords(site):
    helped = run_hapx("-dKhelp", site=site)
    assert helped.returncode == 0
    assert helped.stdout.startswith("# List of supported keyword classes:\nall: list all keywords\n")
    for cls in ("acl", "cfg", "cli", "cnv", "flt", "smp", "svc"):
        assert f"\n{cls}: " in helped.stdout
    cnv = run_hapx("-dKcnv,smp", site=site).stdout
    assert "# List of registered sample converter functions:\n" in cnv
    assert "hapxtest_double: sint => sint\n" in cnv
    assert "# List of registered sample fetch functions:\n" in cnv
    row = next(line for line in cnv.splitlines() if "hapxtest.answer" in line)
    assert row.endswith("] hapxtest.answer([string]): sint")
    assert row.startswith("[ Y Y Y")
    every = run_hapx("-dKall", site=site).stdout
    for header in ("ACL keywords", "configuration keywords", "CLI keywords", "filter names",
                   "service names", "actions"):
        assert f"# List of registered {header}:\n" in every
    unknown = run_hapx("-dKnope", site=site)
    assert unknown.returncode == 0 and "unknown keyword class 'nope'" in unknown.stderr
    cfg_part = every.split("# List of registered configuration keywords:\n")[1]
    assert cfg_part.startswith("global\n")
    assert "\thapxtest-listener\n" in cfg_part and "\tdisable-plugin\n" in cfg_part


def test_dump_keywords_after_a_check(site, listening_cfg):
    cfg, _ = listening_cfg
    res = run_hapx("-dKcnv", "-c", "-f", cfg, site=site)
    assert res.returncode == 0
    assert res.stdout.index("hapxtest_double") < res.stdout.index("Configuration file is valid")


# -- plugins and doc ---------------------------------------------------------------------------

def test_plugins_table(site):
    res = run_hapx("plugins", site=site)
    assert res.returncode == 0, res.stderr
    row = next(line for line in res.stdout.splitlines() if " hapxtest " in line)
    assert "hapxtest-plugin" in row and "1.2.3" in row and "loaded" in row
    assert "1 fetch" in row and "(1 not active yet)" in row
    assert any(" kernel " in line for line in res.stdout.splitlines())


def test_plugins_json(site):
    res = run_hapx("plugins", "--json", "--disable-plugin", "hapxtest", site=site)
    data = {p["name"]: p for p in json.loads(res.stdout)}
    assert data["kernel"]["status"] == "loaded"
    assert data["kernel"]["counts"]["section"] == 5
    assert data["hapxtest"]["status"] == "disabled"
    assert data["hapxtest"]["distribution"] == "hapxtest-plugin"
    enabled = {p["name"]: p for p in json.loads(run_hapx("plugins", "--json", site=site).stdout)}
    assert enabled["hapxtest"]["counts"] == {"converter": 1, "directive": 2, "feature": 2,
                                             "fetch": 1}
    assert {"kind": "directive", "name": "hapxtest-later", "active": False} in \
        enabled["hapxtest"]["records"]


def test_doc_tables_and_pages(site):
    table = run_hapx("doc", "fetches", site=site)
    assert table.returncode == 0, table.stderr
    row = next(line for line in table.stdout.splitlines() if "hapxtest.answer" in line)
    assert "hapxtest.answer([<unit>]) : integer" in row and "hapxtest" in row
    assert "anywhere" in row and "active" in row
    page = run_hapx("doc", "fetches", "hapxtest.answer", site=site)
    assert page.returncode == 0
    assert page.stdout.startswith("fetch hapxtest.answer  (plugin hapxtest, hapxtest-plugin 1.2.3)")
    assert "The answer, always 42." in page.stdout
    assert "arguments : unit: string (optional)" in page.stdout
    directives = run_hapx("doc", "directives", "hapxtest-later", site=site)
    assert "status : not yet active" in directives.stdout
    summary = run_hapx("doc", site=site)
    assert "converters" in summary.stdout and "hapx doc fetches [NAME]" in summary.stdout
    for kind in ("converters", "actions", "directives", "sections", "balance", "filters",
                 "services", "commands", "aliases"):
        assert run_hapx("doc", kind, site=site).returncode == 0, kind


def test_doc_unknown_names_suggest(site):
    res = run_hapx("doc", "fetches", "hapxtest.answr", site=site)
    assert res.returncode == 1
    assert "no fetch named 'hapxtest.answr'; did you mean 'hapxtest.answer' maybe ?" in res.stderr
    kind = run_hapx("doc", "fetchs", site=site)
    assert kind.returncode == 1 and "did you mean 'fetches'" in kind.stderr


# -- plugin selection, broken and conflicting plugins -----------------------------------------

def test_disabled_plugin_keywords_become_unknown(site, listening_cfg, tmp_path):
    cfg, _ = listening_cfg
    res = run_hapx("--disable-plugin", "hapxtest", "-c", "-f", cfg, site=site)
    assert res.returncode == 1
    assert "unknown keyword 'hapxtest-listener' in 'global' section" in res.stderr
    env = run_hapx("-c", "-f", cfg, site=site, env={"HAPX_DISABLE_PLUGINS": "x,hapxtest"})
    assert env.returncode == 1 and "unknown keyword 'hapxtest-listener'" in env.stderr
    again = run_hapx("--enable-plugin", "hapxtest", "-c", "-f", cfg, site=site,
                     env={"HAPX_DISABLE_PLUGINS": "hapxtest"})
    assert again.returncode == 0, again.stderr
    in_cfg = write(tmp_path / "sel.cfg", """
        global
            disable-plugin hapxtest
        """)
    sel = run_hapx("-c", "-f", in_cfg, "-f", cfg, site=site)
    assert sel.returncode == 1 and "unknown keyword 'hapxtest-listener'" in sel.stderr


def test_essential_plugins_cannot_be_disabled(site):
    res = run_hapx("--disable-plugin", "proxy_basics", "-cc", "1", site=site)
    assert res.returncode == 1
    assert "essential plugin(s) cannot be disabled: proxy_basics" in res.stderr


def test_a_broken_plugin_is_named_and_skipped(site, broken_site, listening_cfg):
    cfg, _ = listening_cfg
    path = os.pathsep.join([str(broken_site), str(site)])
    res = run_hapx("-c", "-f", cfg, env={"PYTHONPATH": path})
    assert res.returncode == 0, res.stderr
    warning = next(line for line in res.stderr.splitlines() if "hapxtest_broken" in line)
    assert warning.startswith("[WARNING]")
    assert "failed to load and is skipped" in warning
    assert "ImportError: hapxtest_broken needs a library that is not there" in warning
    listed = json.loads(run_hapx("plugins", "--json", env={"PYTHONPATH": path}).stdout)
    broken = next(p for p in listed if p["name"] == "hapxtest_broken")
    assert broken["status"] == "failed" and "ImportError" in broken["error"]


def test_duplicate_keywords_name_both_plugins(dup_site):
    res = run_hapx("-cc", "1", site=dup_site)
    assert res.returncode == 1
    assert "[ALERT]" in res.stderr
    assert ("fetch 'hapxtest.dup' is registered twice: by plugin 'hapxtest_dup_a' and by "
            "plugin 'hapxtest_dup_b'") in res.stderr
    ok = run_hapx("--disable-plugin", "hapxtest_dup_b", "-cc", "1", site=dup_site)
    assert ok.returncode == 0, ok.stderr


def test_installed_command_is_the_same_program(site):
    exe = shutil.which("hapx")
    if exe is None:
        pytest.skip("the hapx script is not on PATH")
    res = subprocess.run([exe, "-v"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and res.stdout.startswith("HAPX version 0.1.0")


# -- running -----------------------------------------------------------------------------------

def events_of(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def start(args: list[str], site: Path, **env: str) -> subprocess.Popen:
    return subprocess.Popen([*HAPX, *args], env=hapx_env(site, **env), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_foreground_run_hard_stop(site, listening_cfg, tmp_path):
    cfg, events = listening_cfg
    pidfile = tmp_path / "hapx.pid"
    proc = start(["-db", "-f", cfg, "-p", str(pidfile), "--hapxtest-marker", "m1"], site)
    try:
        wait_until(lambda: any(e.startswith("started") for e in events_of(events)), 60)
        assert pidfile.read_text() == f"{proc.pid}\n"
        assert events_of(events)[0] == f"started {proc.pid} foreground m1"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        proc.kill()
    assert events_of(events)[1:] == ["stopping hard", "shutdown"]
    assert "-x" not in proc.stderr.read()


def test_taking_sockets_over_is_not_silently_ignored(site, listening_cfg, tmp_path):
    """-x on a socket nobody listens on: haproxy's warning and alert, and no start."""
    cfg, events = listening_cfg
    proc = start(["-db", "-f", cfg, "-x", str(tmp_path / "old.sock")], site)
    try:
        assert proc.wait(timeout=60) == 1
    finally:
        proc.kill()
    err = proc.stderr.read()
    assert f"Failed to connect to the old process socket '{tmp_path / 'old.sock'}'" in err
    assert "Failed to get the sockets from the old process!" in err
    assert not events_of(events)


def test_foreground_run_soft_stop_waits_for_work(site, listening_cfg):
    cfg, events = listening_cfg
    proc = start(["-db", "-f", cfg], site)
    try:
        wait_until(lambda: bool(events_of(events)), 60)
        proc.send_signal(signal.SIGUSR1)
        assert proc.wait(timeout=20) == 0
    finally:
        proc.kill()
    assert events_of(events)[1:] == ["stopping soft", "work-done", "shutdown"]


def test_refuses_to_start_with_inactive_keywords(site, listening_cfg, tmp_path):
    cfg, events = listening_cfg
    later = write(tmp_path / "later.cfg", "global\n    hapxtest-later\n")
    res = run_hapx("-db", "-f", cfg, "-f", later, site=site)
    assert res.returncode == 1
    assert re.search(rf"^\[ALERT\]    \(\d+\) : config : parsing \[{re.escape(later)}:2\] : "
                     r"'hapxtest-later' \(plugin hapxtest\) is not active yet in this version "
                     "of hapx", res.stderr, re.M), res.stderr
    assert "hapx cannot start" in res.stderr
    assert not events.exists()


def test_refuses_to_start_without_listener(site, tmp_path):
    cfg = write(tmp_path / "none.cfg", "global\n")
    res = run_hapx("-db", "-f", cfg, site=site)
    assert res.returncode == 1
    assert "No enabled listener found" in res.stderr


def test_systemd_notify_in_master_worker_mode(site, listening_cfg, tmp_path):
    cfg, events = listening_cfg
    sock_path = str(tmp_path / "notify.sock")
    cli_path = tmp_path / "master.sock"
    pidfile = tmp_path / "master.pid"
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(sock_path)
    notify.settimeout(30)
    proc = start(["-Ws", "-f", cfg, "-p", str(pidfile), "-S", f"{cli_path},mode,600"], site,
                 NOTIFY_SOCKET=sock_path)
    try:
        message = notify.recv(1024).decode()
        assert "READY=1" in message and f"MAINPID={proc.pid}" in message
        assert pidfile.read_text() == f"{proc.pid}\n"
        started = events_of(events)[0].split()
        worker_pid = int(started[1])
        assert worker_pid != proc.pid and started[2] == "worker"
        assert oct(cli_path.stat().st_mode & 0o777) == "0o600"
        with socket.socket(socket.AF_UNIX) as cli:
            cli.connect(str(cli_path))
            cli.sendall(b"show proc\n")
            reply = b""
            while chunk := cli.recv(4096):
                reply += chunk
        text = reply.decode()
        assert f"{proc.pid}" in text and "master" in text
        assert re.search(rf"^{worker_pid}\s+worker", text, re.M), text
        # reload: a new worker, the old one finishes its work
        proc.send_signal(signal.SIGUSR2)
        assert "RELOADING=1" in notify.recv(1024).decode()
        assert "READY=1" in notify.recv(1024).decode()
        wait_until(lambda: sum(e.startswith("started") for e in events_of(events)) == 2, 60)
        wait_until(lambda: "work-done" in events_of(events), 60)
        proc.send_signal(signal.SIGTERM)
        assert "STOPPING=1" in notify.recv(1024).decode()
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
        notify.close()
    assert events_of(events).count("shutdown") == 2


def test_daemon_mode(site, listening_cfg, tmp_path):
    cfg, events = listening_cfg
    pidfile = tmp_path / "daemon.pid"
    res = run_hapx("-D", "-f", cfg, "-p", str(pidfile), site=site)
    assert res.returncode == 0, res.stderr
    pid = int(pidfile.read_text())
    try:
        assert events_of(events)[0].startswith(f"started {pid} daemon")
        os.kill(pid, signal.SIGTERM)
        wait_until(lambda: "shutdown" in events_of(events), 60)
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_soft_stop_of_old_pids(site, listening_cfg, tmp_path):
    cfg, events = listening_cfg
    old = start(["-db", "-f", cfg], site)
    try:
        wait_until(lambda: bool(events_of(events)), 60)
        new = start(["-db", "-f", cfg, "-sf", str(old.pid)], site)
        try:
            assert old.wait(timeout=20) == 0
            wait_until(lambda: sum(e.startswith("started") for e in events_of(events)) == 2, 60)
        finally:
            new.send_signal(signal.SIGTERM)
            new.wait(timeout=20)
    finally:
        old.kill()
    assert "stopping soft" in events_of(events)
