"""core/config/address.py: every prefix, IPv6 forms, ports, ranges and errors."""

from __future__ import annotations

import ipaddress

import pytest
from hapx.core.config.address import (
    AddressError,
    Ports,
    parse_address,
    split_address_list,
    split_prefix,
)


def test_any_address_forms():
    for text in (":80", "*:80", "0.0.0.0:80"):
        a = parse_address(text)
        assert a.family == "inet" and a.is_any and a.port == 80
    v6 = parse_address(":::80")
    assert v6.family == "inet6" and v6.is_any and v6.port == 80
    assert parse_address("ipv6@:80").ip == ipaddress.IPv6Address("::")


def test_ipv6_bracketed_and_bare():
    a = parse_address("[2001:db8::1]:443")
    assert a.ip == ipaddress.IPv6Address("2001:db8::1") and a.port == 443
    bare = parse_address("2001:db8::1:443")  # last colon separates the port
    assert bare.ip == ipaddress.IPv6Address("2001:db8::1") and bare.port == 443
    assert str(a) == "[2001:db8::1]:443"


@pytest.mark.parametrize("prefix,family,transport", [
    ("ipv4@", "inet", "stream"), ("ipv6@", "inet6", "stream"), ("tcp4@", "inet", "stream"),
    ("tcp6@", "inet6", "stream"), ("udp4@", "inet", "dgram"), ("udp6@", "inet6", "dgram"),
    ("quic4@", "inet", "quic"), ("quic6@", "inet6", "quic"), ("mptcp4@", "inet", "stream"),
    ("stream+ipv4@", "inet", "stream"), ("dgram+ipv6@", "inet6", "dgram"),
])
def test_ip_prefixes(prefix, family, transport):
    host = "::1" if family == "inet6" else "127.0.0.1"
    host = f"[{host}]" if family == "inet6" else host
    a = parse_address(f"{prefix}{host}:5000", dgram_ok=True)
    assert (a.family, a.transport, a.port) == (family, transport, 5000)
    assert a.mptcp == prefix.startswith("mptcp")


def test_auto_family_prefixes():
    assert parse_address("ip@[::1]:1").family == "inet6"
    assert parse_address("tcp@1.2.3.4:1").family == "inet"
    assert parse_address("udp@1.2.3.4:1", dgram_ok=True).transport == "dgram"


def test_socket_prefixes():
    assert parse_address("unix@/run/x.sock").path == "/run/x.sock"
    bare = parse_address("/run/x.sock")
    assert bare.family == "unix" and bare.prefix == ""
    abns = parse_address("abns@name")
    assert abns.family == "abns" and len(abns.sockaddr()) == 108
    assert parse_address("abnsz@name").sockaddr() == b"\0name"
    assert parse_address("fd@3").fd == 3
    assert parse_address("sockpair@4").family == "sockpair"
    assert parse_address("rhttp@srv1").name == "srv1"


def test_port_ranges_and_relative_ports():
    a = parse_address(":8080-8089", ranges=True)
    assert list(a.ports) == list(range(8080, 8090))
    assert a.with_port(8081).port_end == 8081
    rel = parse_address("10.0.0.1:+1000", ports=Ports.OPTIONAL, relative=True)
    assert rel.port_offset == 1000 and rel.port is None
    assert parse_address("10.0.0.1:-1", ports=Ports.OPTIONAL, relative=True).port_offset == -1
    assert parse_address("10.0.0.1", ports=Ports.OPTIONAL).port is None


@pytest.mark.parametrize("text,kwargs,message", [
    ("1.2.3.4", {}, "missing port specification in '1.2.3.4'"),
    (":0", {}, "invalid port '0'"),
    (":99999", {}, "invalid port '99999'"),
    (":80-70", {"ranges": True}, "invalid port range '80-70'"),
    ("1.2.3.4:80-90", {"ports": Ports.OPTIONAL}, "port range not permitted here"),
    ("1.2.3.4:+5", {}, "port offset not permitted here in '1.2.3.4:+5'"),
    ("1.2.3.4:x", {"ports": Ports.OPTIONAL}, "invalid character 'x' in port number 'x'"),
    ("1.2.3.4.5:80", {}, "invalid address: '1.2.3.4.5' in '1.2.3.4.5:80'"),
    ("[::1:80", {}, "invalid address: '[:' in '[::1:80'"),
    ("foo@:80", {}, "invalid address: 'foo@' in 'foo@:80'"),
    ("fd@abc", {}, "file descriptor 'abc' is not a valid integer in 'fd@abc'"),
    ("udp@:514", {}, "dgram-type address not acceptable in 'udp@:514'"),
    ("", {}, "resolves to an empty address"),
    ("ipv4@[::1]:80", {}, "invalid address"),
])
def test_errors(text, kwargs, message):
    with pytest.raises(AddressError) as exc:
        parse_address(text, **kwargs)
    assert message in str(exc.value)


def test_hostnames_resolved_only_when_asked():
    a = parse_address("localhost:80")
    assert a.needs_resolution and a.host == "localhost" and a.ip is None
    r = parse_address("localhost:80", resolve=True)
    assert r.ip is not None and r.ip.is_loopback
    with pytest.raises(AddressError, match="invalid address: 'no-such-host.invalid'"):
        parse_address("no-such-host.invalid:80", resolve=True)


def test_default_transport_and_lists():
    assert parse_address("0.0.0.0:514", dgram_ok=True, stream_ok=False,
                         default_transport="dgram").transport == "dgram"
    assert split_address_list(":80,:81") == [":80", ":81"]
    with pytest.raises(AddressError):
        split_address_list(":80,,:81")
    assert split_prefix("stream+ipv4@1.2.3.4") == ("stream", "ipv4", "1.2.3.4")
