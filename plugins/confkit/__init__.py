"""Helpers shared by the plugins that parse keyword arguments: value validators, option
tables (the ``<keyword> [<value>...]`` lists of ``bind``, ``server``, ``load`` ...), plugin
section objects and declarative directives.

This is a library, not a plugin: it has no entry point and registers nothing.
"""

from __future__ import annotations

from .options import Opt, OptionTable, parse_positional
from .sections import NamedSection, declare_section, section_header, simple_directive
from .values import (
    Validator,
    resolve_path,
    v_choice,
    v_file,
    v_int,
    v_list,
    v_name,
    v_octal,
    v_on_off,
    v_size,
    v_str,
    v_time,
    v_words,
)

__all__ = [
    "NamedSection", "Opt", "resolve_path", "OptionTable", "Validator", "declare_section", "parse_positional",
    "section_header", "simple_directive", "v_choice", "v_file", "v_int", "v_list", "v_name",
    "v_octal", "v_on_off", "v_size", "v_str", "v_time", "v_words",
]
