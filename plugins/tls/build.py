"""Configuration time: the certificates of every ``ssl`` bind (``crt`` files and directories,
``crt-list`` files, crt-store references, the frontend's ``ssl-f-use`` lines) loaded into
:class:`~.sni.BindTLS` objects, set as ``bind.ssl_context`` for the engine."""

from __future__ import annotations

import os
import shlex
from typing import Any

from hapx.core.errors import ConfigError
from hapx.plugins.binds import BIND_OPTIONS
from hapx.plugins.confkit import resolve_path

from .contexts import global_defaults, merged
from .pki import CertKey, PkiError, dir_files, load_file
from .sni import BindTLS, Entry

#: bind options a crt-list line may carry between brackets
CRT_LIST_OPTIONS = ("allow-0rtt", "alpn", "ca-file", "ca-verify-file", "ciphers",
                    "ciphersuites", "client-sigalgs", "crl-file", "curves", "ecdhe", "no-alpn",
                    "no-ca-names", "npn", "sigalgs", "ssl-min-ver", "ssl-max-ver", "verify",
                    "no-sslv3", "no-tlsv10", "no-tlsv11", "no-tlsv12", "no-tlsv13")
#: crt-list options parsed but without runtime yet
NOT_ACTIVE = ("allow-0rtt", "npn", "no-ca-names")
#: bind-line words that are SSL settings (layered under a crt-list/ssl-f-use line's)
SSL_WORDS = set(CRT_LIST_OPTIONS) | {
    "force-sslv3", "force-tlsv10", "force-tlsv11", "force-tlsv12", "force-tlsv13",
    "no-tls-tickets", "prefer-client-ciphers", "strict-sni"}


class _FileCtx:
    """Enough of a parse context for option tables and resolve_path on a crt-list line."""

    def __init__(self, config: Any, file: str, line: int) -> None:
        self.config, self.file, self.line = config, file, line

    def error(self, message: str) -> ConfigError:
        return ConfigError(message, file=self.file, line=self.line)


class CertCache:
    """Certificates loaded once per process, shared by every bind using them (HAProxy's
    ckch store): name -> CertKey."""

    def __init__(self, config: Any) -> None:
        self.config = config
        self.by_name: dict[str, CertKey] = {}
        self.store: dict[str, dict[str, Any]] = {}  # crt-store refs -> entry
        #: stores created empty at run time (``new ssl cert``)
        self.empty: set[str] = set()
        for store in config.sections.get("crt-store", {}).values():
            for entry in getattr(store, "entries", ()):
                for ref in entry["refs"]:
                    self.store[ref] = entry

    def get(self, ref: str, file: str) -> tuple[str, CertKey, dict[str, Any]]:
        """(canonical name, certificate, store-level options) for a crt reference."""
        entry = self.store.get(ref)
        if entry is not None:
            name = entry["refs"][0]
            if name not in self.by_name:
                self.by_name[name] = load_file(name, entry["path"], entry.get("key_path"))
                for alias in entry["refs"][1:]:
                    self.by_name.setdefault(alias, self.by_name[name])
            return name, self.by_name[name], entry["options"]
        path = resolve_path(_FileCtx(self.config, file, 0), ref, _base(self.config))
        if path not in self.by_name:
            self.by_name[path] = load_file(path, path)
        return path, self.by_name[path], {}


def _base(config: Any) -> str | None:
    base = config.global_.settings.get("crt-base")
    return base if isinstance(base, str) else None


def _resolver(config: Any, file: str) -> Any:
    ca_base = config.global_.settings.get("ca-base")

    def resolve(name: str) -> str:
        return resolve_path(_FileCtx(config, file, 0), name,
                            ca_base if isinstance(ca_base, str) else None)
    return resolve


