"""A TLS ClientHello read from raw bytes (the request buffer of tcp-request content), without
decryption: version, SNI, ALPN list, cipher list, groups, key shares, signature algorithms."""

from __future__ import annotations

from dataclasses import dataclass, field


class Incomplete(ValueError):
    """More bytes are needed."""


@dataclass
class Hello:
    record_version: int = 0
    version: int = 0
    ciphers: bytes = b""
    extensions: dict[int, bytes] = field(default_factory=dict)
    ext_order: list[int] = field(default_factory=list)

    @property
    def sni(self) -> str | None:
        data = self.extensions.get(0)
        if not data or len(data) < 5:
            return None
        i = 2
        while i + 3 <= len(data):
            kind, n = data[i], int.from_bytes(data[i + 1:i + 3], "big")
            if kind == 0:
                return data[i + 3:i + 3 + n].decode("ascii", "replace")
            i += 3 + n
        return None

    def _list16(self, ext: int, length_bytes: int = 2) -> bytes | None:
        data = self.extensions.get(ext)
        if data is None:
            return None
        n = int.from_bytes(data[:length_bytes], "big")
        return data[length_bytes:length_bytes + n]

    @property
    def alpn(self) -> list[str]:
        data = self._list16(16) or b""
        out, i = [], 0
        while i < len(data):
            n = data[i]
            out.append(data[i + 1:i + 1 + n].decode("ascii", "replace"))
            i += 1 + n
        return out

    @property
    def groups(self) -> bytes | None:
        return self._list16(10)

    @property
    def sigalgs(self) -> bytes | None:
        return self._list16(13)

    @property
    def keyshare_groups(self) -> bytes | None:
        data = self._list16(51)
        if data is None:
            return None
        out, i = b"", 0
        while i + 4 <= len(data):
            out += data[i:i + 2]
            i += 4 + int.from_bytes(data[i + 2:i + 4], "big")
        return out


def parse_handshake(msg: bytes) -> Hello:
    """A ClientHello handshake message (type 1, 3-byte length, body)."""
    if len(msg) < 4 or msg[0] != 1:
        raise ValueError("not a ClientHello")
    body = msg[4:4 + int.from_bytes(msg[1:4], "big")]
    h = Hello(version=int.from_bytes(body[0:2], "big"))
    i = 34
    i += 1 + body[i]  # session id
    n = int.from_bytes(body[i:i + 2], "big")
    h.ciphers = body[i + 2:i + 2 + n]
    i += 2 + n
    i += 1 + body[i]  # compression methods
    if i + 2 <= len(body):
        end = i + 2 + int.from_bytes(body[i:i + 2], "big")
        i += 2
        while i + 4 <= end:
            kind, n = int.from_bytes(body[i:i + 2], "big"), int.from_bytes(body[i + 2:i + 4],
                                                                            "big")
            h.extensions[kind] = body[i + 4:i + 4 + n]
            h.ext_order.append(kind)
            i += 4 + n
    return h


def parse_record(buf: bytes) -> Hello:
    """The ClientHello at the start of ``buf`` (TLS records); :class:`Incomplete` when
    more bytes are needed, ValueError when it is no ClientHello."""
    if len(buf) < 5:
        raise Incomplete
    if buf[0] != 0x16 or buf[1] != 3:
        raise ValueError("not a TLS handshake record")
    rlen = int.from_bytes(buf[3:5], "big")
    if len(buf) < 9:
        raise Incomplete
    if buf[5] != 1:
        raise ValueError("not a ClientHello")
    hlen = int.from_bytes(buf[6:9], "big")
    if 4 + hlen > rlen:  # spans several records: gather the handshake fragments
        msg, i = b"", 0
        while len(msg) < 4 + hlen:
            if i + 5 > len(buf):
                raise Incomplete
            n = int.from_bytes(buf[i + 3:i + 5], "big")
            if i + 5 + n > len(buf):
                raise Incomplete
            msg += buf[i + 5:i + 5 + n]
            i += 5 + n
    else:
        if len(buf) < 5 + 4 + hlen:
            raise Incomplete
        msg = buf[5:9 + hlen]
    h = parse_handshake(msg)
    h.record_version = int.from_bytes(buf[1:3], "big")
    return h
