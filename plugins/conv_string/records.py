"""All the records of the conv_string plugin."""

from __future__ import annotations

from hapx.core.records import Converter

from . import others, strings


def all_records() -> list[Converter]:
    return strings.records() + others.records()
