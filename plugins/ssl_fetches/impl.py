"""Processes of the TLS fetches: the client connection's TLS object is ``strm.sess.ssl`` (an
:class:`ssl.SSLObject`, with ``hapx_sni`` set by the TLS plugin's SNI callback); the
``req.ssl_*`` fetches parse the ClientHello found in the request buffer."""

from __future__ import annotations

import hashlib
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from hapx.core.records import SmpType
from hapx.core.sample.types import F_MAY_CHANGE, Sample

from .hello import Incomplete, parse_record

_SHORT = {NameOID.COUNTRY_NAME: "C", NameOID.STATE_OR_PROVINCE_NAME: "ST",
          NameOID.LOCALITY_NAME: "L", NameOID.ORGANIZATION_NAME: "O",
          NameOID.ORGANIZATIONAL_UNIT_NAME: "OU", NameOID.COMMON_NAME: "CN",
          NameOID.EMAIL_ADDRESS: "emailAddress"}


def _tls(strm: Any) -> Any:
    return strm.sess.ssl


def _str(v: str | None) -> Sample | None:
    return None if v is None else Sample(SmpType.STR, v)


def _peer(strm: Any) -> x509.Certificate | None:
    obj = _tls(strm)
    if obj is None:
        return None
    cache = getattr(obj, "hapx_peer", False)
    if cache is False:
        der = obj.getpeercert(binary_form=True)
        cache = x509.load_der_x509_certificate(der) if der else None
        obj.hapx_peer = cache
    return cache


def dn(name: x509.Name, entry: str | None = None, occ: int | None = None) -> str | None:
    """OpenSSL's oneline form ``/C=FR/O=x/CN=y``, or one entry's value (occurrence ``occ``,
    1 = first, negative = from the end)."""
    attrs = [(_SHORT.get(a.oid, a.oid.dotted_string), str(a.value)) for a in name]
    if not entry:
        return "".join(f"/{k}={v}" for k, v in attrs)
    values = [v for k, v in attrs if k == entry or k == entry.upper()]
    if not values:
        return None
    occ = occ or 1
    try:
        return values[occ - 1] if occ > 0 else values[occ]
    except IndexError:
        return None


def _asn1_time(cert: x509.Certificate, after: bool) -> str:
    t = cert.not_valid_after_utc if after else cert.not_valid_before_utc
    return t.strftime("%y%m%d%H%M%SZ")


def _conn(fn: Any) -> Any:
    def process(args: list[Any], strm: Any) -> Sample | None:
        obj = _tls(strm)
        return None if obj is None else fn(obj)
    return process


def _bconn(fn: Any) -> Any:
    """A fetch on the server connection's TLS object (``strm.srv_conn.ssl``)."""
    def process(args: list[Any], strm: Any) -> Sample | None:
        sc = strm.srv_conn
        obj = sc.ssl if sc is not None else None
        return None if obj is None else fn(obj)
    return process


def _ssl_bc(args: list[Any], strm: Any) -> Sample | None:
    sc = strm.srv_conn
    return Sample(SmpType.BOOL, sc is not None and sc.ssl is not None)


def _cert(fn: Any) -> Any:
    def process(args: list[Any], strm: Any) -> Sample | None:
        cert = _peer(strm)
        return None if cert is None else fn(cert, args)
    return process


