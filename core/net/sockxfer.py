"""HAProxy's listening-socket transfer: the ``_getsocks`` runtime command and ``-x``.

A new process started with ``-x <socket>`` connects to the old process's stats socket (one
with ``expose-fd listeners``), sends ``_getsocks\\n`` and receives the old process's
listening sockets, which it uses instead of binding again: the kernel's accept queues are
never closed, so a restart refuses no connection.  The wire format is HAProxy's (checked
byte for byte against HAProxy 2.6):

1. the old process sends the number of sockets, a native ``int`` (4 bytes), alone;
2. then the sockets in batches of at most :data:`MAX_SEND_FD`: one ``sendmsg`` per batch,
   the descriptors in one ``SCM_RIGHTS`` message and, in the data, one record per
   descriptor in the same order: ``<ns_len:u8> <namespace> <if_len:u8> <interface>``
   followed by 4 zero bytes (the listener options HAProxy sent before 2.3);
3. the new process answers each ``recvmsg`` with a 4-byte acknowledgement; the old one
   waits for it after every full batch only, then closes the connection.

Nothing sent when there is no socket to send: the connection just closes.  The receiver
reads the address, the type (datagram or stream), ``IPV6_V6ONLY`` and ``IP_TRANSPARENT``
from each socket itself, and a bind adopts a socket whose address, namespace, interface and
those options are the ones it would bind (:func:`wanted`, :meth:`XferSocket.matches`).
Unix socket names ending in ``.<pid>.tmp`` (HAProxy binds to such a name, then renames it)
match the name without that suffix.
"""

from __future__ import annotations

import array
import contextlib
import ipaddress
import os
import re
import socket
import struct
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

#: HAProxy's MAX_SEND_FD: descriptors per ``sendmsg``
MAX_SEND_FD = 253
#: one receive: every record of a full batch at its largest (MAXPATHLEN + IFNAMSIZ names)
RECV_SIZE = MAX_SEND_FD * (1 + 4096 + 1 + 16 + 4)
#: seconds either side waits for the other (HAProxy's 1 s SO_RCVTIMEO)
TIMEOUT = 1.0
COMMAND = b"_getsocks\n"

#: HAProxy's SOCK_XFER_OPT_* flags, read from a received socket
OPT_FOREIGN = 0x1
OPT_V6ONLY = 0x2
OPT_DGRAM = 0x4

_INT = struct.Struct("=i")
_TMP_SUFFIX = re.compile(r"\.\d+\.tmp$")
_IPV6_TRANSPARENT = 75


class XferError(Exception):
    """A transfer that failed; ``str()`` is HAProxy's warning text."""


# -- the bytes ---------------------------------------------------------------------------------

def encode_count(count: int) -> bytes:
    return _INT.pack(count)


def decode_count(data: bytes) -> int:
    if len(data) != _INT.size:
        raise XferError("Failed to get the number of sockets to be transferred !")
    return _INT.unpack(data)[0]


def encode_record(namespace: str = "", interface: str = "") -> bytes:
    """One socket's record: its namespace and interface names, then 4 zero bytes."""
    ns = namespace.encode()
    iface = interface.encode()
    if len(ns) > 255 or len(iface) > 255:
        raise ValueError("namespace or interface name longer than 255 bytes")
    return bytes([len(ns)]) + ns + bytes([len(iface)]) + iface + b"\0\0\0\0"


def decode_records(data: bytes, count: int) -> list[tuple[str, str]]:
    """``count`` records from ``data``: (namespace, interface) pairs."""
    out: list[tuple[str, str]] = []
    pos = 0
    for _ in range(count):
        names = []
        for _field in range(2):
            if pos >= len(data):
                raise XferError("Inconsistency while transferring sockets")
            size = data[pos]
            pos += 1
            if pos + size > len(data):
                raise XferError("Inconsistency while transferring sockets")
            names.append(data[pos:pos + size].decode("utf-8", "replace"))
            pos += size
        if pos + 4 > len(data):
            raise XferError("Inconsistency while transferring sockets")
        pos += 4  # the former listener options
        out.append((names[0], names[1]))
    return out


