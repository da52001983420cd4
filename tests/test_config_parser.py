"""The configuration reader and parser: files, sections, conditional blocks, dispatch to
registered directives, defaults inheritance and error reporting."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from hapx.core.config import sections as kernel_sections
from hapx.core.config.model import ALL_PROXIES, GLOBAL
from hapx.core.config.parser import parse_config
from hapx.core.errors import Diagnostics
from hapx.core.hookspecs import hookimpl
from hapx.core.loader import PluginSet
from hapx.core.records import Directive, Feature, Section


class SampleDirectives:
    """A tiny plugin registering a few directives of each shape."""

    @hookimpl
    def hapx_register_directives(self, directives):
        def store(ctx, args):
            ctx.section.settings.setdefault(ctx.keyword, []).append(list(args))

        def option(ctx, args):
            if args:
                raise ctx.error(f"'option {ctx.keyword.split()[1]}' takes no argument.")
            ctx.section.options[ctx.keyword.split(" ", 1)[1]] = ctx.prefix != "no"

        def mode(ctx, args):
            ctx.expect_args(1)
            ctx.section.mode = args[0]

        def setenv(ctx, args):
            ctx.expect_args(2)
            os.environ[args[0]] = args[1]

        def later(ctx, args):
            ctx.expect_args(1)

        directives.add(
            Directive("maxconn", sections=GLOBAL, parse=store, doc="maxconn <n>"),
            Directive("setenv", sections=GLOBAL, parse=setenv, doc="setenv <name> <value>"),
            Directive("mode", sections=ALL_PROXIES, parse=mode, doc="mode tcp|http"),
            Directive("option httplog", sections=ALL_PROXIES, parse=option, negatable=True,
                      doc="option httplog"),
            Directive("option httpclose", sections=ALL_PROXIES, parse=option, negatable=True,
                      doc="option httpclose"),
            Directive("timeout client", sections=ALL_PROXIES, parse=store, doc="timeout client"),
            Directive("note", sections=ALL_PROXIES | GLOBAL, parse=store, doc="note <words>"),
            Directive("laterthing", sections=ALL_PROXIES, parse=later, active=False,
                      doc="laterthing <x>"),
            Directive("crash", sections=ALL_PROXIES, parse=lambda ctx, args: 1 / 0, doc="crash"),
        )

    @hookimpl
    def hapx_register_sections(self, sections):
        sections.add(Section("things", parse_header=lambda ctx, args: {"name": args[0]},
                             doc="things <name>"))

    @hookimpl
    def hapx_register_features(self, features):
        features.add(Feature("TESTFEAT", doc="a feature"), Feature("OFFFEAT", enabled=False))


@pytest.fixture
def plugins():
    ps = PluginSet()
    ps.add_plugin("kernel", kernel_sections)
    ps.add_plugin("sample", SampleDirectives())
    return ps


def load(tmp_path: Path, plugins, text: str, *more: str):
    paths = []
    for i, content in enumerate((text,) + more):
        p = tmp_path / f"c{i}.cfg"
        p.write_text(content)
        paths.append(str(p))
    out = io.StringIO()
    diag = Diagnostics(stream=out)
    config = parse_config(paths, plugins, diag)
    return config, diag, out.getvalue()


def test_sections_and_dispatch(tmp_path, plugins):
    config, diag, _ = load(tmp_path, plugins, """
global
    maxconn 100
defaults
    mode http
frontend fe
    note a b
backend be
    mode tcp
