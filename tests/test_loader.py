"""Plugin registration: owners, duplicates, broken plugins, disabling, hook validation."""

from __future__ import annotations

import pytest
from hapx.core.errors import PluginError
from hapx.core.hookspecs import hookimpl
from hapx.core.loader import ESSENTIAL, PluginSet, load_plugins
from hapx.core.records import Action, Converter, Fetch, RuleSet, SmpType


def fetch(name: str) -> Fetch:
    return Fetch(name, process=lambda args, strm: None, out_type=SmpType.STR, doc=f"{name}\n\nt")


class FetchPlugin:
    def __init__(self, *names: str) -> None:
        self.names = names

    @hookimpl
    def hapx_register_fetches(self, fetches):
        fetches.add(*(fetch(n) for n in self.names))


def plugin_set():
    warnings: list[str] = []
    return PluginSet(warn=warnings.append), warnings


def test_records_are_stamped_with_their_owner():
    ps, _ = plugin_set()
    assert ps.add_plugin("mine", FetchPlugin("a.b"))
    rec = ps.registry.fetch("a.b")
    assert rec.owner == "mine"
    assert ps.infos["mine"].records == [rec]


def test_duplicate_keyword_names_both_plugins():
    ps, _ = plugin_set()
    ps.add_plugin("first", FetchPlugin("dup"))
    with pytest.raises(PluginError) as err:
        ps.add_plugin("second", FetchPlugin("other", "dup"))
    assert "fetch 'dup' is registered twice: by plugin 'first' and by plugin 'second'" in str(err.value)
    # nothing of the refused plugin stays registered
    assert ps.registry.fetch("other") is None


def test_same_action_name_in_distinct_rulesets_is_allowed():
    class A:
        @hookimpl
        def hapx_register_actions(self, actions):
            actions.add(Action("x", rulesets=frozenset({RuleSet.HTTP_REQ}), parse=lambda c, a: None))

    class B:
        @hookimpl
        def hapx_register_actions(self, actions):
            actions.add(Action("x", rulesets=frozenset({RuleSet.TCP_REQ_CONT}), parse=lambda c, a: None))

    ps, _ = plugin_set()
    ps.add_plugin("a", A())
    ps.add_plugin("b", B())
    assert ps.registry.action("x", RuleSet.HTTP_REQ).owner == "a"
    assert ps.registry.action("x", RuleSet.TCP_REQ_CONT).owner == "b"


def test_registrar_refuses_records_of_another_subsystem():
    class Wrong:
        @hookimpl
        def hapx_register_fetches(self, fetches):
            fetches.add(Converter("c", process=lambda a, s, t: s))

    ps, warnings = plugin_set()
    with pytest.raises(PluginError, match="registered a Converter through a hook that takes"):
        ps.add_plugin("wrong", Wrong())


def test_a_plugin_raising_while_registering_is_skipped_with_a_warning():
    class Broken:
        @hookimpl
        def hapx_register_fetches(self, fetches):
            fetches.add(fetch("half"))
            raise RuntimeError("boom")

    ps, warnings = plugin_set()
    assert ps.add_plugin("broken", Broken()) is False
    assert ps.infos["broken"].status == "failed"
    assert warnings == ["plugin 'broken' failed while registering and is skipped: "
                        "RuntimeError: boom"]
    assert ps.registry.fetch("half") is None


def test_misspelt_hook_is_reported():
    class Misspelt:
        @hookimpl
        def hapx_register_fetchez(self, fetches):
            pass

    ps, _ = plugin_set()
    ps.add_plugin("misspelt", Misspelt())
    with pytest.raises(Exception, match="unknown hook 'hapx_register_fetchez'"):
        ps.check_pending()


def test_essential_plugins_cannot_be_disabled():
    with pytest.raises(PluginError, match="essential plugin"):
        load_plugins(disabled=[next(iter(ESSENTIAL))])


def test_discovery_loads_installed_entry_points_and_honours_disabling():
    ps = load_plugins(warn=lambda t: None)
    assert ps.infos["kernel"].status == "loaded"
    assert ps.registry.section("frontend") is not None
    names = [n for n, i in ps.infos.items() if i.group == "hapx.plugins"]
    assert names, "the built-in plugins are entry points"
    victim = next(n for n in names if n not in ESSENTIAL)
    ps2 = load_plugins(disabled=[victim], warn=lambda t: None)
    assert ps2.infos[victim].status == "disabled"
    assert not ps2.registry.by_owner.get(victim)