def _serial(cert: x509.Certificate, _args: Any) -> Sample:
    n = cert.serial_number
    return Sample(SmpType.BIN, n.to_bytes(max(1, (n.bit_length() + 7) // 8), "big"))


def _hello(fn: Any) -> Any:
    def process(args: list[Any], strm: Any) -> Sample | None:
        try:
            hello = parse_record(bytes(strm.req_buffer))
        except Incomplete:
            return _more(strm)
        except (ValueError, IndexError):
            return None
        return fn(hello)
    return process


def _more(strm: Any) -> Sample | None:
    """Nothing yet: an ACL answers 'unknown' until the inspect delay ends."""
    return Sample(SmpType.STR, "", F_MAY_CHANGE)


def _bin_or_none(v: bytes | None) -> Sample | None:
    return None if v is None else Sample(SmpType.BIN, v)


def _sni_of(hello: Any) -> Sample | None:
    return _str(hello.sni)


PROCESSES = {
    "ssl_fc": lambda args, strm: Sample(SmpType.BOOL, _tls(strm) is not None),
    "ssl_fc_sni": _conn(lambda o: _str(getattr(o, "hapx_sni", None))),
    "ssl_fc_has_sni": _conn(lambda o: Sample(SmpType.BOOL,
                                             bool(getattr(o, "hapx_sni", None)))),
    "ssl_fc_protocol": _conn(lambda o: _str(o.version())),
    "ssl_fc_cipher": _conn(lambda o: _str(o.cipher()[0])),
    "ssl_fc_alpn": _conn(lambda o: _str(o.selected_alpn_protocol())),
    "ssl_fc_is_resumed": _conn(lambda o: Sample(SmpType.BOOL, bool(o.session_reused))),
    "ssl_fc_use_keysize": _conn(lambda o: Sample(SmpType.SINT, o.cipher()[2])),
    "ssl_fc_alg_keysize": _conn(lambda o: Sample(SmpType.SINT, o.cipher()[2])),
    "ssl_fc_has_crt": lambda args, strm: Sample(SmpType.BOOL, _peer(strm) is not None),
    "ssl_c_used": lambda args, strm: Sample(SmpType.BOOL, _peer(strm) is not None),
    # a certificate that fails verification aborts the handshake: a present one verified
    "ssl_c_verify": _conn(lambda o: Sample(SmpType.SINT, 0)),
    "ssl_c_err": _conn(lambda o: Sample(SmpType.SINT, 0)),
    "ssl_c_ca_err": _conn(lambda o: Sample(SmpType.SINT, 0)),
    "ssl_c_s_dn": _cert(lambda c, a: _str(dn(c.subject, a[0] if a else None,
                                               a[1] if len(a) > 1 else None))),
    "ssl_c_i_dn": _cert(lambda c, a: _str(dn(c.issuer, a[0] if a else None,
                                               a[1] if len(a) > 1 else None))),
    "ssl_c_serial": _cert(_serial),
    "ssl_c_notafter": _cert(lambda c, a: _str(_asn1_time(c, True))),
    "ssl_c_notbefore": _cert(lambda c, a: _str(_asn1_time(c, False))),
    "ssl_c_sha1": _cert(lambda c, a: Sample(SmpType.BIN, hashlib.sha1(
        c.public_bytes(Encoding.DER)).digest())),
    "ssl_bc": _ssl_bc,
    "ssl_bc_protocol": _bconn(lambda o: _str(o.version())),
    "ssl_bc_cipher": _bconn(lambda o: _str(o.cipher()[0])),
    "ssl_bc_alpn": _bconn(lambda o: _str(o.selected_alpn_protocol())),
    "ssl_bc_is_resumed": _bconn(lambda o: Sample(SmpType.BOOL, bool(o.session_reused))),
    "req.ssl_sni": _hello(_sni_of),
    "req.ssl_ver": _hello(lambda h: Sample(SmpType.SINT, ((h.version >> 8) << 16)
                                           | (h.version & 0xFF))),
    "req.ssl_alpn": _hello(lambda h: _str(h.alpn[0]) if h.alpn else None),
    "req.ssl_hello_type": _hello(lambda h: Sample(SmpType.SINT, 1)),
    "req.ssl_st_ext": _hello(lambda h: Sample(SmpType.SINT, 1 if 35 in h.extensions else 0)),
    "req.ssl_ec_ext": _hello(lambda h: Sample(SmpType.BOOL, 10 in h.extensions)),
    "req.ssl_cipherlist": _hello(lambda h: Sample(SmpType.BIN, h.ciphers)),
    "req.ssl_sigalgs": _hello(lambda h: _bin_or_none(h.sigalgs)),
    "req.ssl_keyshare_groups": _hello(lambda h: _bin_or_none(h.keyshare_groups)),
    "req.ssl_supported_groups": _hello(lambda h: _bin_or_none(h.groups)),
}
