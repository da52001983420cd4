"""Test certificates made with ``cryptography``: a CA, leaves (ECDSA or RSA) with SAN lists,
wildcards, expired ones, client certificates; written as PEM bundles (cert + key) and
separate files.  Never real keys."""

from __future__ import annotations

import ipaddress
import socket
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_PEM = serialization.Encoding.PEM


def _key(kind: str):  # noqa: ANN202
    return ec.generate_private_key(ec.SECP256R1()) if kind == "ec" else \
        rsa.generate_private_key(65537, 2048)


def key_pem(key) -> bytes:  # noqa: ANN001
    return key.private_bytes(_PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@dataclass
class Leaf:
    cert: x509.Certificate
    key: object

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(_PEM)

    @property
    def key_pem(self) -> bytes:
        return key_pem(self.key)

    @property
    def bundle(self) -> bytes:
        return self.cert_pem + self.key_pem

    @property
    def cn(self) -> str:
        return str(self.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


class CA:
    def __init__(self, name: str = "hapx test root", kind: str = "ec") -> None:
        self.key = _key(kind)
        now = datetime.now(UTC)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self.cert = (
            x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False,
                                         decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()),
                           critical=False)
            .sign(self.key, hashes.SHA256()))

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(_PEM)

    def leaf(self, names: list[str], kind: str = "ec", *, client: bool = False,
             days: tuple[int, int] = (-1, 10), cn: str | None = None,
             serial: int | None = None) -> Leaf:
        key = _key(kind)
        now = datetime.now(UTC)
        alt: list[x509.GeneralName] = []
        for n in names:
            try:
                alt.append(x509.IPAddress(ipaddress.ip_address(n)))
            except ValueError:
                alt.append(x509.DNSName(n))
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                                        cn or names[0])]))
            .issuer_name(self.cert.subject).public_key(key.public_key())
            .serial_number(serial or x509.random_serial_number())
            .not_valid_before(now + timedelta(days=days[0]) - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=days[1]))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.CLIENT_AUTH if client else
                 ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                self.key.public_key()), critical=False))
        if alt:
            builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
        return Leaf(builder.sign(self.key, hashes.SHA256()), key)


def write(directory: Path, files: dict[str, bytes]) -> dict[str, Path]:
    out = {}
    for name, data in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        out[name] = path
    return out


def client_ctx(cafile: str | Path | None = None, *, alpn: list[str] | None = None,
               maxv: ssl.TLSVersion | None = None, minv: ssl.TLSVersion | None = None,
               cert: tuple[str, str] | None = None, check_hostname: bool = True
               ) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(cafile) if cafile else None)
    if cafile is None:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ctx.check_hostname = check_hostname
    if alpn:
        ctx.set_alpn_protocols(alpn)
    if maxv:
        ctx.maximum_version = maxv
    if minv:
        ctx.minimum_version = minv
    if cert:
        ctx.load_cert_chain(*cert)
    return ctx


def peer(port: int, sni: str | None, ctx: ssl.SSLContext, host: str = "127.0.0.1"
         ) -> dict:
    """Handshake and return what the client saw: cn, alpn, version, the DER certificate."""
    with socket.create_connection((host, port), 5) as raw, \
            ctx.wrap_socket(raw, server_hostname=sni) as tls:
        der = tls.getpeercert(binary_form=True)
        cert = x509.load_der_x509_certificate(der)
        return {"cn": str(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value),
                "alpn": tls.selected_alpn_protocol(), "version": tls.version(),
                "cipher": tls.cipher()[0], "cert": cert}
