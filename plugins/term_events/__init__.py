"""The 3.2 ``term_events`` fetch and the ``hapx term-events`` decoder.

``term_events`` returns the termination events of the stream and its connections as HAProxy
3.2 logs them, ``{fc,fmux,fse,strm,bse,bmux,bc}`` (``{,,e1,S1s1,,,F7}``: the server refused
the connection, the stream shut its server side then its client side).  The data path
records the events (:mod:`hapx.core.runtime.tevents`); this plugin prints them
(:mod:`.codec`).  ``hapx term-events '<value>'`` decodes a value into readable lines, as
HAProxy's dev/term_events tool does.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from hapx.core.hookspecs import hookimpl
from hapx.core.records import Fetch, SmpType, Subcommand, Use
from hapx.core.sample.types import Sample

from .codec import decode_lines, encode


def _fetch(args: Any, strm: Any) -> Sample | None:
    if strm is None or getattr(strm, "sess", None) is None:
        return None
    return Sample(SmpType.STR, encode(strm))


@hookimpl
def hapx_register_fetches(fetches: Any) -> None:
    fetches.add(Fetch(
        "term_events", process=_fetch, out_type=SmpType.STR, uses=Use.INTERNAL,
        doc="term_events\n\nThe termination events of the stream and its connections, as "
            "HAProxy 3.2 logs them: {fc,fmux,fse,strm,bse,bmux,bc}, one field per entity "
            "(client connection, its mux, the stream's client endpoint, the stream, its "
            "server endpoint, the server connection's mux, the server connection), each up "
            "to four events oldest first: a location letter (f fd, h handshake, x xprt, m "
            "mux, e endpoint, s stream; upper case on the server side) and the event type "
            "in hexadecimal.  '-' marks an entity that does not exist.  Decode a value with "
            "'hapx term-events'.",
    ))


def _setup(parser: Any) -> None:
    parser.add_argument("values", nargs="+", metavar="VALUE",
                        help="a term_events value ({,,e1,S1s1,,,F7}) or one log (S1s1); "
                             "'-' reads values from stdin, one a line")
    parser.add_argument("-a", "--all", action="store_true",
                        help="print every slot of a value, named, empty ones too")


def _run(args: Any, out: TextIO) -> int:
    values = list(args.values)
    if values == ["-"]:
        values = [line.strip(" \t:=\n") for line in sys.stdin if line.strip()]
    for value in values:
        for line in decode_lines(value, every=args.all):
            out.write(line + "\n")
    return 0


@hookimpl
def hapx_register_subcommands(subcommands: Any) -> None:
    subcommands.add(Subcommand(
        "term-events", setup=_setup, run=_run,
        doc="term-events [-a] <value>... | -\n\nDecode term_events values into readable "
            "lines, as HAProxy's dev/term_events tool: '### S1s1 : STRM:shutw > "
            "strm:shutw' for each field holding events (-a: every field, named).  ##NONE "
            "marks no event, ##UNK an absent entity, ##INV a malformed field.",
    ))
