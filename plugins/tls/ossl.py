"""The few OpenSSL calls Python's :mod:`ssl` does not expose (TLS 1.3 cipher suites, groups,
signature algorithms, per-connection settings chosen after the SNI), made with ctypes on the
``SSL_CTX``/``SSL`` pointers of Python's own objects, in the libssl :mod:`_ssl` is linked to.

:func:`check` verifies the pointer layout once (``SSL_CTX_get_options`` must equal
``SSLContext.options``); every setter raises :class:`OsslError` when OpenSSL refuses a value.
"""

from __future__ import annotations

import _ssl  # noqa: F401 - loads the libssl we must talk to
import ctypes
import ipaddress
import ssl
from functools import cache
from typing import Any

_OFF_CTX = 16  # PyObject_HEAD, then SSL_CTX *ctx (PySSLContext)
_OFF_SSL = 24  # PyObject_HEAD, PyObject *Socket, then SSL *ssl (PySSLSocket)
_OFF_SESSION = 16  # PyObject_HEAD, then SSL_SESSION *session (PySSLSession)
_CTRL_SET_GROUPS_LIST = 92
_CTRL_SET_SIGALGS_LIST = 98
_CTRL_SET_CLIENT_SIGALGS_LIST = 101
_CTRL_SET_MIN_PROTO = 123
_CTRL_SET_MAX_PROTO = 124

VERSIONS = {"SSLv3": 0x300, "TLSv1.0": 0x301, "TLSv1.1": 0x302, "TLSv1.2": 0x303,
            "TLSv1.3": 0x304}


class OsslError(ValueError):
    """OpenSSL refused a setting."""


@cache
def _lib() -> ctypes.CDLL:
    path = "libssl.so.3"
    try:
        with open("/proc/self/maps", encoding="ascii", errors="replace") as maps:
            for line in maps:
                if "/libssl.so" in line:
                    path = line.split()[-1]
                    break
    except OSError:
        pass
    lib = ctypes.CDLL(path)
    vp, cp, c_int, c_long = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_long
    lib.SSL_CTX_get_options.argtypes = [vp]
    lib.SSL_CTX_get_options.restype = ctypes.c_uint64
    lib.SSL_CTX_set_ciphersuites.argtypes = [vp, cp]
    lib.SSL_CTX_ctrl.argtypes = [vp, c_int, c_long, vp]
    lib.SSL_CTX_ctrl.restype = c_long
    lib.SSL_ctrl.argtypes = [vp, c_int, c_long, vp]
    lib.SSL_ctrl.restype = c_long
    lib.SSL_get_SSL_CTX.argtypes = [vp]
    lib.SSL_get_SSL_CTX.restype = vp
    lib.SSL_version.argtypes = [vp]
    lib.SSL_set_cipher_list.argtypes = [vp, cp]
    lib.SSL_set_ciphersuites.argtypes = [vp, cp]
    lib.SSL_set_verify.argtypes = [vp, c_int, vp]
    lib.SSL_set_verify.restype = None
    lib.SSL_set1_host.argtypes = [vp, cp]
    lib.SSL_get0_param.argtypes = [vp]
    lib.SSL_get0_param.restype = vp
    lib.SSL_SESSION_is_resumable.argtypes = [vp]
    lib.SSL_SESSION_get_time.argtypes = [vp]
    lib.SSL_SESSION_get_time.restype = c_long
    crypto = ctypes.CDLL(path.replace("libssl", "libcrypto"))
    crypto.X509_VERIFY_PARAM_set1_ip_asc.argtypes = [vp, cp]
    lib.hapx_crypto = crypto
    return lib


def session_ptr(sess: ssl.SSLSession) -> int:
    return int(ctypes.c_void_p.from_address(id(sess) + _OFF_SESSION).value or 0)


def ctx_ptr(ctx: ssl.SSLContext) -> int:
    return int(ctypes.c_void_p.from_address(id(ctx) + _OFF_CTX).value or 0)


def ssl_ptr(obj: Any) -> int:
    """The ``SSL *`` of an :class:`ssl.SSLObject` (asyncio's) or :class:`ssl.SSLSocket`."""
    inner = obj._sslobj
    return int(ctypes.c_void_p.from_address(id(inner) + _OFF_SSL).value or 0)


