"""``quic-initial`` rules (HAProxy 3.1+): what to do with a QUIC Initial packet that would
open a new connection, decided before any connection state or TLS handshake exists.

    quic-initial <action> [ { if | unless } <condition> ]

in ``defaults``, ``frontend`` and ``listen`` sections; the first rule whose condition
matches decides (no rule matching: the packet is accepted):

- ``accept``: open the connection (the rules after it are not evaluated);
- ``dgram-drop``: drop the datagram silently (the client retries, then gives up);
- ``reject``: answer with an Initial packet carrying a CONNECTION_CLOSE with the
  transport error CONNECTION_REFUSED (0x2), and keep no state;
- ``send-retry``: answer with a Retry packet (address validation) unless the Initial
  carries a valid Retry token, in which case the connection opens.

Conditions see layer 4 samples only (``src``, ``src_port``, ``dst``, ``dst_port`` ...),
evaluated at the ``tcp-request connection`` point on a session that holds just the
addresses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aioquic.quic.crypto import CryptoPair
from aioquic.quic.packet import (
    QuicErrorCode,
    QuicFrameType,
    QuicPacketType,
)
from aioquic.quic.packet_builder import QuicPacketBuilder
from hapx.core.errors import ConfigError
from hapx.core.records import Directive, Point
from hapx.core.stream import Session, Stream

ACTIONS = ("accept", "dgram-drop", "reject", "send-retry")
#: settings key of a proxy's rules (a list of InitialRule)
KEY = "quic-initial"


@dataclass(frozen=True)
class InitialRule:
    action: str
    cond: Any = None


def _parse(ctx: Any, args: list[str]) -> None:
    px = ctx.section
    if not args or args[0] not in ACTIONS:
        got = f" but got '{args[0]}'" if args else ""
        raise ctx.error(f"'quic-initial' expects one of 'accept', 'dgram-drop', 'reject', "
                        f"'send-retry'{got} in {px.kind} '{px.name}'.")
    action, rest = args[0], args[1:]
    cond = None
    if rest:
        if rest[0] not in ("if", "unless"):
            raise ctx.error(f"'quic-initial {action}' only accepts 'if' or 'unless', in "
                            f"{px.kind} '{px.name}' (got '{rest[0]}')")
        from hapx.core.sample.cond import compile_condition

        try:
            cond = compile_condition(rest, ctx, Point.FE_CON_ACC, where="quic-initial")
        except ConfigError as exc:
            raise ctx.error(f"error detected in {px.kind} '{px.name}' while parsing "
                            f"'{rest[0]}' condition : {exc}") from None
    # a new list: a defaults section's rules are copied, never extended in place
    px.settings[KEY] = [*px.settings.get(KEY, ()), InitialRule(action, cond)]


DIRECTIVE = Directive(
    "quic-initial", sections=frozenset({"defaults", "frontend", "listen"}), parse=_parse,
    doc="quic-initial <action> [ { if | unless } <condition> ]\n\n"
        "Decide what to do with a QUIC Initial packet opening a new connection on the "
        "proxy's quic4@/quic6@ binds, before any connection or TLS state exists: "
        "'accept' opens it, 'dgram-drop' drops the datagram silently, 'reject' answers a "
        "CONNECTION_CLOSE with CONNECTION_REFUSED, 'send-retry' answers a Retry packet "
        "(address validation) unless the packet carries a valid Retry token.  The first "
        "matching rule decides; conditions use layer 4 samples (src, dst, ports).")


class InitialRules:
    """The compiled rules of one QUIC listener."""

    def __init__(self, rules: list[InitialRule], frontend: Any, listener: Any,
                 local: tuple[Any, int]) -> None:
        self.rules = rules
        self.frontend = frontend
        self.listener = listener
        self.local = local

    def verdict(self, src: Any, sport: int, proc: Any) -> str:
        """The action for an Initial packet from ``src``:``sport`` ("accept" when no rule
        matches)."""
        strm = None
        for rule in self.rules:
            if rule.cond is not None:
                if strm is None:
                    dst, dport = self.local
                    sess = Session(src=src, src_port=sport, dst=dst, dst_port=dport,
                                   frontend=self.frontend, listener=self.listener,
                                   http_major=3)
                    strm = Stream(sess=sess, frontend=self.frontend, proc=proc)
                if rule.cond.eval(strm) is not True:
                    continue
            return rule.action
        return "accept"


def connection_refused(version: int, client_dcid: bytes, client_scid: bytes) -> bytes:
    """A server Initial packet closing the connection with CONNECTION_REFUSED (its keys
    derive from the client's chosen destination connection ID)."""
    crypto = CryptoPair()
    crypto.setup_initial(cid=client_dcid, is_client=False, version=version)
    builder = QuicPacketBuilder(host_cid=client_dcid, is_client=False,
                                max_datagram_size=1200, peer_cid=client_scid,
                                version=version)
    builder.start_packet(QuicPacketType.INITIAL, crypto)
    buf = builder.start_frame(QuicFrameType.TRANSPORT_CLOSE, capacity=64)
    buf.push_uint_var(QuicErrorCode.CONNECTION_REFUSED)
    buf.push_uint_var(QuicFrameType.PADDING)  # (no frame caused it)
    buf.push_uint_var(0)  # no reason phrase
    datagrams, _ = builder.flush()
    return datagrams[0]
