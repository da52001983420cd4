"""use_backend / default_backend / use-server / force-persist / ignore-persist: parsing,
deferred name checks and selection on real streams."""

from __future__ import annotations

import pytest
from test_rules import alerts, load, request


def test_first_matching_rule_then_default(tmp_path):
    text = """
defaults d
    mode http
frontend fe
    bind :8080
    use_backend be_never if FALSE
    use_backend be_api if TRUE
    use_backend be_other
    default_backend be_default
backend be_never
backend be_api
backend be_other
backend be_default
"""
    config, diag, _ = load(tmp_path, text)
    assert not diag.failed, alerts(diag)
    select = config.frontend("fe").settings["switching"]
    assert select(request()) is config.backend("be_api")


def test_default_backend_and_none(tmp_path):
    text = """
frontend fe1
    bind :8080
    use_backend b1 if FALSE
    default_backend b2
frontend fe2
    bind :8081
listen li
    bind :8082
backend b1
backend b2
"""
    config, diag, _ = load(tmp_path, text)
    assert not diag.failed, alerts(diag)
    assert config.frontend("fe1").settings["switching"](request()) is config.backend("b2")
    assert config.frontend("fe2").settings["switching"](request()) is None
    assert config.proxy("li").settings["switching"](request()) is config.proxy("li")


def test_dynamic_name(tmp_path):
    text = """
frontend fe
    bind :8080
    use_backend be_%[str(api)]
    default_backend be_default
frontend fe2
    bind :8081
    use_backend be_%[str(nope)]
    default_backend be_default
backend be_api
backend be_default
"""
    config, diag, _ = load(tmp_path, text)
    assert not diag.failed, alerts(diag)
    assert config.frontend("fe").settings["switching"](request()) is config.backend("be_api")
    # an unknown name falls back to the default backend
    assert (config.frontend("fe2").settings["switching"](request())
            is config.backend("be_default"))


def test_default_backend_inherited_from_defaults(tmp_path):
    text = "defaults d\n    default_backend b\nfrontend fe\n    bind :80\nbackend b\n"
    config, diag, _ = load(tmp_path, text)
    assert not diag.failed, alerts(diag)
    assert config.frontend("fe").settings["switching"](request()) is config.backend("b")


@pytest.mark.parametrize("line,message", [
    ("use_backend nope", "Proxy 'fe': unable to find required use_backend: 'nope'."),
    ("default_backend nope2", "Proxy 'fe': unable to find required default_backend: 'nope2'."),
    ("use_backend", "'use_backend' expects a backend name."),
    ("default_backend", "'default_backend' expects a backend name."),
    ("default_backend a b", "'default_backend' cannot handle unexpected argument 'b'."),
    ("use_backend b foo",
     "unexpected keyword 'foo' after switching rule, only 'if' and 'unless' are allowed."),
])
def test_frontend_errors(tmp_path, line, message):
    text = f"frontend fe\n    bind :8080\n    {line}\nbackend b\n"
    _, diag, _ = load(tmp_path, text)
    assert alerts(diag) == [f"3: {message}"]


def test_condition_error(tmp_path):
    _, diag, _ = load(tmp_path, "frontend fe\n    use_backend b if nope\nbackend b\n")
    (msg,) = alerts(diag)
    assert msg.startswith("2: error detected while parsing switching rule : ")
    assert "no such ACL : 'nope'" in msg


def test_not_in_defaults(tmp_path):
    _, diag, _ = load(tmp_path, "defaults d\n    use_backend b\n")
    assert alerts(diag) == ["2: 'use_backend' not allowed in 'defaults' section."]


def test_use_server_and_persistence(tmp_path):
    text = """
backend be
    use-server s2 if TRUE
    force-persist if FALSE
    ignore-persist if TRUE
    server s1 127.0.0.1:8001
    server s2 127.0.0.1:8002
"""
    config, diag, _ = load(tmp_path, text)
    assert not diag.failed, alerts(diag)
    be = config.backend("be")
    srv = be.settings["server_switching"](request())
    assert srv is be.server("s2") and srv is not None
    assert be.settings["persist_decision"](request()) == "ignore"


@pytest.mark.parametrize("line,message", [
    ("use-server", "'use-server' expects a server name."),
    ("use-server x", "'use-server' requires either 'if' or 'unless' followed by a condition."),
    ("use-server x if TRUE",
     "backend 'be' : unable to find server 'x' referenced in a 'use-server' rule."),
    ("force-persist", "'force-persist' requires either 'if' or 'unless' followed by a "
                      "condition."),
    ("ignore-persist foo", "'ignore-persist' requires either 'if' or 'unless' followed by a "
                           "condition."),
])
def test_backend_errors(tmp_path, line, message):
    _, diag, _ = load(tmp_path, f"backend be\n    {line}\n")
    assert alerts(diag) == [f"2: {message}"]
