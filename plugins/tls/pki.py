"""Certificate files: PEM bundles (leaf, chain and key in one file, or the key beside it in
``<file>.key``), parsed with ``cryptography`` for the names they serve and their dates, and
turned into :class:`ssl.SSLContext` objects through a private temporary file (Python's ssl
loads certificates from files only)."""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

#: files of a crt directory that are companions, not certificates
COMPANIONS = (".key", ".ocsp", ".issuer", ".sctl", ".crl")


class PkiError(ValueError):
    """A certificate or key that cannot be used (the message is HAProxy-like)."""


@dataclass
class CertKey:
    """One certificate with its key and chain, as loaded from ``path``."""

    path: str
    certs: list[x509.Certificate]
    key_pem: bytes
    key_path: str | None = None
    extra: dict[str, bytes] = field(default_factory=dict)

    @property
    def leaf(self) -> x509.Certificate:
        return self.certs[0]

    @property
    def names(self) -> list[str]:
        """DNS names of the SAN extension, else the CN (lower case)."""
        try:
            san = self.leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)
            names = [n.lower() for n in san.value.get_values_for_type(x509.DNSName)]
            if names:
                return names
        except x509.ExtensionNotFound:
            pass
        return [str(a.value).lower() for a in
                self.leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]

    @property
    def key_type(self) -> str:
        key = self.leaf.public_key()
        if isinstance(key, ec.EllipticCurvePublicKey):
            return "ECDSA"
        if isinstance(key, rsa.RSAPublicKey):
            return "RSA"
        return "other"

    @property
    def not_after(self) -> datetime:
        return self.leaf.not_valid_after_utc

    @property
    def not_before(self) -> datetime:
        return self.leaf.not_valid_before_utc

    def pem(self) -> bytes:
        """The bundle as HAProxy's ``dump ssl cert`` shows it: certificates, then the key."""
        out = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in self.certs)
        return out + self.key_pem

    def load_into(self, ctx: object) -> None:
        """``ctx.load_cert_chain`` from memory (a 0600 temporary file, removed at once)."""
        fd, tmp = tempfile.mkstemp(prefix="hapx-crt-", suffix=".pem")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(self.pem())
            ctx.load_cert_chain(tmp)  # type: ignore[attr-defined]
        finally:
            os.unlink(tmp)


_PEM = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----.+?-----END \1-----", re.S)


def _split_pem(data: bytes) -> tuple[list[x509.Certificate], bytes | None]:
    certs: list[x509.Certificate] = []
    key: bytes | None = None
    for m in _PEM.finditer(data):
        label = m.group(1)
        if label == b"CERTIFICATE":
            certs.append(x509.load_pem_x509_certificate(m.group(0)))
        elif label.endswith(b"PRIVATE KEY") and key is None:
            key = m.group(0) + b"\n"
    return certs, key


def parse_bundle(path: str, data: bytes, key_data: bytes | None = None,
                 key_path: str | None = None) -> CertKey:
    """A CertKey from PEM text; ``key_data`` overrides a key found in the bundle."""
    try:
        certs, key = _split_pem(data)
    except ValueError as exc:
        raise PkiError(f"unable to load certificate from file '{path}': {exc}") from None
    if not certs:
        raise PkiError(f"unable to load certificate from file '{path}': no certificate "
                       "found.")
    if key_data is not None:
        key = key_data
    if key is None:
        raise PkiError(f"No Private Key found in '{path}.key'.")
    try:
        pkey = serialization.load_pem_private_key(key, password=None)
    except (ValueError, TypeError) as exc:
        raise PkiError(f"unable to load private key of '{path}': {exc}") from None
    pub = serialization.PublicFormat.SubjectPublicKeyInfo
    enc = serialization.Encoding.DER
    if pkey.public_key().public_bytes(enc, pub) != certs[0].public_key().public_bytes(enc, pub):
        raise PkiError(f"inconsistencies between private key and certificate loaded from "
                       f"PEM file '{path}'.")
    key_pem = pkey.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())
    return CertKey(path, certs, key_pem, key_path)


def load_file(name: str, path: str, key_path: str | None = None) -> CertKey:
    """Load ``path`` (shown as ``name``); the key comes from ``key_path``, the bundle, or
    ``<path>.key`` / ``<path without extension>.key``."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise PkiError(f"unable to stat SSL certificate from file '{path}' : "
                       f"{exc.strerror}.") from None
    key_data = None
    if key_path is None:
        if b"PRIVATE KEY-----" not in data:
            for cand in (path + ".key", os.path.splitext(path)[0] + ".key"):
                if os.path.exists(cand):
                    key_path = cand
                    break
    if key_path is not None:
        try:
            with open(key_path, "rb") as f:
                key_data = f.read()
        except OSError as exc:
            raise PkiError(f"unable to load key file '{key_path}' : {exc.strerror}.") from None
    return parse_bundle(name, data, key_data, key_path)


def dir_files(path: str) -> list[str]:
    """Certificate files of a crt directory, in name order."""
    out = []
    for entry in sorted(os.listdir(path)):
        full = os.path.join(path, entry)
        if entry.startswith(".") or entry.endswith(COMPANIONS) or not os.path.isfile(full):
            continue
        out.append(full)
    return out
