"""Build features: registered by the plugins that provide them, shown by -vv and tested by
feature() in conditions."""

import subprocess
import sys

from hapx.core.loader import load_plugins
from hapx.core.records import Feature


def hapx(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hapx.core.cli.main", *args],
                          capture_output=True, text=True, timeout=60)


def test_features_come_from_their_plugins():
    ps = load_plugins(warn=lambda t: None)
    owners = {f.name: f.owner for f in ps.registry.all(Feature)}
    assert owners["ZLIB"] == "compression"
    assert owners["OPENSSL"] == "ssl_fetches"
    assert owners["LUA"] == "lua"


def test_feature_list_and_conditions():
    out = hapx("-vv").stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("Feature list :"))
    assert "+ZLIB" in line.split()
    assert hapx("-cc", "feature(ZLIB) && version_atleast(3.2)").returncode == 0
    assert hapx("-cc", "feature(NO_SUCH_FEATURE)").returncode == 1


def test_disabling_a_plugin_removes_its_feature():
    assert hapx("--disable-plugin", "compression", "-cc", "feature(ZLIB)").returncode == 1
