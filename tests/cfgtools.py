"""Helpers for the configuration tests of binds, servers, balance and later features:
load the plugins once, parse a configuration text or file, and lay out the files the
release-notes examples name (certificates, Lua scripts) in a temporary directory."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

from hapx.core.config.model import Config
from hapx.core.config.parser import parse_config
from hapx.core.errors import Diagnostics
from hapx.core.loader import PluginSet, load_plugins

CONFIGS = Path(__file__).parent / "configs"
SEEDS = CONFIGS / "seeds"
LUA = CONFIGS / "lua"

_PLUGINS: PluginSet | None = None


def plugins() -> PluginSet:
    global _PLUGINS
    if _PLUGINS is None:
        _PLUGINS = load_plugins(warn=lambda _text: None)
    return _PLUGINS


def parse_file(path: Path | str) -> tuple[Config, Diagnostics, str]:
    out = io.StringIO()
    diag = Diagnostics(stream=out)
    config = parse_config([str(path)], plugins(), diag)
    return config, diag, out.getvalue()


def parse_text(tmp_path: Path, text: str, name: str = "test.cfg") -> tuple[Config, Diagnostics,
                                                                           str]:
    path = tmp_path / name
    path.write_text(text)
    return parse_file(path)


def alerts(diag: Diagnostics) -> list[str]:
    return [f"{m.file}:{m.line}: {m.text}" for m in diag.alerts]


def lay_out_seed_files(tmp_path: Path) -> None:
    """Create the files the release-notes examples reference, under ``tmp_path``."""
    from tlspki import CA  # real test certificates: hapx loads them at configuration time

    ca = CA()
    leaves = {n: ca.leaf([n, f"www.{n}"]) for n in ("foo.com", "bar.com", "example.com")}
    files = {"ssl/certs/foo.com.crt": leaves["foo.com"].cert_pem,
             "ssl/certs/bar.com.crt": leaves["bar.com"].cert_pem,
             "ssl/keys/foo.com.key": leaves["foo.com"].key_pem,
             "ssl/keys/bar.com.key": leaves["bar.com"].key_pem,
             "example.com.pem": leaves["example.com"].bundle,
             "certs/example.com/cert.crt": leaves["example.com"].bundle,
             "ca.pem": ca.pem}
    for rel, data in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    for script in LUA.iterdir():
        shutil.copy(script, tmp_path / script.name)


def seed(tmp_path: Path, name: str) -> Path:
    """A copy of a seed configuration with ``@DIR@`` replaced by ``tmp_path``."""
    lay_out_seed_files(tmp_path)
    text = (SEEDS / name).read_text().replace("@DIR@", str(tmp_path))
    path = tmp_path / name
    path.write_text(text)
    return path
