"""Certificate stores (``crt-store`` sections with ``crt-base``, ``key-base`` and ``load``)
and the frontend ``ssl-f-use`` lines.  The TLS plugin (plugins/tls) loads the certificates and
serves them: ssl-f-use lines form the implicit crt-list of the frontend's ssl binds.

Known certificate references are published in ``config.ext["crt_store"]["refs"]`` for the
``crt`` option of bind lines: ``@<store>/<alias>`` and ``@<store>/<crt>`` for named stores,
``<crt>`` and ``@/<alias>`` for the unnamed one.
"""

from __future__ import annotations

import os
from typing import Any

from hapx.core.config.model import FRONTEND_KINDS
from hapx.core.hookspecs import hookimpl
from hapx.core.records import Directive
from hapx.plugins.binds import BIND_OPTIONS, check_crt
from hapx.plugins.confkit import (
    Opt,
    OptionTable,
    declare_section,
    parse_positional,
    resolve_path,
    v_on_off,
    v_str,
)

KIND = "crt-store"
EXT = "crt_store"

LOAD_OPTIONS = OptionTable("load")
LOAD_OPTIONS.add(
    Opt("crt", 1, v_str, "crt <filename>\n\nThe certificate (PEM, may hold the key)."),
    Opt("key", 1, v_str, "key <filename>\n\nThe private key, when not in the crt file."),
    Opt("ocsp", 1, v_str, "ocsp <filename>\n\nAn OCSP response (DER)."),
    Opt("issuer", 1, v_str, "issuer <filename>\n\nThe issuer certificate (for OCSP)."),
    Opt("sctl", 1, v_str, "sctl <filename>\n\nSigned certificate timestamps."),
    Opt("ocsp-update", 1, v_on_off, "ocsp-update on|off\n\nAutomatic OCSP updates."),
    Opt("alias", 1, v_str, "alias <name>\n\nThe name the certificate is referenced by."),
    Opt("acme", 1, v_str, "acme <section>\n\nRenew the certificate with this acme section "
                          "(experimental)."),
    Opt("domains", 1, v_str, "domains \"<d1>,<d2>\"\n\nThe domains of the ACME order; the "
                             "first one is the CN."),
)

#: bind options ssl-f-use accepts, with the load options
SSL_F_USE_BIND = ("allow-0rtt", "alpn", "ca-file", "ca-verify-file", "ciphers", "ciphersuites",
                  "client-sigalgs", "crl-file", "curves", "ecdhe", "no-alpn", "no-ca-names",
                  "npn", "sigalgs", "ssl-min-ver", "ssl-max-ver", "verify")
SSL_F_USE_OPTIONS = OptionTable("ssl-f-use")
for _name in SSL_F_USE_BIND:
    _opt = BIND_OPTIONS.get(_name)
    if _opt is not None:
        SSL_F_USE_OPTIONS.add(_opt)
SSL_F_USE_OPTIONS.add(*LOAD_OPTIONS.opts.values())


#: options parsed and validated whose runtime is missing (OCSP stapling, SCTs, ACME, NPN,
#: 0-RTT, CA names, CRL of ssl-f-use lines): a use is reported as not yet active
NOT_ACTIVE = ("ocsp", "issuer", "sctl", "ocsp-update", "acme", "domains", "allow-0rtt", "npn",
              "no-ca-names")


def _mark(ctx: Any, keyword: str, opts: dict[str, Any]) -> None:
    for name in NOT_ACTIVE:
        if name in opts and not (name == "ocsp-update" and opts[name] is False):
            ctx.mark_inactive(f"{keyword} {name}", "option", "crt_store")


def _refs(config: Any) -> set[str]:
    return config.ext.setdefault(EXT, {}).setdefault("refs", set())


def _experimental_ok(ctx: Any) -> bool:
    return bool(ctx.config.global_.settings.get("expose-experimental-directives"))


def _check_files(ctx: Any, label: str, opts: dict[str, Any], crt_base: str | None,
                 key_base: str | None) -> None:
    for name in ("crt", "key", "ocsp", "issuer", "sctl"):
        ref = opts.get(name)
        if ref is None:
            continue
        base = key_base if name == "key" else crt_base
        path = resolve_path(ctx, ref, base)
        if not os.path.exists(path):
            raise ctx.error(f"{label} : unable to load '{name}' file '{path}' : No such file "
                            "or directory.")
    if "acme" in opts:
        if not _experimental_ok(ctx):
            raise ctx.error(f"{label} : 'acme' is experimental, it must be allowed via a "
                            "global 'expose-experimental-directives'.")
        section = opts["acme"]

        def acme_declared(config: Any) -> None:
            if section not in config.sections.get("acme", {}):
                raise ctx.error(f"{label} : unable to find the acme section '{section}'.")
        ctx.defer(acme_declared)
    if "domains" in opts and "acme" not in opts:
        raise ctx.error(f"{label} : 'domains' is only meaningful with 'acme'.")


