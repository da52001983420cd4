"""Socket addresses as the configuration writes them.

``[<prefix>@]<address>[:<port>[-<port2>]]``: an IPv4 or IPv6 address (IPv6 in brackets, or
bare with its last colon taken as the port separator, as HAProxy does), a host name, ``*`` or
nothing for "any address", a unix socket path, an abstract socket name, an inherited file
descriptor...  :func:`parse_address` turns one such word into a frozen :class:`Address`;
callers say what they accept (a mandatory port, port ranges, relative ``+N``/``-N`` ports,
datagram sockets) and whether host names are resolved now.  Errors are
:class:`AddressError` with HAProxy's wording.  Environment variables were expanded by the
tokenizer already.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from enum import Enum

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class AddressError(ValueError):
    """An address the configuration cannot use; ``str()`` is HAProxy's message."""


class Ports(Enum):
    """Whether an address must, may or must not carry a port."""

    REQUIRED = "required"
    OPTIONAL = "optional"
    FORBIDDEN = "forbidden"


# prefix -> (family, transport); family None = from the address itself ("ip@" and friends)
_PREFIXES: dict[str, tuple[str | None, str]] = {
    "ipv4": ("inet", ""), "ipv6": ("inet6", ""), "ip": (None, ""),
    "tcp": (None, "stream"), "tcp4": ("inet", "stream"), "tcp6": ("inet6", "stream"),
    "udp": (None, "dgram"), "udp4": ("inet", "dgram"), "udp6": ("inet6", "dgram"),
    "quic4": ("inet", "quic"), "quic6": ("inet6", "quic"),
    "mptcp": (None, "stream"), "mptcp4": ("inet", "stream"), "mptcp6": ("inet6", "stream"),
    "unix": ("unix", ""), "uxst": ("unix", "stream"), "uxdg": ("unix", "dgram"),
    "abns": ("abns", ""), "abnsz": ("abnsz", ""),
    "fd": ("fd", ""), "sockpair": ("sockpair", ""), "rhttp": ("rhttp", "stream"),
}
#: transport words usable as ``<transport>+<prefix>@`` (``stream+ipv4@``)
_TRANSPORTS = ("stream", "dgram", "quic")
#: prefixes the ``<transport>+`` form applies to
_COMBINABLE = frozenset({"ipv4", "ipv6", "ip", "unix", "abns", "abnsz", "fd", "sockpair"})

PREFIXES: tuple[str, ...] = tuple(sorted(_PREFIXES))
_PORT = re.compile(r"\d+\Z")
_HOSTNAME = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_.])?\Z")
_ABNS_MAX = 107  # sun_path minus the leading NUL


@dataclass(frozen=True)
class Address:
    """One parsed address.

    ``family`` is ``inet``, ``inet6``, ``unix``, ``abns``, ``abnsz``, ``fd``, ``sockpair`` or
    ``rhttp``; ``transport`` is ``stream``, ``dgram`` or ``quic``.  For IP families, ``host``
    is the written host (empty for "any"), ``ip`` the address once known (None for a host
    name not resolved yet), ``port``/``port_end`` the port range (equal for one port, None
    when no port was written) and ``port_offset`` a relative ``+N``/``-N`` port.  ``path``
    holds a unix path or abstract name, ``fd`` a file descriptor number, ``name`` the server
    a ``rhttp@`` address names.
    """

    text: str
    family: str
    transport: str = "stream"
    prefix: str = ""
    host: str = ""
    ip: IPAddress | None = None
    port: int | None = None
    port_end: int | None = None
    port_offset: int | None = None
    path: str | None = None
    fd: int | None = None
    name: str | None = None
    mptcp: bool = False

    @property
    def is_ip(self) -> bool:
        return self.family in ("inet", "inet6")

    @property
    def is_any(self) -> bool:
        return self.is_ip and self.ip is not None and self.ip.is_unspecified

    @property
    def needs_resolution(self) -> bool:
        return self.is_ip and self.ip is None

    @property
    def ports(self) -> range:
        """Every port of the range (empty when no port was written)."""
        if self.port is None:
            return range(0)
        return range(self.port, (self.port_end or self.port) + 1)

    def with_port(self, port: int) -> Address:
        """The same address for one port of its range."""
        return _replace(self, port=port, port_end=port)

    def with_ip(self, ip: IPAddress) -> Address:
        fam = "inet" if ip.version == 4 else "inet6"
        return _replace(self, ip=ip, family=fam)

    def sockaddr(self) -> tuple | str | bytes | None:
        """What :mod:`socket` takes for this address (first port of a range)."""
        if self.is_ip:
            if self.ip is None:
                return None
            return (str(self.ip), self.port or 0)
        if self.family == "unix":
            return self.path
        if self.family == "abns":
            return b"\0" + (self.path or "").encode().ljust(_ABNS_MAX, b"\0")
        if self.family == "abnsz":
            return b"\0" + (self.path or "").encode()
        return None

    def __str__(self) -> str:
        if self.is_ip:
            host = str(self.ip) if self.ip is not None else self.host
            if ":" in host:
                host = f"[{host}]"
            if self.port_offset is not None:
                return f"{host}:{self.port_offset:+d}"
            if self.port is None:
                return host
            if self.port_end is not None and self.port_end != self.port:
                return f"{host}:{self.port}-{self.port_end}"
            return f"{host}:{self.port}"
        if self.family == "fd" or self.family == "sockpair":
            return f"{self.family}@{self.fd}"
        if self.family == "rhttp":
            return f"rhttp@{self.name}"
        if self.family == "unix":
            return self.path or ""
        return f"{self.family}@{self.path}"