def _crt_entries(cache: CertCache, ref: str, file: str, opts: dict[str, Any],
                 filters: list[str], negative: list[str], kind: str) -> list[Entry]:
    """Entries of one crt reference: a directory gives one entry per file."""
    if not ref.startswith("@") and ref not in cache.store:
        path = resolve_path(_FileCtx(cache.config, file, 0), ref, _base(cache.config))
        if os.path.isdir(path):
            return [Entry(p, cache.get(p, file)[1], opts, list(filters), list(negative),
                          kind=kind) for p in dir_files(path)]
    name, ck, _store_opts = cache.get(ref, file)
    return [Entry(name, ck, opts, list(filters), list(negative), kind=kind)]


def parse_crt_list(cache: CertCache, path: str, base_opts: dict[str, Any]) -> list[Entry]:
    """Lines ``<crt> [[<ssl options>]] [[!]<sni filter> ...]``; '#' starts a comment."""
    entries: list[Entry] = []
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    for num, raw in enumerate(lines, 1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        ctx = _FileCtx(cache.config, path, num)
        opts: dict[str, Any] = {}
        if "[" in text:
            head, _, rest = text.partition("[")
            inner, close, tail = rest.partition("]")
            if not close:
                raise ctx.error(f"crt-list: missing ']' in line {num} of '{path}'.")
            words = shlex.split(inner)
            opts = BIND_OPTIONS.parse(ctx, words, f"crt-list '{path}' line {num}",
                                      CRT_LIST_OPTIONS)
            for word in NOT_ACTIVE:
                if word in opts:
                    raise ctx.error(f"crt-list '{path}' line {num} : '{word}' is not active "
                                    "yet in this version of hapx.")
            words = shlex.split(head) + shlex.split(tail)
        else:
            words = shlex.split(text)
        crt, filters = words[0], words[1:]
        pos = [w for w in filters if not w.startswith("!")]
        neg = [w[1:].lower() for w in filters if w.startswith("!")]
        try:
            entries += _crt_entries(cache, crt, path, merged(base_opts, opts), pos, neg,
                                    "crt-list")
        except PkiError as exc:
            raise ctx.error(str(exc)) from None
    return entries


def bind_entries(cache: CertCache, proxy: Any, bind: Any) -> list[Entry]:
    g = global_defaults(cache.config.global_.settings, "bind")
    line_opts = {k: v for k, v in bind.options.items() if k in SSL_WORDS}
    base = merged(g, line_opts)
    entries: list[Entry] = []
    for ref in bind.opt("crt") or ():
        entries += _crt_entries(cache, ref, bind.file, base, [], [], "crt")
    for ref in bind.opt("crt-list") or ():
        entries += parse_crt_list(cache, resolve_path(_FileCtx(cache.config, bind.file, 0),
                                                      ref), base)
    if not bind.opt("crt") and not bind.opt("crt-list"):
        for use in proxy.settings.get("ssl-f-use") or ():
            opts = merged(base, {k: v for k, v in use.items()
                                 if k in SSL_WORDS and not k.startswith("_")})
            entry = use.get("_store")
            if entry is not None:
                name, ck, _ = cache.get(entry, bind.file)
            else:
                name = use["_path"]
                if name not in cache.by_name:
                    cache.by_name[name] = load_file(name, use["_path"], use.get("_key_path"))
                ck = cache.by_name[name]
            entries.append(Entry(name, ck, opts, kind="crt-list"))
    return entries


def build_bind(cache: CertCache, proxy: Any, bind: Any) -> BindTLS:
    label = f"Proxy '{proxy.name}': {bind.describe()}"
    try:
        entries = bind_entries(cache, proxy, bind)
        if not entries:
            raise ValueError("no SSL certificate specified")
        curves = {e.opts.get("curves") for e in entries}
        # (aioquic picks the key share after the SNI: QUIC binds may differ per certificate)
        if len(curves) > 1 and getattr(bind.address, "transport", "") != "quic":
            raise ValueError("'curves' must be the same for every certificate of a bind line "
                             "(the key share is chosen before the SNI is known)")
        return BindTLS(entries, bind.options, _resolver(cache.config, bind.file), label)
    except ConfigError:
        raise
    except (PkiError, ValueError, OSError) as exc:
        raise ConfigError(f"{label} : {exc}", file=bind.file, line=bind.line) from None

