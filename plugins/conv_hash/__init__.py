"""Hash converters: crc32, crc32c, djb2, sdbm, wt6, xxh3, xxh32, xxh64 (binary to integer)
and the digests sha1, sha2, digest and hmac (binary to binary).

The 32-bit hashes are the functions the hash-based load-balancing algorithms use, so they give
the same values; their optional argument, when non-zero, applies the "avalanche" integer hash
to the result.  xxHash comes from the reference implementation (the ``xxhash`` package).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any

import xxhash
from hapx.core.errors import ConfigError
from hapx.core.hookspecs import hookimpl
from hapx.core.records import Arg, ArgType, Converter, SmpType
from hapx.core.sample.cast import cast
from hapx.core.sample.types import Sample
from hapx.core.sample.vars import VarRef, parse_var_name
from hapx.plugins.conv_encoding.codecs import b64decode

from . import digests, hashes

_BIN, _SINT = SmpType.BIN, SmpType.SINT


def _bytes(v: Any) -> bytes:
    return v if isinstance(v, bytes) else str(v).encode("latin-1")


def _signed64(n: int) -> int:
    return n - (1 << 64) if n >> 63 else n


# -- 32-bit hashes with the avalanche option ------------------------------------------------

def _hash32(fn: Callable[[bytes], int]) -> Callable[..., Sample]:
    def process(args: list[Any], smp: Sample, strm: Any) -> Sample:
        h = fn(_bytes(smp.value))
        if args and args[0]:
            h = hashes.full_hash(h)
        return Sample(_SINT, h, smp.flags)

    return process


_AVALANCHE = (Arg("avalanche", ArgType.SINT, optional=True, default=0),)


def _hash_record(name: str, fn: Callable[[bytes], int], text: str) -> Converter:
    return Converter(
        name, process=_hash32(fn), in_type=_BIN, out_type=_SINT, args=_AVALANCHE,
        doc=f"{name}([<avalanche>])\n\n{text} The result is an unsigned 32-bit integer; when "
            "<avalanche> is non-zero, a full avalanche hash is applied to it. These are the "
            "functions of the hash-based balancing algorithms. Not for security purposes.",
    )


# -- xxHash ---------------------------------------------------------------------------------

def _xxh32(args: list[Any], smp: Sample, strm: Any) -> Sample:
    seed = (args[0] or 0) & 0xFFFFFFFF
    return Sample(_SINT, xxhash.xxh32_intdigest(_bytes(smp.value), seed), smp.flags)


def _xxh64(args: list[Any], smp: Sample, strm: Any) -> Sample:
    seed = (args[0] or 0) & 0xFFFFFFFFFFFFFFFF
    h = xxhash.xxh64_intdigest(_bytes(smp.value), seed)
    return Sample(_SINT, _signed64(h), smp.flags)


def _xxh3(args: list[Any], smp: Sample, strm: Any) -> Sample:
    seed = (args[0] or 0) & 0xFFFFFFFFFFFFFFFF
    h = xxhash.xxh3_64_intdigest(_bytes(smp.value), seed)
    return Sample(_SINT, _signed64(h), smp.flags)


_SEED = (Arg("seed", ArgType.SINT, optional=True, default=0),)

# -- digests ----------------------------------------------------------------------------------

_SHA2 = {224: "sha224", 256: "sha256", 384: "sha384", 512: "sha512"}


def _sha1(args: list[Any], smp: Sample, strm: Any) -> Sample:
    return Sample(_BIN, hashlib.sha1(_bytes(smp.value)).digest(), smp.flags)


def _sha2_validate(args: list[Any], ctx: Any) -> list[Any]:
    bits = 256 if args[0] is None else args[0]
    if bits not in _SHA2:
        raise ConfigError(f"Unsupported number of bits: '{bits}'")
    return [bits]


def _sha2(args: list[Any], smp: Sample, strm: Any) -> Sample:
    name = _SHA2[args[0] or 256]
    return Sample(_BIN, hashlib.new(name, _bytes(smp.value)).digest(), smp.flags)


def _digest_validate(args: list[Any], ctx: Any) -> list[Any]:
    if not digests.digest_ok(args[0]):
        raise ConfigError("algorithm must be a valid OpenSSL message digest name.")
    return args


def _digest(args: list[Any], smp: Sample, strm: Any) -> Sample:
    return Sample(_BIN, digests.digest(args[0], _bytes(smp.value)), smp.flags)


def _hmac_validate(args: list[Any], ctx: Any) -> list[Any]:
    """The key is a variable name (read and base64-decoded at run time) or a base64 string
    decoded now."""
    _digest_validate(args, ctx)
    key = args[1]
    if key == "":
        return [args[0], b""]
    try:
        return [args[0], parse_var_name(key)]
    except ValueError:
        pass
    raw = b64decode(key.encode("latin-1"))
    if raw is None:
        raise ConfigError("failed to parse key : argument needs to be base64 encoded, and can "
                          "either be a string or a variable")
    return [args[0], raw]


def _hmac(args: list[Any], smp: Sample, strm: Any) -> Sample | None:
    key = args[1]
    if isinstance(key, VarRef):
        var = key.get(strm)
        var = None if var is None else cast(var, SmpType.STR)
        if var is None:
            return None
        key = b64decode(_bytes(var.value))
        if key is None:
            return None
    mac = hmac.new(key, _bytes(smp.value), args[0]).digest()
    return Sample(_BIN, mac, smp.flags)


def records() -> list[Converter]:
    return [
        _hash_record("crc32", hashes.crc32, "Hashes the binary input with CRC32 (the one of "
                     "Ethernet, gzip and PNG)."),
        _hash_record("crc32c", hashes.crc32c, "Hashes the binary input with CRC32C "
                     "(RFC 4960, appendix B)."),
        _hash_record("djb2", hashes.djb2, "Hashes the binary input with DJB2."),
        _hash_record("sdbm", hashes.sdbm, "Hashes the binary input with SDBM."),
        _hash_record("wt6", hashes.wt6, "Hashes the binary input with WT6."),
        Converter("xxh32", process=_xxh32, in_type=_BIN, out_type=_SINT, args=_SEED,
                  doc="xxh32([<seed>])\n\nHashes the binary input with the 32-bit xxHash; "
                      "<seed> defaults to 0. The result is an unsigned 32-bit integer."),
        Converter("xxh64", process=_xxh64, in_type=_BIN, out_type=_SINT, args=_SEED,
                  doc="xxh64([<seed>])\n\nHashes the binary input with the 64-bit xxHash; "
                      "<seed> defaults to 0. The 64-bit result is returned as a signed "
                      "integer."),
        Converter("xxh3", process=_xxh3, in_type=_BIN, out_type=_SINT, args=_SEED,
                  doc="xxh3([<seed>])\n\nHashes the binary input with the 64-bit XXH3; "
                      "<seed> defaults to 0. The 64-bit result is returned as a signed "
                      "integer."),
        Converter("sha1", process=_sha1, in_type=_BIN, out_type=_BIN,
                  doc="sha1\n\nThe SHA-1 digest of the binary input (20 bytes)."),
        Converter("sha2", process=_sha2, in_type=_BIN, out_type=_BIN,
                  args=(Arg("bits", ArgType.SINT, optional=True, default=256),),
                  validate=_sha2_validate,
                  doc="sha2([<bits>])\n\nThe SHA-2 digest of the binary input; <bits> is 224, "
                      "256 (default), 384 or 512."),
        Converter("digest", process=_digest, in_type=_BIN, out_type=_BIN,
                  args=(Arg("algorithm"),), validate=_digest_validate,
                  doc="digest(<algorithm>)\n\nThe message digest of the binary input with an "
                      "OpenSSL digest name (sha256, sha512, md5, sha3-256 ...)."),
        Converter("hmac", process=_hmac, in_type=_BIN, out_type=_BIN,
                  args=(Arg("algorithm"), Arg("key")), validate=_hmac_validate,
                  doc="hmac(<algorithm>,<key>)\n\nThe HMAC of the binary input with an OpenSSL "
                      "digest name. <key> is base64-encoded: a constant, or the name of a "
                      "variable holding it."),
    ]


@hookimpl
def hapx_register_converters(converters: Any) -> None:
    converters.add(*records())