def batches(entries: Sequence[tuple[int, str, str]]) -> list[tuple[list[int], bytes]]:
    """(descriptors, data) for each ``sendmsg`` of ``entries`` (fd, namespace, interface)."""
    out = []
    for start in range(0, len(entries), MAX_SEND_FD):
        part = entries[start:start + MAX_SEND_FD]
        out.append(([fd for fd, _, _ in part],
                    b"".join(encode_record(ns, iface) for _, ns, iface in part)))
    return out


# -- a received socket ----------------------------------------------------------------------------

def _v6only_applies(ip: ipaddress.IPv6Address | None) -> bool:
    """IPV6_V6ONLY only tells something of a wildcard (or v4-mapped) address: Linux sets
    it on any socket bound to another IPv6 address."""
    return ip is None or ip.is_unspecified or ip.ipv4_mapped is not None


def _options(sock: socket.socket) -> int:
    opts = 0
    if sock.type == socket.SOCK_DGRAM:
        opts |= OPT_DGRAM
    with contextlib.suppress(OSError, ValueError):
        if sock.family == socket.AF_INET6:
            ip = ipaddress.IPv6Address(sock.getsockname()[0].split("%", 1)[0])
            if sock.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) and \
                    _v6only_applies(ip):
                opts |= OPT_V6ONLY
            if sock.getsockopt(socket.IPPROTO_IPV6, _IPV6_TRANSPARENT):
                opts |= OPT_FOREIGN
        elif sock.family == socket.AF_INET and hasattr(socket, "IP_TRANSPARENT"):
            if sock.getsockopt(socket.SOL_IP, socket.IP_TRANSPARENT):
                opts |= OPT_FOREIGN
    return opts


def socket_key(sock: socket.socket) -> str | None:
    """The handover key of a bound socket (see :mod:`hapx.core.runtime.handover`):
    ``tcp4@ip:port``, ``tcp6@[ip]:port`` (``quic4``/``quic6`` for datagram sockets),
    ``unix@/abs/path``, ``abns@name`` or ``abnsz@name``; None for other families."""
    name = sock.getsockname()
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        ip = ipaddress.ip_address(name[0].split("%", 1)[0])
        proto = "quic" if sock.type == socket.SOCK_DGRAM else "tcp"
        if sock.family == socket.AF_INET6:
            return f"{proto}6@[{ip}]:{name[1]}"
        return f"{proto}4@{ip}:{name[1]}"
    if sock.family == socket.AF_UNIX:
        if isinstance(name, bytes):  # abstract: b"\0name" (abns pads it with zeros)
            raw = name[1:]
            family = "abns" if raw.endswith(b"\0") or len(name) >= 107 else "abnsz"
            text = raw.rstrip(b"\0").decode("utf-8", "replace")
            return f"{family}@{text}"
        if not name:
            return None
        return "unix@" + os.path.abspath(_TMP_SUFFIX.sub("", name))
    return None


def wanted(family: str, opts: dict, *, dgram: bool = False, ip: object = None
           ) -> tuple[int, str, str]:
    """What a bind expects of a socket it adopts: (options, namespace, interface), from its
    address family (``inet``, ``inet6``, ``unix`` ...), IP address (None: any) and bind
    options, as hapx would bind it itself (an IPv6 socket is v6only only with ``v6only``,
    and not with ``v4v6``; the flag is left out where the kernel forces it: an IPv6
    address that is neither the wildcard nor v4-mapped)."""
    flags = OPT_DGRAM if dgram else 0
    if family in ("inet", "inet6") and opts.get("transparent"):
        flags |= OPT_FOREIGN
    v6ip = ip if isinstance(ip, ipaddress.IPv6Address) else None
    if family == "inet6" and opts.get("v6only") and not opts.get("v4v6") and \
            (ip is None or (v6ip is not None and _v6only_applies(v6ip))):
        flags |= OPT_V6ONLY
    return flags, str(opts.get("namespace") or ""), str(opts.get("interface") or "")


@dataclass
class XferSocket:
    """A socket received from the old process."""

    fd: int
    namespace: str
    interface: str
    key: str | None
    options: int

    @classmethod
    def from_fd(cls, fd: int, namespace: str = "", interface: str = "") -> XferSocket:
        """Describe ``fd`` (raises OSError when it is not a bound socket)."""
        sock = socket.socket(fileno=fd)
        try:
            return cls(fd, namespace, interface, socket_key(sock), _options(sock))
        finally:
            sock.detach()

    def matches(self, key: str, want: tuple[int, str, str]) -> bool:
        return self.key == key and (self.options, self.namespace, self.interface) == want

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)


