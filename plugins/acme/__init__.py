"""``acme`` sections (automatic certificates from an ACME CA) and the global
``acme.scheduler``.  Experimental in HAProxy 3.2: the section needs the global
``expose-experimental-directives``.  The ACME client comes in a later issue: everything here
parses and validates only (inactive)."""

from __future__ import annotations

import re
from typing import Any

from hapx.core.config.model import GLOBAL
from hapx.core.hookspecs import hookimpl
from hapx.plugins.confkit import (
    declare_section,
    simple_directive,
    v_choice,
    v_int,
    v_str,
)

KIND = "acme"
CURVES = ("P-256", "P-384", "P-521")


def _url(text: str) -> str:
    if not re.match(r"https?://[^/\s]+", text):
        raise ValueError(f"expects an http:// or https:// URL, got '{text}'")
    return text


def _email(text: str) -> str:
    if not re.fullmatch(r"[^@\s]+@[^@\s]+", text):
        raise ValueError(f"expects an e-mail address, got '{text}'")
    return text


def _header_extra(ctx: Any, sec: Any, words: list[str]) -> None:
    if words:
        raise ctx.error(f"'acme' takes only a name (got '{words[0]}').")
    if not ctx.config.global_.settings.get("expose-experimental-directives"):
        raise ctx.error("section 'acme' is experimental, must be allowed via a global "
                        "'expose-experimental-directives'")
    sec.settings.setdefault("account-key", f"{sec.name}.account.key")


def _post(ctx: Any, sec: Any) -> None:
    if "directory" not in sec.settings:
        raise ctx.error(f"acme section '{sec.name}' : no 'directory' URL configured.")
    keytype = sec.settings.get("keytype", "ECDSA")
    if keytype == "ECDSA" and "bits" in sec.settings:
        ctx.warning(f"acme section '{sec.name}' : 'bits' only applies to RSA keys.")
    if keytype == "RSA" and "curves" in sec.settings:
        ctx.warning(f"acme section '{sec.name}' : 'curves' only applies to ECDSA keys.")


@hookimpl
def hapx_register_sections(sections: Any) -> None:
    sections.add(declare_section(
        KIND, extra=_header_extra, post=_post,
        doc="acme <name>\n\nHow to obtain certificates from an ACME certificate authority "
            "(Let's Encrypt, ZeroSSL...), referenced by 'load ... acme <name>' in crt-store "
            "sections.  Experimental: needs 'expose-experimental-directives'."))


@hookimpl
def hapx_register_directives(directives: Any) -> None:
    sec = frozenset({KIND})
    directives.add(
        simple_directive("directory", sec, "directory <url>\n\nThe ACME directory URL "
                         "(mandatory).", [_url]),
        simple_directive("account-key", sec, "account-key <file>\n\nThe account's private "
                         "key (default '<name>.account.key', generated when missing).",
                         [v_str]),
        simple_directive("contact", sec, "contact <email>\n\nThe account's contact address.",
                         [_email]),
        simple_directive("challenge", sec, "challenge HTTP-01|DNS-01\n\nThe challenge type "
                         "(default HTTP-01; only HTTP-01 works in 3.2).",
                         [v_choice("HTTP-01", "DNS-01", icase=True)]),
        simple_directive("keytype", sec, "keytype RSA|ECDSA\n\nType of the certificates' "
                         "keys (default ECDSA).", [v_choice("RSA", "ECDSA", icase=True)]),
        simple_directive("bits", sec, "bits <n>\n\nRSA key size (default 2048).",
                         [v_int(1024, 16384)]),
        simple_directive("curves", sec, "curves <name>\n\nECDSA curve (default P-384).",
                         [v_choice(*CURVES)]),
        simple_directive("map", sec, "map <mapref>\n\nThe map where challenge tokens and "
                         "thumbprints are published (for example virt@acme).", [v_str]),
        simple_directive("acme.scheduler", GLOBAL, "acme.scheduler auto|off\n\nRenew "
                         "certificates automatically (default auto).",
                         [v_choice("auto", "off")]),
    )
