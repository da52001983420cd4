"""The rule engine: run_rules semantics and generic rule parsing (action lookup, conditions,
messages)."""

from __future__ import annotations

import io
import ipaddress
from pathlib import Path

import pytest
from hapx.core.config.model import Rule
from hapx.core.config.parser import parse_config
from hapx.core.errors import Diagnostics
from hapx.core.loader import load_plugins
from hapx.core.records import ActionRule, ActResult
from hapx.core.rules import run_rules
from hapx.core.stream import HttpMessage, Session, Stream

_PLUGINS = None


def plugins():
    global _PLUGINS
    if _PLUGINS is None:
        _PLUGINS = load_plugins(warn=lambda text: None)
    return _PLUGINS


def load(tmp_path: Path, text: str):
    path = tmp_path / "test.cfg"
    path.write_text(text)
    out = io.StringIO()
    diag = Diagnostics(stream=out)
    config = parse_config([str(path)], plugins(), diag)
    return config, diag, out.getvalue()


def alerts(diag) -> list[str]:
    return [f"{m.line}: {m.text}" for m in diag.alerts]


def request(method: str = "GET", uri: str = "/", headers=(), body: bytes | None = None,
            frontend=None, backend=None) -> Stream:
    sess = Session(src=ipaddress.ip_address("192.0.2.1"), src_port=40000,
                   dst=ipaddress.ip_address("192.0.2.10"), dst_port=80, frontend=frontend)
    req = HttpMessage(method=method, uri=uri, headers=list(headers), body=body,
                      body_complete=body is not None)
    return Stream(sess=sess, frontend=frontend, backend=backend, req=req)



class Record(ActionRule):
    def __init__(self, name: str, result: ActResult = ActResult.CONT, final: bool = False):
        self.name, self.result, self.final = name, result, final

    def run(self, strm):
        strm.ext.setdefault("ran", []).append(self.name)
        return self.result


class Cond:
    """A condition answering a fixed verdict (True, False, or None for "not yet")."""

    def __init__(self, verdict):
        self.verdict = verdict

    def eval(self, strm):
        return self.verdict() if callable(self.verdict) else self.verdict


def rule(action, cond=None) -> Rule:
    return Rule(ruleset="http-request", keyword="x", action=action, cond=cond)


def stream() -> Stream:
    return Stream(sess=Session(src=ipaddress.ip_address("127.0.0.1")))


def test_runs_in_order_and_continues():
    s = stream()
    res = run_rules([rule(Record("a")), rule(Record("b"))], s)
    assert res == ActResult.CONT and s.ext["ran"] == ["a", "b"]


def test_conditions_skip_rules():
    s = stream()
    rules = [rule(Record("a"), Cond(False)), rule(Record("b"), Cond(True))]
    assert run_rules(rules, s) == ActResult.CONT
    assert s.ext["ran"] == ["b"]


def test_stopping_results_are_returned():
    s = stream()
    rules = [rule(Record("a")), rule(Record("deny", ActResult.DENY, final=True)),
             rule(Record("never"))]
    assert run_rules(rules, s) == ActResult.DENY
    assert s.ext["ran"] == ["a", "deny"]


def test_final_action_stops_with_its_result():
    s = stream()
    rules = [rule(Record("allow", ActResult.STOP, final=True)), rule(Record("never"))]
    assert run_rules(rules, s) == ActResult.STOP
    assert s.ext["ran"] == ["allow"]


def test_final_action_answering_cont_was_skipped():
    s = stream()
    rules = [rule(Record("skipped", ActResult.CONT, final=True)), rule(Record("next"))]
    assert run_rules(rules, s) == ActResult.CONT
    assert s.ext["ran"] == ["skipped", "next"]


def test_miss_yields_and_resumes_at_the_same_rule():
    s = stream()
    state = {"ready": None}
    rules = [rule(Record("a")), rule(Record("b"), Cond(lambda: state["ready"])),
             rule(Record("c"))]
    assert run_rules(rules, s) == ActResult.YIELD
    assert s.ext["ran"] == ["a"]
    state["ready"] = True
    assert run_rules(rules, s) == ActResult.CONT
    assert s.ext["ran"] == ["a", "b", "c"]  # "a" did not run twice
    # a new pass starts from the beginning
    assert run_rules(rules, s) == ActResult.CONT
    assert s.ext["ran"] == ["a", "b", "c", "a", "b", "c"]


def test_yielding_action_is_resumed():
    s = stream()

    class Waiter(ActionRule):
        def __init__(self):
            self.calls = 0

        def run(self, strm):
            self.calls += 1
            return ActResult.YIELD if self.calls == 1 else ActResult.CONT

    w = Waiter()
    rules = [rule(Record("a")), rule(w), rule(Record("b"))]
    assert run_rules(rules, s) == ActResult.YIELD
    assert run_rules(rules, s) == ActResult.CONT
    assert s.ext["ran"] == ["a", "b"] and w.calls == 2


