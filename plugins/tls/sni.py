"""Certificate selection by SNI for one ``ssl`` bind line.

Every certificate entry (a ``crt`` of the bind, a crt-list line, an ssl-f-use line) gets its
own :class:`ssl.SSLContext`.  The bind's *front* context starts every handshake with the
default certificate (the first entry) and the widest version range of its entries; its
``sni_callback`` picks the entry (exact name, then wildcard, negative filters excluding
names; none: the default, or a refusal with ``strict-sni``), switches the connection to that
entry's context and applies what OpenSSL keeps per connection (verify mode, cipher lists,
allowed versions).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import Any

from cryptography.x509.oid import NameOID

from . import ossl
from .contexts import (
    TLS_VERSION,
    VERIFY,
    apply_common,
    server_side_context,
    version_number,
    version_range,
)
from .pki import CertKey
from .tracing import SSL_TRACE, trace_sni


@dataclass
class Entry:
    """One certificate of a bind with its SNI filters and options."""

    ref: str  # how the configuration names it (file, @store/alias)
    ck: CertKey
    opts: dict[str, Any]
    filters: list[str] = field(default_factory=list)  # as written ('' : from the cert)
    negative: list[str] = field(default_factory=list)
    ctx: ssl.SSLContext | None = None
    low: int = 0
    high: int = 0
    kind: str = "crt"  # "crt" or "crt-list"

    def sni_names(self) -> list[str]:
        """The names the entry answers: its positive filters, else the certificate's CN
        and SAN DNS names."""
        if self.filters:
            return [f.lower() for f in self.filters]
        names = [str(a.value).lower() for a in
                 self.ck.leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
        for n in self.ck.names:
            if n not in names:
                names.append(n)
        return names


class BindTLS:
    """The TLS side of one bind: ``context`` is what the listener hands to asyncio."""

    def __init__(self, entries: list[Entry], bind_opts: dict[str, Any], resolve: Any,
                 label: str) -> None:
        if not entries:
            raise ValueError("no SSL certificate specified")
        self.label = label
        self.bind_opts = bind_opts
        self.resolve = resolve
        self.strict = bool(bind_opts.get("strict-sni"))
        self.entries: list[Entry] = []
        self.exact: dict[str, list[Entry]] = {}
        self.wild: dict[str, list[Entry]] = {}
        self.hello_hook: Any = None
        #: the bind lines served by this object (their ``ssl_context`` follows rebuilds)
        self.users: list[Any] = []
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.rebuild(entries)

    # -- building ------------------------------------------------------------------------------
    def build_entry(self, entry: Entry) -> None:
        entry.ctx = server_side_context(entry.ck, entry.opts, self.resolve)
        low, high = version_range(entry.opts)
        entry.low, entry.high = version_number(low), version_number(high)

    def rebuild(self, entries: list[Entry]) -> None:
        """(Re)index the entries and build a new front context; connections already
        established keep the contexts they use."""
        for e in entries:
            if e.ctx is None:
                self.build_entry(e)
        exact: dict[str, list[Entry]] = {}
        wild: dict[str, list[Entry]] = {}
        for e in entries:
            for name in e.sni_names():
                if name.startswith("*."):
                    wild.setdefault(name[2:], []).append(e)
                else:
                    exact.setdefault(name, []).append(e)
        default = entries[0]
        front = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        default.ck.load_into(front)
        opts = dict(default.opts)
        apply_common(front, opts, server_side=True)
        vnames = {v: k for k, v in ossl.VERSIONS.items()}
        front.minimum_version = TLS_VERSION[vnames[min(e.low for e in entries)]]
        front.maximum_version = TLS_VERSION[vnames[max(e.high for e in entries)]]
        assert default.ctx is not None
        front.verify_mode = default.ctx.verify_mode
        for key in ("ca-file", "ca-verify-file"):
            if opts.get(key):
                front.load_verify_locations(cafile=self.resolve(opts[key]))
        front.sni_callback = self._sni
        if self.hello_hook is not None:
            front._msg_callback = self.hello_hook  # type: ignore[attr-defined]
        self.entries, self.exact, self.wild, self.context = entries, exact, wild, front

    def capture_hello(self, hook: Any) -> None:
        """Hand every ClientHello to ``hook`` (ssl's message callback signature)."""
        self.hello_hook = hook
        self.context._msg_callback = hook  # type: ignore[attr-defined]

    # -- selecting -----------------------------------------------------------------------------
    def select(self, name: str | None) -> Entry | None:
        """The entry serving ``name``; the default one for no SNI; None with strict-sni
        when nothing matches."""
        if name:
            name = name.lower().rstrip(".")
            for e in self.exact.get(name, ()):
                if name not in e.negative:
                    return e
            _, _, parent = name.partition(".")
            for e in self.wild.get(parent, ()):
                if name not in e.negative:
                    return e
        if self.strict:
            return None
        return self.entries[0]

    def _sni(self, obj: Any, name: str | None, _ctx: ssl.SSLContext) -> int | None:
        entry = self.select(name)
        if SSL_TRACE.on:
            trace_sni(obj, name, entry is None)
        if entry is None:
            return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
        obj.hapx_entry = entry
        obj.hapx_sni = name
        version = ossl.negotiated_version(obj)
        if not entry.low <= version <= entry.high:
            return ssl.ALERT_DESCRIPTION_PROTOCOL_VERSION
        assert entry.ctx is not None
        obj.context = entry.ctx
        opts = entry.opts
        ossl.conn_set_verify(obj, VERIFY[opts.get("verify") or "none"])
        if opts.get("ciphers"):
            ossl.conn_set_ciphers(obj, opts["ciphers"])
        if opts.get("ciphersuites"):
            ossl.conn_set_ciphersuites(obj, opts["ciphersuites"])
        if opts.get("sigalgs"):
            ossl.conn_set_sigalgs(obj, opts["sigalgs"])
        return None