listen both
things t1
""")
    assert not diag.failed
    assert config.global_.settings["maxconn"] == [["100"]]
    assert [p.name for p in config.proxies] == ["fe", "be", "both"]
    assert config.frontend("fe").mode == "http"
    assert config.backend("be").mode == "tcp"
    assert config.frontend("both") is config.backend("both")
    assert config.backend("fe") is None


def test_unknown_keyword_suggests(tmp_path, plugins):
    _, diag, out = load(tmp_path, plugins, "global\n    maxcon 1\n")
    assert diag.failed
    assert "parsing [" in out and "c0.cfg:2] : unknown keyword 'maxcon' in 'global' section; " \
        "did you mean 'maxconn' maybe ?" in out


def test_unknown_option_suggests(tmp_path, plugins):
    _, _, out = load(tmp_path, plugins, "defaults\n    option htpplog\n")
    assert "unknown option 'htpplog'; did you mean 'httplog' maybe ?" in out


def test_keyword_out_of_section(tmp_path, plugins):
    _, diag, out = load(tmp_path, plugins, "maxconn 10\n")
    assert "unknown keyword 'maxconn' out of section." in out and diag.failed


def test_section_does_not_span_files(tmp_path, plugins):
    _, diag, out = load(tmp_path, plugins, "global\n", "    maxconn 3\n")
    assert diag.failed and "c1.cfg:1] : unknown keyword 'maxconn' out of section." in out


def test_multiword_and_negation(tmp_path, plugins):
    config, diag, _ = load(tmp_path, plugins, """
defaults
    option httplog
frontend fe
    no option httplog
    option httpclose
    timeout client 5s
""")
    assert not diag.failed
    fe = config.frontend("fe")
    assert fe.options == {"httplog": False, "httpclose": True}
    assert fe.settings["timeout client"] == [["5s"]]


def test_no_prefix_refused_on_plain_keyword(tmp_path, plugins):
    _, diag, out = load(tmp_path, plugins, "global\n    no maxconn 3\n")
    assert diag.failed and "'no' is not supported for keyword 'maxconn'." in out


def test_defaults_inheritance_named_and_from(tmp_path, plugins):
    config, diag, _ = load(tmp_path, plugins, """
defaults base
    mode http
    option httplog
defaults other from base
    option httpclose
defaults
    mode tcp
frontend a from base
frontend b from other
frontend c
""")
    assert not diag.failed
    a, b, c = (config.frontend(n) for n in "abc")
    assert (a.mode, a.options) == ("http", {"httplog": True})
    assert (b.mode, b.options) == ("http", {"httplog": True, "httpclose": True})
    assert (c.mode, c.options) == ("tcp", {})
    assert a.defaults is config.defaults["base"]


def test_defaults_changes_after_proxy_do_not_leak(tmp_path, plugins):
    config, _, _ = load(tmp_path, plugins, """
defaults d
    mode http
frontend a
    option httplog
""")
    assert config.defaults["d"].options == {}


def test_unknown_defaults_and_bad_names(tmp_path, plugins):
    _, diag, out = load(tmp_path, plugins, """
frontend x from nope
backend b@d
frontend
""")
    assert "defaults section 'nope' not found for frontend 'x'." in out
    assert "character '@' is not permitted in 'backend' name 'b@d'." in out
    assert "'frontend' expects an <id> argument" in out
    assert len(diag.alerts) == 3


def test_duplicate_proxy_names(tmp_path, plugins):
    _, diag, out = load(tmp_path, plugins, """
frontend x
backend x
frontend x
""")
    assert len(diag.alerts) == 1
    assert "frontend 'x' has the same name as frontend 'x' declared at" in out


def test_several_global_sections_merge(tmp_path, plugins):
    config, _, _ = load(tmp_path, plugins, "global\n maxconn 1\nglobal\n maxconn 2\n")
    assert config.global_.settings["maxconn"] == [["1"], ["2"]]


def test_conditional_blocks(tmp_path, plugins):
    config, diag, out = load(tmp_path, plugins, """
global
.if version_atleast(3.2)
    note yes-3.2
.elif 1
    note never
.else
    note never
.endif
.if feature(TESTFEAT) && !feature(OFFFEAT)
    note feat
.endif
.if 0
    this line is not parsed at all
.elif defined(HAPX_TEST_UNSET_VAR)
    note never
.else
  .if 1
    note nested
  .endif
.endif
""")
    assert not diag.failed, out
    assert config.global_.settings["note"] == [["yes-3.2"], ["feat"], ["nested"]]


def test_conditional_errors(tmp_path, plugins):
    _, diag, out = load(tmp_path, plugins, """
