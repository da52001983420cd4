"""HAProxy 3.2's termination events strings: encoding (the ``term_events`` fetch) and
decoding (``hapx term-events``, as HAProxy's dev/term_events tool prints them).

A log of events is a 32-bit integer of up to four event bytes, oldest first (see
:mod:`hapx.core.runtime.tevents`).  Each event prints as two characters: the location's
letter (lower case on the frontend side, upper case on the backend side) and the event type
as one upper-case hexadecimal digit.  No event prints nothing; an entity that does not exist
prints ``-``.  The fetch joins the seven logs of a stream as
``{fc,fmux,fse,strm,bse,bmux,bc}``.
"""

from __future__ import annotations

from typing import Any

from hapx.core.runtime import tevents as te

HEX = "0123456789ABCDEF"

#: location number -> letter
_LETTER = {te.FD: "f", te.HS: "h", te.XPRT: "x", te.MUXC: "m", te.SE: "e", te.STRM: "s"}

#: the slots of the fetch, in order
SLOTS = ("fc", "fmux", "fse", "strm", "bse", "bmux", "bc")


def evts2str(evts: int) -> str:
    """One log as HAProxy prints it (tevt_evts2str)."""
    if not evts:
        return ""
    if evts == te.ABSENT:
        return "-"
    out = []
    for shift in (24, 16, 8, 0):
        evt = (evts >> shift) & 0xFF
        if not evt:
            continue
        loc = evt >> 4
        letter = _LETTER.get(loc & ~te.BACK, "-")
        out.append(letter.upper() if loc & te.BACK and letter != "-" else letter)
        out.append(HEX[evt & 0xF])
    return "".join(out)


def stream_logs(strm: Any) -> tuple[int, ...]:
    """The seven logs of a stream; the server side's are absent when no server connection
    was ever attempted (a request answered by hapx itself)."""
    sess = strm.sess
    no_server = strm.srv_conn is None and not strm.bc_evts
    bmux = te.ABSENT if no_server else strm.bmux_evts
    bc = te.ABSENT if no_server else strm.bc_evts
    return (sess.fc_evts, sess.fmux_evts, strm.fse_evts, strm.strm_evts, strm.bse_evts,
            bmux, bc)


def encode(strm: Any) -> str:
    return "{" + ",".join(evts2str(e) for e in stream_logs(strm)) + "}"


# -- decoding ------------------------------------------------------------------------------------

def _types(names: dict[int, str]) -> tuple[str, ...]:
    return tuple(names.get(i, "-") for i in range(16))


_FD = _types({1: "shutw", 2: "shutr", 3: "rcv_err", 4: "snd_err", 7: "conn_err",
              8: "intercepted", 9: "conn_poll_err", 10: "poll_err", 11: "poll_hup"})
_HS = _types({3: "rcv_err", 4: "snd_err"})
_XPRT = _types({1: "shutw", 2: "shutr", 3: "rcv_err", 4: "snd_err"})
_MUXC = _types({1: "shutw", 2: "shutr", 3: "rcv_err", 4: "snd_err", 5: "truncated_shutr",
                6: "truncated_rcv_err", 7: "tout", 8: "goaway_rcvd", 9: "proto_err",
                10: "internal_err", 11: "other_err", 12: "graceful_shut"})
_SE = _types({1: "shutw", 2: "eos", 3: "rcv_err", 4: "snd_err", 5: "truncated_eos",
              6: "truncated_rcv_err", 8: "rst_rcvd", 9: "proto_err", 10: "internal_err",
              11: "other_err", 12: "cancelled"})
_STRM = _types({1: "shutw", 2: "eos", 3: "rcv_err", 4: "snd_err", 5: "truncated_eos",
                6: "truncated_rcv_err", 7: "tout", 8: "intercepted", 9: "proto_err",
                10: "internal_err", 11: "other_err", 12: "aborted"})
_UNKNOWN = _types({})

#: letter -> (location name, type names)
_LOCATIONS = {"e": ("se", _SE), "f": ("fd", _FD), "h": ("hs", _HS), "m": ("muxc", _MUXC),
              "s": ("strm", _STRM), "x": ("xprt", _XPRT)}


def decode_events(value: str, delim: str = " > ") -> str:
    """One log (``S1s1``) in words (``STRM:shutw > strm:shutw``); ``##NONE`` when empty,
    ``##UNK`` for ``-``, ``##INV`` when it is not a series of events."""
    if value == "":
        return "##NONE"
    if value == "-":
        return "##UNK"
    if len(value) % 2:
        return "##INV"
    out = []
    for i in range(0, len(value), 2):
        letter, digit = value[i], value[i + 1]
        if not (letter.isascii() and letter.isalpha()) or digit.upper() not in HEX:
            return "##INV"
        loc, types = _LOCATIONS.get(letter.lower(), ("-", _UNKNOWN))
        out.append(f"{loc.upper() if letter.isupper() else loc}:{types[int(digit, 16)]}")
    return delim.join(out)


def split_tuple(text: str) -> list[str] | None:
    """The slots of ``{a,b,...}``; None when ``text`` is not such a tuple."""
    text = text.strip()
    if not (text.startswith("{") and text.endswith("}")):
        return None
    return [s.strip() for s in text[1:-1].split(",")]


def decode_lines(text: str, *, every: bool = False) -> list[str]:
    """Readable lines for a fetch value or a single log: ``### <log> : <meaning>`` for each
    slot holding events (``every``: each slot, named, even empty ones)."""
    slots = split_tuple(text)
    if slots is None:
        return [f"### {text.strip():<8} : {decode_events(text.strip())}"]
    if every:
        names = SLOTS if len(slots) == len(SLOTS) else tuple(str(i) for i in range(len(slots)))
        return [f"### {name:<4} {value:<8} : {decode_events(value)}"
                for name, value in zip(names, slots, strict=True)]
    return [f"### {value:<8} : {decode_events(value)}" for value in slots if value]
