"""Per-certificate TLS options on QUIC binds: what the TLS plugin's options of a certificate
entry (the bind line, its ``crt-list`` line or ``ssl-f-use`` line, the global
``ssl-default-bind-*`` settings, layered as on TCP binds) mean for aioquic's TLS 1.3 stack,
applied when the ClientHello's SNI chose the entry.

Applied: ``ciphersuites`` (the TLS 1.3 suites aioquic has: TLS_AES_128_GCM_SHA256,
TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256), ``curves`` (P-256, P-384, P-521,
X25519, X448: the key-share groups accepted), ``sigalgs`` (the algorithms the server's
CertificateVerify may use), ``alpn`` (the protocols offered; QUIC needs h3 among them).

Not applicable or refused, with the reason:

- ``ciphers`` (TLS <= 1.2 ciphers): QUIC is TLS 1.3 only; ignored, as by HAProxy;
- ``ssl-max-ver`` below TLSv1.3 / ``force-tlsv12`` ...: QUIC cannot use that certificate
  (a configuration error);
- ``verify optional|required`` (client certificates, with ``ca-file``/``crl-file``):
  aioquic's server only requests a client certificate in its test mode and never verifies
  it against a CA, so hapx refuses the option on QUIC binds rather than accept unverified
  clients (a configuration error);
- a list naming only suites/groups/algorithms aioquic lacks (e.g. TLS_AES_128_CCM_SHA256,
  brainpool curves) is a configuration error; names it lacks in a list that has others
  are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aioquic.tls import CipherSuite, Group, SignatureAlgorithm

_SUITES = {
    "TLS_AES_128_GCM_SHA256": CipherSuite.AES_128_GCM_SHA256,
    "TLS_AES_256_GCM_SHA384": CipherSuite.AES_256_GCM_SHA384,
    "TLS_CHACHA20_POLY1305_SHA256": CipherSuite.CHACHA20_POLY1305_SHA256,
}
#: OpenSSL's TLS 1.3 suite names aioquic lacks (valid words, left out)
_OTHER_SUITES = frozenset({"TLS_AES_128_CCM_SHA256", "TLS_AES_128_CCM_8_SHA256"})
_GROUPS = {
    "p-256": Group.SECP256R1, "prime256v1": Group.SECP256R1, "secp256r1": Group.SECP256R1,
    "p-384": Group.SECP384R1, "secp384r1": Group.SECP384R1,
    "p-521": Group.SECP521R1, "secp521r1": Group.SECP521R1,
    "x25519": Group.X25519, "x448": Group.X448,
}
_SIGALGS = {
    "ecdsa+sha256": SignatureAlgorithm.ECDSA_SECP256R1_SHA256,
    "ecdsa_secp256r1_sha256": SignatureAlgorithm.ECDSA_SECP256R1_SHA256,
    "ecdsa+sha384": SignatureAlgorithm.ECDSA_SECP384R1_SHA384,
    "ecdsa_secp384r1_sha384": SignatureAlgorithm.ECDSA_SECP384R1_SHA384,
    "ecdsa+sha512": SignatureAlgorithm.ECDSA_SECP521R1_SHA512,
    "ecdsa_secp521r1_sha512": SignatureAlgorithm.ECDSA_SECP521R1_SHA512,
    "ed25519": SignatureAlgorithm.ED25519,
    "ed448": SignatureAlgorithm.ED448,
    "rsa-pss+sha256": SignatureAlgorithm.RSA_PSS_RSAE_SHA256,
    "rsa_pss_rsae_sha256": SignatureAlgorithm.RSA_PSS_RSAE_SHA256,
    "rsa-pss+sha384": SignatureAlgorithm.RSA_PSS_RSAE_SHA384,
    "rsa_pss_rsae_sha384": SignatureAlgorithm.RSA_PSS_RSAE_SHA384,
    "rsa-pss+sha512": SignatureAlgorithm.RSA_PSS_RSAE_SHA512,
    "rsa_pss_rsae_sha512": SignatureAlgorithm.RSA_PSS_RSAE_SHA512,
    "rsa+sha256": SignatureAlgorithm.RSA_PKCS1_SHA256,
    "rsa_pkcs1_sha256": SignatureAlgorithm.RSA_PKCS1_SHA256,
    "rsa+sha384": SignatureAlgorithm.RSA_PKCS1_SHA384,
    "rsa_pkcs1_sha384": SignatureAlgorithm.RSA_PKCS1_SHA384,
    "rsa+sha512": SignatureAlgorithm.RSA_PKCS1_SHA512,
    "rsa_pkcs1_sha512": SignatureAlgorithm.RSA_PKCS1_SHA512,
}


class QuicTLSError(ValueError):
    """A certificate's TLS options that a QUIC bind cannot honour."""