.else
.endif
.elif 1
.if foo(
.endif
.if 1
""")
    assert "'.else' without matching '.if'." in out
    assert "'.endif' without matching '.if'." in out
    assert "'.elif' without matching '.if'." in out
    assert "failed to parse .if condition" in out
    assert "non-terminated '.if' block." in out
    assert diag.failed


def test_message_directives(tmp_path, plugins):
    _, diag, out = load(tmp_path, plugins, """
.notice "a notice"
.warning "a warning"
.diag "hidden"
.alert "fatal thing"
""")
    assert "[NOTICE]" in out and "a notice" in out
    assert "[WARNING]" in out and "a warning" in out
    assert "hidden" not in out
    assert "[ALERT]" in out and "fatal thing" in out and diag.failed


def test_setenv_applies_to_later_lines(tmp_path, plugins, monkeypatch):
    monkeypatch.delenv("HAPX_T_VAR", raising=False)
    config, _, _ = load(tmp_path, plugins, """
global
    setenv HAPX_T_VAR hello
    note "${HAPX_T_VAR}" "${.LINE}"
""")
    assert config.global_.settings["note"] == [["hello", "4"]]
    os.environ.pop("HAPX_T_VAR", None)


def test_empty_argument_warning_truncates(tmp_path, plugins):
    config, diag, out = load(tmp_path, plugins, 'global\n    note a "" b c\n')
    assert config.global_.settings["note"] == [["a"]]
    assert "argument number 2 at position 12 is empty and marks the end of the argument " \
        "list; all subsequent arguments will be ignored:" in out
    assert "\n      note a \"\" b c\n" in out and "           ^" in out
    assert not diag.failed and len(diag.warnings) == 1


def test_tokenizer_errors_are_alerts(tmp_path, plugins):
    _, diag, out = load(tmp_path, plugins, "global\n    note 'unterminated\n")
    assert "c0.cfg:2] : unmatched quote" in out and diag.failed


def test_directory_of_files_in_lexical_order(tmp_path, plugins):
    d = tmp_path / "conf.d"
    d.mkdir()
    (d / "b.cfg").write_text("global\n    note second\n")
    (d / "a.cfg").write_text("global\n    note first\n")
    (d / "ignored.txt").write_text("garbage\n")
    config = parse_config([str(d)], plugins, Diagnostics(stream=io.StringIO()))
    assert config.global_.settings["note"] == [["first"], ["second"]]
    assert [os.path.basename(f) for f in config.files] == ["a.cfg", "b.cfg"]


def test_missing_file(tmp_path, plugins):
    out = io.StringIO()
    diag = Diagnostics(stream=out)
    parse_config([str(tmp_path / "nope.cfg")], plugins, diag)
    assert diag.failed and "Could not open configuration file" in out.getvalue()


def test_inactive_keywords_are_recorded(tmp_path, plugins):
    config, diag, _ = load(tmp_path, plugins, "frontend f\n    laterthing 1\n")
    assert not diag.failed
    [use] = config.inactive
    assert (use.keyword, use.owner, use.line) == ("laterthing", "sample", 2)


def test_plugin_bug_is_reported_with_plugin_name(tmp_path, plugins):
    _, diag, out = load(tmp_path, plugins, "frontend f\n    crash\n")
    assert "internal error in plugin 'sample' while parsing 'crash': ZeroDivisionError" in out


def test_plugin_section(tmp_path, plugins):
    _, diag, out = load(tmp_path, plugins, "things t\n    note x\n")
    assert "unknown keyword 'note' in 'things' section" in out


def test_records_added_while_parsing_belong_to_that_configuration(tmp_path, plugins):
    from hapx.core.records import Fetch, SmpType

    class Declarer:
        @hookimpl
        def hapx_register_directives(self, directives):
            def declare(ctx, args):
                ctx.registry.add(Fetch(args[0], out_type=SmpType.STR, doc=args[0]), "scripts")
            directives.add(Directive("declare", sections=GLOBAL, parse=declare, doc="declare"))

    plugins.add_plugin("declarer", Declarer())
    first, diag, _ = load(tmp_path, plugins, "global\n    declare my.fetch\n")
    assert not diag.failed and first.registry.fetch("my.fetch").owner == "scripts"
    assert plugins.registry.fetch("my.fetch") is None
    second, _, _ = load(tmp_path, plugins, "global\n    maxconn 1\n")
    assert second.registry.fetch("my.fetch") is None
