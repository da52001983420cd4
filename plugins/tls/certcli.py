"""Runtime API commands on certificates, with HAProxy's outputs: ``show ssl cert [<name>]``,
``show ssl sni [-f <frontend>] [-A] [-t <offset>]``, ``dump ssl cert <name>``, ``new ssl
cert <name>``, ``set ssl cert <name> <<`` (PEM payload), ``commit ssl cert <name>``,
``abort ssl cert <name>``, ``del ssl cert <name>``.

One transaction at a time, as in HAProxy (``set`` starts or updates it, ``commit`` applies
it, ``abort`` drops it).  A commit builds every new TLS context first, then swaps them in:
handshakes that start afterwards get the new certificate, established connections keep
the context they were made with.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import NameOID
from hapx.core.runtime.cli_api import CliError, cli_command

from .pki import CertKey, PkiError, _split_pem, parse_bundle
from .sni import Entry

EXT = "tls"
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_SHORT = {NameOID.COUNTRY_NAME: "C", NameOID.STATE_OR_PROVINCE_NAME: "ST",
          NameOID.LOCALITY_NAME: "L", NameOID.ORGANIZATION_NAME: "O",
          NameOID.ORGANIZATIONAL_UNIT_NAME: "OU", NameOID.COMMON_NAME: "CN",
          NameOID.EMAIL_ADDRESS: "emailAddress"}


@dataclass
class Txn:
    """The ongoing certificate transaction: ``new`` is the content being prepared (certs
    may be empty, key None while a payload lacked them)."""

    name: str
    certs: list[x509.Certificate]
    key_pem: bytes | None


# -- the state ------------------------------------------------------------------------------------

def _state(cli: Any) -> dict[str, Any]:
    state = cli.config.ext.get(EXT)
    if state is None:
        raise CliError("No SSL certificate is configured.\n")
    return state


def _names(state: dict[str, Any]) -> list[str]:
    """Every certificate store name (the ckch tree, in name order)."""
    cache = state["cache"]
    names = {n for n, ck in cache.by_name.items() if _canonical(cache, n, ck)}
    names |= set(cache.empty)
    return sorted(names)


def _canonical(cache: Any, name: str, ck: Any) -> bool:
    """Aliases of a crt-store entry share one store: list it under its first name."""
    entry = cache.store.get(name)
    return entry is None or entry["refs"][0] == name


def _lookup(state: dict[str, Any], name: str) -> CertKey | None:
    return state["cache"].by_name.get(name)


def _exists(state: dict[str, Any], name: str) -> bool:
    return name in state["cache"].by_name or name in state["cache"].empty


def _users(state: dict[str, Any], ck: CertKey | None) -> tuple[list[Any], list[Any]]:
    """(binds with entries using ck, servers using it)."""
    if ck is None:
        return [], []
    binds = [b for b in state["binds"] if any(e.ck is ck for e in b.entries)]
    servers = [s for s in state.get("servers", ()) if getattr(s, "tls_cert", None) is ck]
    return binds, servers


# -- formatting -------------------------------------------------------------------------------------

def asn1_time(t: datetime) -> str:
    """OpenSSL's ASN1_TIME_print: ``Nov  5 04:36:45 2026 GMT``."""
    return f"{_MONTHS[t.month - 1]} {t.day:2d} {t:%H:%M:%S} {t.year} GMT"


def dn_oneline(name: x509.Name) -> str:
    return "".join(f"/{_SHORT.get(a.oid, a.oid.dotted_string)}={a.value}" for a in name)


def _san(cert: x509.Certificate) -> str:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return ""
    out = []
    for i, gn in enumerate(san):
        if i:
            out.append(", ")
        if isinstance(gn, x509.DNSName):
            out.append(f"DNS:{gn.value}")
    return "".join(out)


