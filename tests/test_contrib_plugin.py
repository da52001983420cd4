"""The example third-party plugin (contrib/example_plugin): pip-installed into this
environment, it is listed by ``hapx plugins``, documented by ``hapx doc`` and its keywords
validate in a configuration.  It is uninstalled at the end."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "contrib" / "example_plugin"
HAPX = [sys.executable, "-m", "hapx.core.cli.main"]


def pip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pip", *args, "--quiet",
                           "--disable-pip-version-check"], capture_output=True, text=True,
                          timeout=300)


def hapx(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, COLUMNS="200")
    env.pop("HAPX_DISABLE_PLUGINS", None)
    return subprocess.run([*HAPX, *args], capture_output=True, text=True, env=env, timeout=60)


@pytest.fixture(scope="module")
def installed():
    offline = ["--no-build-isolation"] if importlib.util.find_spec("hatchling") else []
    res = pip("install", "--no-deps", *offline, str(PACKAGE))
    assert res.returncode == 0, res.stderr
    try:
        yield
    finally:
        pip("uninstall", "-y", "hapx-example-plugin")


def test_hapx_plugins_lists_the_installed_package(installed):
    res = hapx("plugins", "--json")
    assert res.returncode == 0, res.stderr
    plugin = next(p for p in json.loads(res.stdout) if p["name"] == "example")
    assert plugin["distribution"] == "hapx-example-plugin"
    assert plugin["version"] == "0.1.0"
    assert plugin["status"] == "loaded"
    assert plugin["counts"] == {"converter": 1, "fetch": 1}
    table = hapx("plugins").stdout
    row = next(line for line in table.splitlines() if " example " in line)
    assert "hapx-example-plugin" in row and "1 converter, 1 fetch" in row


def test_hapx_doc_shows_its_keywords(installed):
    page = hapx("doc", "fetches", "example.greeting")
    assert page.returncode == 0, page.stderr
    assert page.stdout.startswith("fetch example.greeting  (plugin example, "
                                  "hapx-example-plugin 0.1.0)")
    assert "example.greeting([<name>]) : string" in page.stdout
    assert 'Returns the string "Hello, <name>!"' in page.stdout
    conv = hapx("doc", "converters", "reverse")
    assert "Reverses the order of the characters" in conv.stdout
    table = hapx("doc", "converters").stdout
    assert any("reverse" in line and "example" in line for line in table.splitlines())


def test_a_configuration_using_its_keywords_validates(installed, tmp_path):
    cfg = tmp_path / "example.cfg"
    cfg.write_text(textwrap.dedent("""
        defaults
            mode http
            timeout client 5s
            timeout server 5s
            timeout connect 5s
        frontend fe
            bind 127.0.0.1:8080
            acl greeted var(txn.g) -m str "!dlrow ,olleH"
            http-request set-var(txn.g) example.greeting,reverse
            http-request set-header X-Greeting %[example.greeting(hapx),reverse]
            http-request deny if !greeted
            default_backend be
        backend be
            server s1 127.0.0.1:8000
        """))
    res = hapx("-c", "-f", str(cfg))
    assert res.returncode == 0, res.stderr
    assert res.stdout.endswith("Configuration file is valid\n")
    # nothing to report about the plugin's keywords
    assert "example.greeting" not in res.stderr and "reverse" not in res.stderr


def test_its_argument_checks_run_at_configuration_time(installed, tmp_path):
    cfg = tmp_path / "bad.cfg"
    cfg.write_text(textwrap.dedent(f"""
        frontend fe
            mode http
            bind 127.0.0.1:8080
            http-request set-header X-Greeting %[example.greeting({"x" * 80})]
            http-request set-header X-Other %[example.greeting,reverse(1)]
        """).lstrip())
    res = hapx("-c", "-f", str(cfg))
    assert res.returncode == 1
    assert f"parsing [{cfg}:4] : " in res.stderr
    assert "the name must be 1 to 64 printable characters" in res.stderr
    assert f"parsing [{cfg}:5] : " in res.stderr and "converter 'reverse'" in res.stderr


def test_disabling_it_makes_its_keywords_unknown(installed, tmp_path):
    cfg = tmp_path / "off.cfg"
    cfg.write_text("frontend fe\n    mode http\n    bind :8080\n"
                   "    http-request set-header X %[example.greeting]\n")
    assert hapx("-c", "-f", str(cfg)).returncode == 0
    res = hapx("--disable-plugin", "example", "-c", "-f", str(cfg))
    assert res.returncode == 1
    assert "example.greeting" in res.stderr
