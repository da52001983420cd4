"""``balance source``: hash of the client's IP address."""

from __future__ import annotations

from typing import Any

from hapx.core.hookspecs import hookimpl
from hapx.core.records import Balancer
from hapx.plugins.servers.lb import no_args
from hapx.plugins.servers.lbhash import full_hash
from hapx.plugins.servers.lbhashpick import HashPicker


def source_hash(strm: Any, picker: HashPicker) -> int | None:
    """HAProxy's ``get_server_sh``: the address read as big-endian 32-bit words XORed
    together (IPv4: the address itself), then the avalanche modifier if configured; the
    hash function of ``hash-type`` does not apply."""
    src = strm.sess.src
    if src is None:
        return None
    if src.version == 4:
        h = int(src)
    else:
        n = int(src)
        h = (n ^ (n >> 32) ^ (n >> 64) ^ (n >> 96)) & 0xFFFFFFFF
    return full_hash(h) if picker.avalanche else h


def _build(backend: Any, _settings: Any) -> HashPicker:
    return HashPicker(backend, source_hash)


@hookimpl
def hapx_register_balancers(balancers: Any) -> None:
    balancers.add(Balancer(
        "source", parse=no_args, build=_build,
        doc="source\n\nThe client's IP address is hashed (IPv4: its 4 bytes as one number, "
            "IPv6: its four 32-bit words XORed), with the 'avalanche' modifier of hash-type "
            "if set, and mapped to a server: the same client reaches the same server while "
            "the servers in play do not change.  Static (map-based) unless 'hash-type "
            "consistent'.  A client without an IP address (unix socket) is balanced in "
            "round robin."))