# -- the new process's side (-x) --------------------------------------------------------------

def _fds_of(ancdata: Iterable[tuple[int, int, bytes]]) -> list[int]:
    fds: list[int] = []
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            arr = array.array("i")
            arr.frombytes(data[:len(data) - len(data) % arr.itemsize])
            fds.extend(arr)
    return fds


def fetch(path: str, timeout: float = TIMEOUT) -> list[XferSocket]:
    """Connect to the old process's stats socket at ``path``, ask for its listening
    sockets and return them.  Raises :class:`XferError` with HAProxy's warning; the
    descriptors received before a failure are closed."""
    try:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    except OSError:
        raise XferError(f"Failed to connect to the old process socket '{path}'") from None
    fds: list[int] = []
    with conn:
        try:
            conn.connect(path)
        except OSError:
            raise XferError(f"Failed to connect to the old process socket '{path}'") from None
        conn.settimeout(timeout)
        try:
            conn.sendall(COMMAND)
            count = decode_count(_recv_exact(conn, _INT.size))
        except OSError:
            raise XferError("Failed to get the number of sockets to be transferred !") from None
        if count <= 0:
            return []
        data = bytearray()
        try:
            while len(fds) < count:
                try:
                    msg, anc, _flags, _addr = conn.recvmsg(
                        RECV_SIZE, socket.CMSG_SPACE(MAX_SEND_FD * _INT.size))
                except InterruptedError:
                    continue
                except OSError:
                    break
                got = _fds_of(anc)
                if not msg and not got:
                    break
                with contextlib.suppress(OSError):
                    conn.send(_INT.pack(len(fds)))  # the acknowledgement
                fds.extend(got)
                data += msg
                if len(fds) > count:
                    raise XferError("Got to many sockets !")
            if len(fds) != count:
                raise XferError(f"We didn't get the expected number of sockets (expecting "
                                f"{count} got {len(fds)})")
            records = decode_records(bytes(data), count)
        except XferError:
            for fd in fds:
                with contextlib.suppress(OSError):
                    os.close(fd)
            raise
    out = []
    for fd, (ns, iface) in zip(fds, records, strict=True):
        try:
            out.append(XferSocket.from_fd(fd, ns, iface))
        except OSError:
            with contextlib.suppress(OSError):
                os.close(fd)
    return out


def _recv_exact(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        piece = conn.recv(size - len(data))
        if not piece:
            break
        data += piece
    return data


# -- the old process's side (_getsocks) ---------------------------------------------------------

async def send_sockets(conn: socket.socket, entries: Sequence[tuple[int, str, str]],
                       wait_ack: Callable[[], Awaitable[bool]],
                       wait_writable: Callable[[socket.socket], Awaitable[None]]) -> None:
    """Send ``entries`` (fd, namespace, interface) over the non-blocking unix socket
    ``conn``: the count, then each batch, waiting for the peer's acknowledgement after each
    full batch (``wait_ack()`` returns False when none came).  Raises XferError with
    HAProxy's warning when the peer does not follow."""
    if not entries:
        return

    async def sendmsg(data: bytes, fds: list[int]) -> None:
        anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds).tobytes())] \
            if fds else []
        sent = 0
        while True:
            try:
                sent = conn.sendmsg([data], anc)
                break
            except (BlockingIOError, InterruptedError):
                await wait_writable(conn)
        if sent != len(data):
            raise XferError("Failed to transfer sockets")

    try:
        await sendmsg(encode_count(len(entries)), [])
    except (OSError, XferError):
        raise XferError("Failed to send the number of sockets to send") from None
    for fds, data in batches(entries):
        try:
            await sendmsg(data, fds)
        except OSError:
            raise XferError("Failed to transfer sockets") from None
        if len(fds) == MAX_SEND_FD and not await wait_ack():
            raise XferError("Unexpected error while transferring sockets")


__all__ = [
    "COMMAND", "MAX_SEND_FD", "OPT_DGRAM", "OPT_FOREIGN", "OPT_V6ONLY", "XferError",
    "XferSocket", "batches", "decode_count", "decode_records", "encode_count",
    "encode_record", "fetch", "send_sockets", "socket_key", "wanted",
]
