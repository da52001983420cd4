"""String converters: case, trimming, fields and words, regsub, concat and add_item,
parameters, host and port, JSON and URL encodings, comparisons, language, ipmask, bytes and
the date formatters (utime, ltime, ms_/us_ variants, http_date).

Each converter follows HAProxy's ``src/sample.c`` and ``src/http_conv.c`` closely, including
when it fails ("no sample") and its argument checks at configuration time.
"""

from __future__ import annotations

from typing import Any

from hapx.core.hookspecs import hookimpl
from hapx.core.records import Converter

from . import records as _records


def records() -> list[Converter]:
    return _records.all_records()


@hookimpl
def hapx_register_converters(converters: Any) -> None:
    converters.add(*records())