@dataclass(frozen=True)
class QuicTLSOptions:
    """What one certificate entry sets in aioquic's TLS context (None: its default)."""

    cipher_suites: tuple[CipherSuite, ...] | None = None
    groups: tuple[Group, ...] | None = None
    sigalgs: frozenset[SignatureAlgorithm] | None = None
    alpn: tuple[str, ...] | None = None

    @property
    def empty(self) -> bool:
        return self == _NONE

    def apply(self, tls: Any) -> None:
        """Set them on the aioquic ``tls.Context`` of a connection, before it handles
        the ClientHello."""
        if self.cipher_suites is not None:
            tls._cipher_suites = list(self.cipher_suites)
        if self.groups is not None:
            tls._supported_groups = list(self.groups)
        if self.alpn is not None:
            tls._alpn_protocols = list(self.alpn)
        if self.sigalgs is not None:
            allowed = self.sigalgs
            own = type(tls)._signature_algorithms_for_private_key

            def sigalgs() -> list[Any]:
                return [a for a in own(tls) if a in allowed]

            tls._signature_algorithms_for_private_key = sigalgs


_NONE = QuicTLSOptions()


def _pick(text: str, table: dict[str, Any], other: frozenset[str], what: str, kw: str,
          fold: bool) -> tuple[Any, ...]:
    out: list[Any] = []
    for word in (w.strip() for w in text.split(":")):
        if not word:
            continue
        key = word.lower() if fold else word
        if key in table:
            if table[key] not in out:
                out.append(table[key])
        elif key not in other:
            raise QuicTLSError(f"'{kw} {text}': unknown {what} '{word}'")
    if not out:
        raise QuicTLSError(f"'{kw} {text}': none of these {what}s is available to QUIC "
                           "(aioquic)")
    return tuple(out)


def compile_options(opts: dict[str, Any]) -> QuicTLSOptions:
    """The QUIC meaning of a certificate entry's merged TLS options (QuicTLSError when a
    QUIC bind cannot honour them)."""
    verify = opts.get("verify") or "none"
    if verify != "none":
        raise QuicTLSError(f"'verify {verify}': client certificates cannot be verified on "
                           "QUIC listeners (aioquic has no client certificate "
                           "verification)")
    high = opts.get("ssl-max-ver")
    forced = [k for k in opts if k.startswith("force-") and k != "force-tlsv13"]
    if (high and high != "TLSv1.3") or forced or opts.get("no-tlsv13"):
        raise QuicTLSError("QUIC needs TLS 1.3, which these options exclude")
    suites = groups = alpn = None
    sigalgs = None
    if opts.get("ciphersuites"):
        suites = _pick(opts["ciphersuites"], _SUITES, _OTHER_SUITES, "cipher suite",
                       "ciphersuites", False)
    if opts.get("curves"):
        groups = _pick(opts["curves"], _GROUPS, frozenset(), "curve", "curves", True)
    if opts.get("sigalgs"):
        sigalgs = frozenset(_pick(opts["sigalgs"], _SIGALGS, frozenset(),
                                  "signature algorithm", "sigalgs", True))
    if opts.get("alpn") and not opts.get("no-alpn"):
        alpn = tuple(opts["alpn"])
        if "h3" not in alpn:
            raise QuicTLSError(f"'alpn {','.join(alpn)}': a QUIC listener speaks HTTP/3 "
                               "only: 'alpn' must include 'h3'")
    return QuicTLSOptions(suites, groups, sigalgs, alpn)


#: compiled options by certificate entry (entries added at run time compile on first use)
_CACHE: dict[int, tuple[Any, QuicTLSOptions | None]] = {}


def options_of(entry: Any) -> QuicTLSOptions | None:
    """The compiled options of a certificate entry; None when a QUIC bind cannot honour
    them (the handshake is then refused)."""
    got = _CACHE.get(id(entry))
    if got is None or got[0] is not entry:
        try:
            opts: QuicTLSOptions | None = compile_options(entry.opts)
        except QuicTLSError:
            opts = None
        got = _CACHE[id(entry)] = (entry, opts)
    return got[1]