def _algo(cert: x509.Certificate) -> str:
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA{key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC{key.curve.key_size}"
    if isinstance(key, dsa.DSAPublicKey):
        return f"DSA{key.key_size}"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "ED25519"
    if isinstance(key, ed448.Ed448PublicKey):
        return "ED448"
    return "unknown"


def _serial(cert: x509.Certificate) -> str:
    n = cert.serial_number
    return n.to_bytes(max(1, (n.bit_length() + 7) // 8), "big").hex().upper()


def cert_detail(certs: list[x509.Certificate]) -> str:
    """HAProxy's show_cert_detail: the leaf's serial, dates, SAN, algorithm, SHA-1
    fingerprint, subject and issuer, then each chain certificate's subject and issuer."""
    if not certs:
        return ""
    leaf = certs[0]
    der = leaf.public_bytes(serialization.Encoding.DER)
    out = [f"Serial: {_serial(leaf)}",
           f"notBefore: {asn1_time(leaf.not_valid_before_utc)}",
           f"notAfter: {asn1_time(leaf.not_valid_after_utc)}",
           f"Subject Alternative Name: {_san(leaf)}",
           f"Algorithm: {_algo(leaf)}",
           f"SHA1 FingerPrint: {hashlib.sha1(der).hexdigest().upper()}",
           f"Subject: {dn_oneline(leaf.subject)}",
           f"Issuer: {dn_oneline(leaf.issuer)}"]
    for ca in certs[1:]:
        out.append(f"Chain Subject: {dn_oneline(ca.subject)}")
        out.append(f"Chain Issuer: {dn_oneline(ca.issuer)}")
    return "\n".join(out) + "\n"


# -- show / dump ------------------------------------------------------------------------------------

def _show_cert(cli: Any, args: list[str]) -> str:
    state = _state(cli)
    txn: Txn | None = state.get("txn")
    if len(args) < 4:
        out = ""
        if txn is not None:
            out += f"# transaction\n*{txn.name}\n"
        out += "# filename\n"
        return out + "".join(f"{n}\n" for n in _names(state))
    name = args[3]
    if name.endswith(".ocsp"):
        raise CliError("OCSP responses are not supported by this version of hapx.\n")
    not_found = "Can't display the certificate: Not found or the certificate is a bundle!\n"
    if name.startswith("*"):
        name = name[1:].removeprefix("\\")
        if txn is None or txn.name != name:
            raise CliError(not_found)
        return (f"Filename: *{name}\nStatus: " +
                ("Empty\n" if not txn.certs else "Uncommitted\n") +
                cert_detail(txn.certs) + "OCSP Response Key: \n")
    name = name.removeprefix("\\")
    if not _exists(state, name):
        raise CliError(not_found)
    ck = _lookup(state, name)
    if ck is None:
        return f"Filename: {name}\nStatus: Empty\nOCSP Response Key: \n"
    binds, servers = _users(state, ck)
    status = "Used" if binds or servers else "Unused"
    return (f"Filename: {name}\nStatus: {status}\n" + cert_detail(ck.certs) +
            "OCSP Response Key: \n")


def _dump_cert(cli: Any, args: list[str]) -> str:
    state = _state(cli)
    not_found = "Can't display the certificate: Not found or the certificate is a bundle!\n"
    if len(args) < 4:
        raise CliError(not_found)
    name = args[3]
    txn: Txn | None = state.get("txn")
    if name.startswith("*"):
        if txn is None or txn.name != name[1:]:
            raise CliError(not_found)
        certs, key = txn.certs, txn.key_pem
    else:
        ck = _lookup(state, name)
        if ck is None:
            raise CliError(not_found)
        certs, key = ck.certs, ck.key_pem
    pem = serialization.Encoding.PEM
    out = _pkcs8(key) if key else b""
    out += b"".join(c.public_bytes(pem) for c in certs)
    return out.decode("ascii")


def _pkcs8(key_pem: bytes) -> bytes:
    """PEM_write_bio_PrivateKey writes PKCS#8."""
    key = serialization.load_pem_private_key(key_pem, password=None)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _offset(text: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if text and text[-1] in units:
        return int(text[:-1]) * units[text[-1]]
    return int(text)


def _sni_type(ck: CertKey) -> str:
    return {"ECDSA": "ecdsa", "RSA": "rsa"}.get(ck.key_type, "dsa")


def sni_lines(fe: Any, bind: Any, tls: Any, expired_before: float | None) -> list[str]:
    """The lines of one bind: exact names in name order, then the default certificate
    (``*``) and the wildcards in name order (their negative filters listed)."""
    exact: list[tuple[str, Entry]] = []
    wild: list[tuple[str, Entry]] = []
    for e in tls.entries:
        for name in e.sni_names():
            if name.startswith("*."):
                wild.append((name[1:], e))
            else:
                exact.append((name, e))
    wild.append(("", tls.entries[0]))
    exact.sort(key=lambda t: t[0].encode())
    wild.sort(key=lambda t: t[0].encode())
    where = f"{fe.name}/{bind.file}:{bind.line}"
    out = []
    for kind, items in ((0, exact), (1, wild)):
        for key, e in items:
            if expired_before is not None and \
                    not e.ck.not_after.timestamp() < expired_before:
                continue
            neg = "".join(f"!{n} " for n in e.negative) if kind == 1 else ""
            out.append(f"{where}\t{'*' if kind else ''}{key}\t{neg or '-'}\t{_sni_type(e.ck)}"
                       f"\t{e.ck.path}\t{asn1_time(e.ck.not_after)}"
                       f"\t{asn1_time(e.ck.not_before)}")
    return out


def _show_sni(cli: Any, args: list[str]) -> str:
    state = _state(cli)
    only = None
    expired: float | None = None
    offset = 0
    i = 3
    while i < len(args):
        word = args[i]
        if word == "-f":
            if i + 1 >= len(args):
                raise CliError("'-f' requires a frontend name!\n")
            only = args[i + 1]
            if not any(fe.name == only for fe in cli.config.frontends):
                raise CliError("Couldn't find the specified frontend!\n")
            i += 1
        elif word == "-A":
            expired = 0.0
        elif word == "-t":
            if i + 1 >= len(args):
                raise CliError("'-t' requires a time offset!\n")
            try:
                offset = _offset(args[i + 1])
            except ValueError:
                raise CliError("'-t' requires a time offset!\n") from None
            i += 1
        else:
            raise CliError("Invalid parameters, 'show ssl sni' only supports '-f', '-A' or "
                           "'-t' options!\n")
        i += 1
    if expired is not None:
        expired = time.time() + offset
    by_bind = {id(b.tls): b for fe in cli.config.frontends for b in fe.binds
               if getattr(b, "tls", None) is not None}
    del state
    lines = ["# Frontend/Bind\tSNI\tNegative Filter\tType\tFilename\tNotAfter\tNotBefore"]
    for fe in cli.config.frontends:
        if only is not None and fe.name != only:
            continue
        for bind in fe.binds:
            tls = getattr(bind, "tls", None)
            if tls is None or id(tls) not in by_bind:
                continue
            lines += sni_lines(fe, bind, tls, expired)
    return "\n".join(lines) + "\n"


# -- changes ------------------------------------------------------------------------------------------

def _new_cert(cli: Any, args: list[str]) -> str:
    if len(args) < 4:
        raise CliError("'new ssl cert' expects a filename\n")
    state = _state(cli)
    name = args[3]
    if _exists(state, name):
        raise CliError(f"Certificate '{name}' already exists!\n")
    state["cache"].empty.add(name)
    return f"New empty certificate store '{name}'!\n"


def _set_cert(cli: Any, args: list[str]) -> str:
    payload = cli.payload
    if len(args) < 4 or not payload:
        raise CliError("'set ssl cert' expects a filename and a certificate as a payload\n")
    state = _state(cli)
    arg = args[3]
    name, part = arg, "pem"
    if arg.endswith(".key") and not _exists(state, arg):
        name, part = arg[:-4], "key"
    txn: Txn | None = state.get("txn")
    if txn is not None and txn.name != name:
        raise CliError(f"The ongoing transaction is about '{txn.name}' but you are trying to "
                       f"set '{name}'\nCan't update {arg}!\n")
    if txn is None:
        if not _exists(state, name):
            raise CliError("Can't replace a certificate which is not referenced by the "
                           f"configuration!\nCan't update {arg}!\n")
        ck = _lookup(state, name)
        base = Txn(name, list(ck.certs) if ck else [], ck.key_pem if ck else None)
    else:
        base = Txn(txn.name, list(txn.certs), txn.key_pem)
    data = payload.encode()
    try:
        certs, key = _split_pem(data)
    except ValueError as exc:
        raise CliError(f"unable to load certificate from '{name}': {exc}\nCan't load the "
                       f"payload\nCan't update {arg}!\n") from None
    if part == "key":
        if key is None:
            raise CliError(f"unable to load the private key from '{arg}'.\nCan't load the "
                           f"payload\nCan't update {arg}!\n")
        base.key_pem = key
    else:
        if not certs:
            raise CliError(f"unable to load certificate from '{name}': no certificate "
                           f"found.\nCan't load the payload\nCan't update {arg}!\n")
        base.certs = certs
        if key is not None:
            base.key_pem = key
    created = txn is None
    state["txn"] = base
    word = "created" if created else "updated"
    return f"Transaction {word} for certificate {name}!\n"


def _abort_cert(cli: Any, args: list[str]) -> str:
    if len(args) < 4:
        raise CliError("'abort ssl cert' expects a filename\n")
    state = _state(cli)
    txn: Txn | None = state.get("txn")
    if txn is None:
        raise CliError("No ongoing transaction!\n")
    if txn.name != args[3]:
        raise CliError(f"The ongoing transaction is about '{txn.name}' but you are trying to "
                       f"abort a transaction for '{args[3]}'\n")
    state["txn"] = None
    return f"Transaction aborted for certificate '{args[3]}'!\n"


def _commit_cert(cli: Any, args: list[str]) -> str:
    if len(args) < 4:
        raise CliError("'commit ssl cert' expects a filename\n")
    state = _state(cli)
    name = args[3]
    txn: Txn | None = state.get("txn")
    if txn is None:
        raise CliError(f"No ongoing transaction! !\nCan't commit {name}!\n")
    if txn.name != name:
        raise CliError(f"The ongoing transaction is about '{txn.name}' but you are trying to "
                       f"set '{name}'\nCan't commit {name}!\n")
    if not txn.certs or txn.key_pem is None:
        raise CliError("The transaction must contain at least a certificate and a private "
                       f"key!\nCan't commit {name}!\n")
    pem = serialization.Encoding.PEM
    data = b"".join(c.public_bytes(pem) for c in txn.certs)
    try:
        new = parse_bundle(name, data, txn.key_pem)
    except PkiError:
        raise CliError(f"inconsistencies between private key and certificate loaded "
                       f"'{name}'.\nCan't commit {name}!\n") from None
    old = _lookup(state, name)
    try:
        dots = replace_cert(state, name, old, new)
    except (ValueError, OSError) as exc:
        return f"Committing {name}\n{exc}\nFailed!\n"
    state["txn"] = None
    return f"Committing {name}{'.' * dots}\nSuccess!\n"


def replace_cert(state: dict[str, Any], name: str, old: CertKey | None, new: CertKey) -> int:
    """Put ``new`` in place of ``old`` everywhere; returns the number of instances (bind
    certificates and servers) rebuilt.  Every context is built before any is swapped in."""
    cache = state["cache"]
    binds, servers = _users(state, old)
    plans = []
    count = 0
    for tls in binds:
        entries = []
        for e in tls.entries:
            if e.ck is old:
                e = Entry(e.ref, new, e.opts, list(e.filters), list(e.negative), kind=e.kind)
                tls.build_entry(e)
                count += 1
            entries.append(e)
        plans.append((tls, entries))
    rebuilt = []
    for srv in servers:
        rebuilt.append((srv, srv.tls_rebuild(new)))
        count += 1
    # swap: from here nothing fails
    for key, value in list(cache.by_name.items()):
        if value is old and old is not None:
            cache.by_name[key] = new
    cache.by_name[name] = new
    cache.empty.discard(name)
    for tls, entries in plans:
        tls.rebuild(entries)
        for bind in tls.users:
            bind.ssl_context = tls.context
    for _srv, apply in rebuilt:
        apply()
    return count


def _del_cert(cli: Any, args: list[str]) -> str:
    if len(args) < 4:
        raise CliError("'del ssl cert' expects a certificate name\n")
    state = _state(cli)
    name = args[3]
    txn: Txn | None = state.get("txn")
    why = None
    if txn is not None and txn.name == name:
        why = f"ongoing transaction for the certificate '{name}'"
    elif not _exists(state, name):
        why = f"certificate '{name}' doesn't exist!\n"
    elif any(_users(state, _lookup(state, name))):
        why = f"certificate '{name}' in use, can't be deleted!\n"
    if why is not None:
        raise CliError(f"Can't remove the certificate: {why}\n")
    cache = state["cache"]
    cache.empty.discard(name)
    cache.by_name.pop(name, None)
    return f"Certificate '{name}' deleted!\n"


COMMANDS = [
    cli_command(
        "show ssl cert [<certfile>]", _show_cert, level="operator", explain=(
            "Display the SSL certificates used in memory, or the details of a file. Without a "
            "name: '# filename' then one store per line (an ongoing transaction first, as "
            "'# transaction' and '*<name>'); with one: Filename, Status (Used, Unused, Empty, "
            "Uncommitted for '*<name>'), Serial, dates, SAN, Algorithm, SHA1 FingerPrint, "
            "Subject, Issuer and the chain's subjects and issuers.")),
    cli_command(
        "show ssl sni [-f <frontend>] [-A] [-t <offset>]", _show_sni, level="user", explain=(
            "Display the list of SNIs and their corresponding filename. Tab-separated: "
            "frontend/bind file:line, SNI ('*' for the default certificate, '*.' wildcards), "
            "negative filters ('-' when none), key type, file, notAfter, notBefore; -f one "
            "frontend, -A only certificates expired (at now plus the -t offset: s/m/h/d).")),
    cli_command(
        "dump ssl cert <certfile>", _dump_cert, level="admin", explain=(
            "Dump a certificate file in PEM format. The private key, the certificate, then the "
            "chain ('*<certfile>' dumps the ongoing transaction).")),
    cli_command(
        "new ssl cert <certfile>", _new_cert, level="admin", explain=(
            "Create a new certificate file to be used in a crt-list or a directory. It starts "
            "empty: fill it with 'set ssl cert' and 'commit ssl cert'.")),
    cli_command(
        "set ssl cert <certfile> <payload>", _set_cert, level="admin", explain=(
            "Replace a certificate file. The PEM payload ('set ssl cert <certfile> <<' then "
            "the PEM lines and an empty line) starts or updates the transaction; a payload "
            "without a key keeps the current key, '<certfile>.key' replaces the key only.")),
    cli_command(
        "commit ssl cert <certfile>", _commit_cert, level="admin", explain=(
            "Commit a certificate file. New handshakes use the new certificate at once; "
            "established connections keep theirs.")),
    cli_command(
        "del ssl cert <certfile>", _del_cert, level="admin", explain=(
            "Delete an unused certificate file. One used by a bind or a server, or with an "
            "ongoing transaction, stays.")),
    cli_command(
        "abort ssl cert <certfile>", _abort_cert, level="admin", explain=(
            "Abort a transaction for a certificate file. The prepared content is dropped.")),
]