def _replace(addr: Address, **changes: object) -> Address:
    import dataclasses

    return dataclasses.replace(addr, **changes)  # type: ignore[arg-type]


def split_prefix(text: str) -> tuple[str, str, str]:
    """``(transport, prefix, rest)``: ``stream+ipv4@1.2.3.4`` -> ``("stream", "ipv4",
    "1.2.3.4")``.  Unknown prefixes raise AddressError."""
    at = text.find("@")
    if at < 0:
        return "", "", text
    head, rest = text[:at], text[at + 1:]
    transport = ""
    if "+" in head:
        transport, head = head.split("+", 1)
        if transport not in _TRANSPORTS or head not in _COMBINABLE:
            raise AddressError(f"invalid address: '{text[:at + 1]}' in '{text}'")
    if head not in _PREFIXES:
        if re.fullmatch(r"[a-z0-9+]+", head):
            raise AddressError(f"invalid address: '{text[:at + 1]}' in '{text}'")
        return "", "", text  # an '@' that is part of something else
    return transport, head, rest


def _parse_ip(host: str, family: str | None) -> IPAddress | None:
    """The IP of a literal (or "any"), or None for a host name."""
    if host in ("", "*"):
        return ipaddress.IPv6Address("::") if family == "inet6" else ipaddress.IPv4Address(
            "0.0.0.0")
    try:  # the usual dotted quad without ipaddress's parser (thousands of servers)
        return ipaddress.IPv4Address(int.from_bytes(socket.inet_pton(socket.AF_INET, host),
                                                    "big"))
    except (OSError, ValueError):
        pass
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None and family == "inet":
        return ip.ipv4_mapped
    return ip


