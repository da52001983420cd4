"""tcp-request / tcp-response rule sets: parsing, messages and actions on real streams."""

from __future__ import annotations

import ipaddress

import pytest
from hapx.core.records import ActResult
from hapx.core.rules import run_rules
from test_rules import alerts, load, request


def cfg(tmp_path, body: str, section: str = "frontend fe\n    bind :8080"):
    text = f"defaults d\n    mode tcp\n{section}\n{body}\nbackend be\n    mode tcp\n"
    return load(tmp_path, text)


def first_error(tmp_path, line: str, section: str = "frontend fe\n    bind :8080") -> str:
    _, diag, _ = cfg(tmp_path, "    " + line, section)
    msgs = alerts(diag)
    assert msgs, "expected an error"
    return msgs[0].split(": ", 1)[1]


def test_rule_sets_and_points(tmp_path):
    config, diag, _ = cfg(tmp_path, "    tcp-request connection accept\n"
                                    "    tcp-request session reject if FALSE\n"
                                    "    tcp-request content accept\n"
                                    "    tcp-request inspect-delay 5s\n")
    assert not diag.failed, alerts(diag)
    fe = config.frontend("fe")
    assert [r.keyword for r in fe.rules["tcp-request connection"]] == ["accept"]
    assert [r.keyword for r in fe.rules["tcp-request session"]] == ["reject"]
    assert fe.settings["tcp-request inspect-delay"] == 5000


def test_accept_and_reject_run(tmp_path):
    config, diag, _ = cfg(tmp_path, "    tcp-request connection reject if FALSE\n"
                                    "    tcp-request connection accept if TRUE\n"
                                    "    tcp-request connection reject\n")
    assert not diag.failed, alerts(diag)
    rules = config.frontend("fe").rules["tcp-request connection"]
    s = request()
    assert run_rules(rules, s) == ActResult.STOP
    assert run_rules(rules[2:], s) == ActResult.ABORT
    assert s.counters["denied_conn"] == 1


def test_tcp_response_close(tmp_path):
    config, diag, _ = cfg(tmp_path, "    tcp-response content close\n"
                                    "    tcp-response inspect-delay 1s",
                          section="backend bk")
    assert not diag.failed, alerts(diag)
    s = request()
    bk = config.backend("bk")
    assert run_rules(bk.rules["tcp-response content"], s) == ActResult.ABORT
    assert s.ext["close_server"] is True and bk.settings["tcp-response inspect-delay"] == 1000


def test_content_capture(tmp_path):
    config, diag, _ = cfg(tmp_path, "    tcp-request content capture src len 7")
    assert not diag.failed, alerts(diag)
    s = request()
    run_rules(config.frontend("fe").rules["tcp-request content"], s)
    assert s.captures_req == ["192.0.2"]


def test_set_src_and_marks_are_inactive_but_work(tmp_path):
    config, diag, _ = cfg(tmp_path, "    tcp-request connection set-src src\n"
                                    "    tcp-request connection set-mark 0x10\n"
                                    "    tcp-request connection expect-proxy layer4")
    assert not diag.failed, alerts(diag)
    inactive = [u.keyword for u in config.inactive if u.kind == "action"]
    assert inactive == ["tcp-request connection set-src", "tcp-request connection set-mark",
                        "tcp-request connection expect-proxy"]
    s = request()
    s.sess.src = ipaddress.ip_address("10.0.0.1")
    run_rules(config.frontend("fe").rules["tcp-request connection"], s)
    assert s.ext["set_mark"] == 16 and s.ext["expect_proxy"] is True


@pytest.mark.parametrize("line,message,section", [
    ("tcp-request foo",
     "'tcp-request' expects 'inspect-delay', 'connection', or 'content' in frontend 'fe' "
     "(got 'foo')", None),
    ("tcp-request", "missing argument for 'tcp-request' in frontend 'fe'", None),
    ("tcp-request inspect-delay",
     "'tcp-request inspect-delay' expects a positive delay in milliseconds, in frontend 'fe'",
     None),
    ("tcp-request inspect-delay 10x",
     "'tcp-request inspect-delay' expects a positive delay in milliseconds, in frontend 'fe' "
     "(unexpected character 'x')", None),
    ("tcp-request connection accept foo",
     "'tcp-request connection accept' only accepts 'if' or 'unless', in frontend 'fe' "
     "(got 'foo')", None),
    ("tcp-request connection expect-proxy layer7",
     "'tcp-request connection expect-proxy' only supports 'layer4' in frontend 'fe' "
     "(got 'layer7')", None),
    ("tcp-request connection accept", "tcp-request connection is not allowed because backend "
     "bk is not a frontend", "backend bk"),
    ("tcp-response inspect-delay 1s", "tcp-response inspect-delay is only allowed in 'backend' "
     "sections or 'defaults' section with a name", None),
    ("tcp-request content accept if nope",
     "'tcp-request content accept' : error detected in frontend 'fe' while parsing 'if' "
     "condition : ", None),
])
def test_errors(tmp_path, line, message, section):
    msg = first_error(tmp_path, line, section) if section else first_error(tmp_path, line)
    assert msg.startswith(message), msg


def test_unknown_action_lists_the_rule_set(tmp_path):
    msg = first_error(tmp_path, "tcp-request content foo")
    assert msg.startswith("'tcp-request content' expects ")
    assert "'accept'" in msg and "'reject'" in msg and "'capture'" in msg
    assert "'close'" not in msg and msg.endswith("in frontend 'fe' (got 'foo').")


def test_unknown_action_suggestion(tmp_path):
    msg = first_error(tmp_path, "tcp-request content acept")
    assert msg.endswith("in frontend 'fe' (got 'acept'). Did you mean 'accept' maybe ?")


def test_duplicate_inspect_delay_warns(tmp_path):
    _, diag, _ = cfg(tmp_path, "    tcp-request inspect-delay 1s\n"
                               "    tcp-request inspect-delay 2s")
    assert not diag.failed
    assert ("ignoring tcp-request inspect-delay (was already defined) in frontend 'fe'"
            in [m.text for m in diag.warnings])


def test_anonymous_defaults_refused(tmp_path):
    _, diag, _ = load(tmp_path, "defaults\n    tcp-request content accept\n")
    assert alerts(diag) == ["2: 'tcp-request content' not allowed in anonymous 'defaults' "
                            "section."]