@cache
def check() -> None:
    """Raise :class:`OsslError` when this Python's object layout is not the expected one."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.options |= ssl.OP_NO_TICKET
    if _lib().SSL_CTX_get_options(ctx_ptr(ctx)) != int(ctx.options):
        raise OsslError("cannot reach OpenSSL's SSL_CTX from Python's ssl module")
    obj = ctx.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_side=True)
    if _lib().SSL_get_SSL_CTX(ssl_ptr(obj)) != ctx_ptr(ctx):
        raise OsslError("cannot reach OpenSSL's SSL from Python's ssl module")


def _ok(rc: int, what: str, value: str) -> None:
    if rc != 1:
        raise OsslError(f"unable to set {what} to '{value}'")


def ctx_set_ciphersuites(ctx: ssl.SSLContext, value: str) -> None:
    _ok(_lib().SSL_CTX_set_ciphersuites(ctx_ptr(ctx), value.encode()), "TLS 1.3 cipher suite",
        value)


def _ctx_ctrl_str(ctx: ssl.SSLContext, op: int, value: str, what: str) -> None:
    buf = ctypes.create_string_buffer(value.encode())
    _ok(_lib().SSL_CTX_ctrl(ctx_ptr(ctx), op, 0, ctypes.cast(buf, ctypes.c_void_p)), what,
        value)


def ctx_set_curves(ctx: ssl.SSLContext, value: str) -> None:
    _ctx_ctrl_str(ctx, _CTRL_SET_GROUPS_LIST, value, "curves list")


def ctx_set_sigalgs(ctx: ssl.SSLContext, value: str) -> None:
    _ctx_ctrl_str(ctx, _CTRL_SET_SIGALGS_LIST, value, "signature algorithm list")


def ctx_set_client_sigalgs(ctx: ssl.SSLContext, value: str) -> None:
    _ctx_ctrl_str(ctx, _CTRL_SET_CLIENT_SIGALGS_LIST, value, "client signature algorithm list")


# -- per connection (from the SNI callback) ------------------------------------------------------

def negotiated_version(obj: Any) -> int:
    """The protocol version already chosen when the SNI callback runs (0x303, 0x304 ...)."""
    return int(_lib().SSL_version(ssl_ptr(obj)))


def conn_set_ciphers(obj: Any, value: str) -> None:
    _ok(_lib().SSL_set_cipher_list(ssl_ptr(obj), value.encode()), "cipher list", value)


def conn_set_ciphersuites(obj: Any, value: str) -> None:
    _ok(_lib().SSL_set_ciphersuites(ssl_ptr(obj), value.encode()), "TLS 1.3 cipher suite",
        value)


def conn_set_curves(obj: Any, value: str) -> None:
    buf = ctypes.create_string_buffer(value.encode())
    _ok(_lib().SSL_ctrl(ssl_ptr(obj), _CTRL_SET_GROUPS_LIST, 0,
                        ctypes.cast(buf, ctypes.c_void_p)), "curves list", value)


def conn_set_sigalgs(obj: Any, value: str) -> None:
    buf = ctypes.create_string_buffer(value.encode())
    _ok(_lib().SSL_ctrl(ssl_ptr(obj), _CTRL_SET_SIGALGS_LIST, 0,
                        ctypes.cast(buf, ctypes.c_void_p)), "signature algorithm list", value)


def conn_set1_host(obj: Any, host: str) -> None:
    """The name (or IP address) the peer's certificate must carry (checked during the
    handshake, as OpenSSL does for Python's ``check_hostname``)."""
    lib = _lib()
    try:
        ipaddress.ip_address(host)
    except ValueError:
        _ok(lib.SSL_set1_host(ssl_ptr(obj), host.encode()), "verify host", host)
        return
    _ok(lib.hapx_crypto.X509_VERIFY_PARAM_set1_ip_asc(lib.SSL_get0_param(ssl_ptr(obj)),
                                                      host.encode()), "verify host", host)


def session_resumable(sess: ssl.SSLSession) -> bool:
    """OpenSSL's SSL_SESSION_is_resumable (a TLS 1.3 session is, once a ticket came)."""
    ptr = session_ptr(sess)
    lib = _lib()
    if not ptr or lib.SSL_SESSION_get_time(ptr) != sess.time:
        return False
    return bool(lib.SSL_SESSION_is_resumable(ptr))


def conn_set_verify(obj: Any, mode: ssl.VerifyMode) -> None:
    """SSL_VERIFY_NONE / PEER (optional) / PEER|FAIL_IF_NO_PEER_CERT (required)."""
    flags = {ssl.CERT_NONE: 0, ssl.CERT_OPTIONAL: 1, ssl.CERT_REQUIRED: 3}[mode]
    _lib().SSL_set_verify(ssl_ptr(obj), flags, None)