def resolve_host(host: str, family: str | None = None) -> IPAddress:
    """Resolve a host name with the libc resolver (first answer, IPv4 first unless the
    family says IPv6).  Raises AddressError."""
    fam = {"inet": socket.AF_INET, "inet6": socket.AF_INET6}.get(family or "", socket.AF_UNSPEC)
    try:
        infos = socket.getaddrinfo(host, None, fam, socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise AddressError(f"could not resolve address '{host}'") from None
    infos.sort(key=lambda i: 0 if i[0] == socket.AF_INET else 1)
    return ipaddress.ip_address(infos[0][4][0].split("%", 1)[0])


def _parse_ports(text: str, port_text: str, ports: Ports, ranges: bool, relative: bool
                 ) -> tuple[int | None, int | None, int | None]:
    """(port, port_end, port_offset) from what follows the last colon."""
    if port_text == "":
        if ports is Ports.REQUIRED:
            raise AddressError(f"missing port specification in '{text}'")
        return None, None, None
    if ports is Ports.FORBIDDEN:
        raise AddressError(f"port specification not permitted here in '{text}'")
    if port_text[0] in "+-":
        if not relative:
            raise AddressError(f"port offset not permitted here in '{text}'")
        digits = port_text[1:]
        if not _PORT.match(digits):
            bad = next((c for c in digits if not c.isdigit()), port_text[0])
            raise AddressError(f"invalid character '{bad}' in port number '{port_text}' in "
                               f"'{text}'")
        offset = int(digits)
        if offset > 65535:
            raise AddressError(f"invalid port offset '{port_text}'")
        return None, None, -offset if port_text[0] == "-" else offset
    low, dash, high = port_text.partition("-")
    for part in (low, high) if dash else (low,):
        if not _PORT.match(part):
            bad = next((c for c in part if not c.isdigit()), "-")
            raise AddressError(f"invalid character '{bad}' in port number '{port_text}' in "
                               f"'{text}'")
    if dash and not ranges:
        raise AddressError(f"port range not permitted here in '{text}'")
    first = int(low)
    last = int(high) if dash else first
    minimum = 1 if ports is Ports.REQUIRED else 0
    if not minimum <= first <= 65535:
        raise AddressError(f"invalid port '{low}'")
    if not minimum <= last <= 65535:
        raise AddressError(f"invalid port '{high}'")
    if last < first:
        raise AddressError(f"invalid port range '{port_text}'")
    return first, last, None


def parse_address(text: str, *, ports: Ports = Ports.REQUIRED, ranges: bool = False,
                  relative: bool = False, resolve: bool = False, dgram_ok: bool = False,
                  stream_ok: bool = True, default_transport: str = "stream") -> Address:
    """Parse one address word.

    ``ports``: whether a port must be written; ``ranges``: ``80-89`` allowed; ``relative``:
    ``+N``/``-N`` allowed (servers); ``resolve``: host names are resolved now (otherwise
    ``ip`` stays None and ``host`` holds the name); ``dgram_ok``/``stream_ok``: which socket
    types the caller takes; ``default_transport``: the socket type of an address without a
    prefix saying it (``dgram`` for ``dgram-bind`` lines).
    """
    if text == "":
        raise AddressError("'' resolves to an empty address (environment variable missing?)")
    transport, prefix, rest = split_prefix(text)
    bare_path = not prefix and rest.startswith("/")
    family, ptransport = _PREFIXES.get("unix" if bare_path else prefix, (None, ""))
    transport = transport or ptransport or default_transport
    mptcp = prefix.startswith("mptcp")
    if transport == "dgram" and not dgram_ok:
        raise AddressError(f"dgram-type address not acceptable in '{text}'")
    if transport in ("stream", "quic") and not stream_ok:
        raise AddressError(f"stream-type address not acceptable in '{text}'")

    if family in ("unix", "abns", "abnsz"):
        if rest == "":
            raise AddressError(f"missing path in '{text}'")
        limit = 107 if family == "unix" else _ABNS_MAX
        if len(rest.encode()) > limit:
            raise AddressError(f"socket path '{rest}' too long (max {limit})")
        return Address(text, family, transport, prefix, path=rest)
    if family in ("fd", "sockpair"):
        if not re.fullmatch(r"\d+", rest):
            raise AddressError(f"file descriptor '{rest}' is not a valid integer in '{text}'")
        return Address(text, family, transport, prefix, fd=int(rest))
    if family == "rhttp":
        if not rest:
            raise AddressError(f"missing server name in '{text}'")
        return Address(text, family, transport, prefix, name=rest)

    # an IP address or a host name
    if rest.startswith("["):
        close = rest.find("]")
        if close < 0:
            raise AddressError(f"invalid address: '{rest[:2]}' in '{text}'")
        host, after = rest[1:close], rest[close + 1:]
        if after and not after.startswith(":"):
            raise AddressError(f"invalid address: '{rest}' in '{text}'")
        port_text = after[1:]
        if not _is_ip(host) or ipaddress.ip_address(host).version != 6:
            raise AddressError(f"invalid address: '{host}' in '{text}'")
    elif ":" in rest:
        host, _, port_text = rest.rpartition(":")
    else:
        host, port_text = rest, ""
    port, port_end, offset = _parse_ports(text, port_text, ports, ranges, relative)
    ip = _parse_ip(host, family)
    if ip is None:
        if not _HOSTNAME.match(host) or re.fullmatch(r"[\d.]+", host) and host.count(".") > 3:
            raise AddressError(f"invalid address: '{host}' in '{text}'")
        if resolve:
            try:
                ip = resolve_host(host, family)
            except AddressError:
                raise AddressError(f"invalid address: '{host}' in '{text}'") from None
    elif family == "inet" and ip.version != 4 or family == "inet6" and ip.version != 6:
        raise AddressError(f"invalid address: '{host}' in '{text}'")
    if ip is not None:
        family = "inet" if ip.version == 4 else "inet6"
    return Address(text, family or "inet", transport, prefix, host=host, ip=ip, port=port,
                   port_end=port_end, port_offset=offset, mptcp=mptcp)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def split_address_list(text: str) -> list[str]:
    """The comma-separated addresses of a ``bind`` word; an empty element is an error."""
    parts = text.split(",")
    for part in parts:
        if part == "":
            raise AddressError("'' resolves to an empty address (environment variable "
                               "missing?)")
    return parts