# -- parsing ------------------------------------------------------------------------------------

BASE = """
defaults d
    mode http
frontend fe
    bind :8080
{lines}
backend be
    mode http
"""


def test_unknown_action_lists_and_suggests(tmp_path):
    _, diag, out = load(tmp_path, BASE.format(lines="    http-request set-heade X-a b"))
    (msg,) = alerts(diag)
    assert msg.startswith("6: 'http-request' expects ")
    assert "'allow'" in msg and "'set-header'" in msg
    assert msg.endswith("but got 'set-heade'. Did you mean 'set-header' maybe ?")
    assert "[" in out and "test.cfg:6]" in out


def test_missing_action(tmp_path):
    _, diag, _ = load(tmp_path, BASE.format(lines="    http-response"))
    (msg,) = alerts(diag)
    assert "but got '' (missing argument)." in msg


def test_parameterized_actions_are_listed_with_star(tmp_path):
    _, diag, _ = load(tmp_path, BASE.format(lines="    http-request nope"))
    assert "'set-map(*)'" in alerts(diag)[0]


def test_action_error_is_wrapped(tmp_path):
    _, diag, _ = load(tmp_path, BASE.format(lines="    http-request deny deny_status 999"))
    assert alerts(diag) == ["6: error detected in frontend 'fe' while parsing 'http-request "
                            "deny' rule : Unexpected status code '999'."]


def test_trailing_word(tmp_path):
    _, diag, _ = load(tmp_path, BASE.format(lines="    http-request deny foo"))
    assert alerts(diag) == ["6: 'http-request deny' expects either 'if' or 'unless' followed "
                            "by a condition but found 'foo'."]


def test_listen_is_called_proxy(tmp_path):
    text = "listen li\n    mode http\n    bind :80\n    http-request deny status 42\n"
    _, diag, _ = load(tmp_path, text)
    assert alerts(diag) == ["4: error detected in proxy 'li' while parsing 'http-request deny' "
                            "rule : Unexpected status code '42'."]


def test_rules_in_anonymous_defaults_refused(tmp_path):
    _, diag, _ = load(tmp_path, "defaults\n    mode http\n    http-request deny\n")
    assert alerts(diag) == ["3: 'http-request' not allowed in anonymous 'defaults' section."]


def test_rules_in_named_defaults_run_first(tmp_path):
    text = """
defaults d
    mode http
    http-request set-header X-Order first
frontend fe
    bind :8080
    http-request add-header X-Order second
"""
    config, diag, _ = load(tmp_path, text)
    assert not diag.failed, alerts(diag)
    fe = config.frontend("fe")
    rules = fe.rules["http-request"]
    assert [r.keyword for r in rules] == ["set-header", "add-header"]
    s = request(frontend=fe)
    assert run_rules(rules, s) == ActResult.CONT
    assert s.req.get_all("X-Order") == ["first", "second"]


def test_condition_error(tmp_path):
    _, diag, _ = load(tmp_path, BASE.format(lines="    http-request deny if nosuchacl"))
    (msg,) = alerts(diag)
    assert msg.startswith("6: error detected while parsing an 'http-request deny' condition : ")
    assert "no such ACL : 'nosuchacl'" in msg


def test_condition_compiled_and_evaluated(tmp_path):
    text = BASE.format(lines="    http-request deny if { path_beg /admin }\n"
                             "    http-request deny deny_status 429 unless { path_beg /ok }")
    config, diag, _ = load(tmp_path, text)
    assert not diag.failed, alerts(diag)
    rules = config.frontend("fe").rules["http-request"]
    s = request(uri="/admin/x")
    assert run_rules(rules, s) == ActResult.DENY and s.ext["http_reply"].status == 403
    s = request(uri="/ok/x")
    assert run_rules(rules, s) == ActResult.CONT and "http_reply" not in s.ext
    s = request(uri="/other")
    assert run_rules(rules, s) == ActResult.DENY and s.ext["http_reply"].status == 429


def test_inactive_actions_are_noted(tmp_path):
    config, diag, _ = load(tmp_path, BASE.format(lines="    http-request tarpit"))
    assert not diag.failed, alerts(diag)
    assert [(u.keyword, u.line) for u in config.inactive
            if u.kind == "action"] == [("http-request tarpit", 6)]


@pytest.mark.parametrize("line", ["http-request allow", "http-response allow",
                                  "http-after-response allow"])
def test_rule_stored_with_its_ruleset(tmp_path, line):
    config, diag, _ = load(tmp_path, BASE.format(lines="    " + line))
    assert not diag.failed, alerts(diag)
    (r,) = config.frontend("fe").rules[line.split()[0]]
    assert r.keyword == "allow" and r.line == 6 and r.file.endswith("test.cfg")