def _global_base(ctx: Any, key: str) -> str | None:
    value = ctx.config.global_.settings.get(key)
    return value if isinstance(value, str) else None


def _load(ctx: Any, args: list[str]) -> None:
    store = ctx.section
    label = f"'load' in {store.describe()}"
    opts = LOAD_OPTIONS.parse(ctx, args, label)
    if "crt" not in opts:
        raise ctx.error(f"{label} : 'crt' is mandatory.")
    crt_base = store.settings.get("crt-base") or _global_base(ctx, "crt-base")
    key_base = store.settings.get("key-base") or _global_base(ctx, "key-base")
    _check_files(ctx, label, opts, crt_base, key_base)
    _mark(ctx, "load", opts)
    refs = _refs(ctx.config)
    names = [opts["crt"]] + ([opts["alias"]] if "alias" in opts else [])
    keys = [f"@{store.name}/{n}" for n in names] if store.name else \
        [opts["crt"]] + ([f"@/{opts['alias']}"] if "alias" in opts else [])
    for key in keys:
        if key in refs:
            raise ctx.error(f"{label} : '{key}' is already declared in a crt-store.")
    refs.update(keys)
    key_path = resolve_path(ctx, opts["key"], key_base) if "key" in opts else None
    store.entries.append({"options": opts, "refs": keys, "file": ctx.file, "line": ctx.line,
                          "path": resolve_path(ctx, opts["crt"], crt_base),
                          "key_path": key_path})


def _base(ctx: Any, args: list[str]) -> None:
    (path,) = parse_positional(ctx, args, [v_str], usage=f"{ctx.keyword} <dir>")
    if ctx.section.entries:
        ctx.warning(f"'{ctx.keyword}' after 'load' lines applies to the following ones only.")
    ctx.section.settings[ctx.keyword] = path


def _ssl_f_use(ctx: Any, args: list[str]) -> None:
    proxy = ctx.section
    label = f"'ssl-f-use' in {proxy.kind} '{proxy.name}'"
    opts = SSL_F_USE_OPTIONS.parse(ctx, args, label)
    if "crt" not in opts:
        raise ctx.error(f"{label} : 'crt' is mandatory.")
    _mark(ctx, "ssl-f-use", opts)
    ref = opts["crt"]
    if ref.startswith("@") or ref in _refs(ctx.config):
        check_crt(ctx, label, ref)
        opts["_store"] = ref
    else:
        _check_files(ctx, label, opts, _global_base(ctx, "crt-base"),
                     _global_base(ctx, "key-base"))
        opts["_path"] = resolve_path(ctx, ref, _global_base(ctx, "crt-base"))
        if "key" in opts:
            opts["_key_path"] = resolve_path(ctx, opts["key"], _global_base(ctx, "key-base"))
    proxy.settings.setdefault("ssl-f-use", []).append(opts)


@hookimpl
def hapx_register_sections(sections: Any) -> None:
    sections.add(declare_section(
        KIND, name="optional", active=True,
        doc="crt-store [<name>]\n\nDeclares certificates once (load lines) to reference them "
            "from bind lines and ssl-f-use: '@<name>/<alias>' for a named store, the crt "
            "file or '@/<alias>' for the unnamed one."))


@hookimpl
def hapx_register_directives(directives: Any) -> None:
    store = frozenset({KIND})
    directives.add(
        Directive("crt-base", sections=store, parse=_base,
                  doc="crt-base <dir>\n\nBase directory of relative crt files of this store "
                      "(overrides the global crt-base)."),
        Directive("key-base", sections=store, parse=_base,
                  doc="key-base <dir>\n\nBase directory of relative key files of this store."),
        Directive("load", sections=store, parse=_load,
                  doc="load crt <file> [key <f>] [ocsp <f>] [issuer <f>] [sctl <f>] "
                      "[ocsp-update on|off] [alias <name>] [acme <section>] "
                      "[domains \"<d1>,<d2>\"]\n\nDeclare a certificate of the store.  Options:"
                      "\n" + LOAD_OPTIONS.docs()),
        Directive("ssl-f-use", sections=FRONTEND_KINDS, parse=_ssl_f_use,
                  doc="ssl-f-use [crt <file>] [<ssl-bind-opts>] [<load-opts>]\n\nAdd a "
                      "certificate to the implicit crt-list of the frontend, used by its "
                      "'ssl' bind lines that have no crt nor crt-list.  Options:\n"
                      + SSL_F_USE_OPTIONS.docs()),
    )
