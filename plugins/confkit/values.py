"""Value validators: each takes the written word and returns the typed value, or raises
ValueError whose text completes "'<keyword>' : <text>"."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any

from hapx.core.config.units import UnitError, parse_size, parse_time

Validator = Callable[[str], Any]

_NAME = re.compile(r"[A-Za-z0-9_.:-]+\Z")


def v_str(text: str) -> str:
    """Any non-empty string."""
    if text == "":
        raise ValueError("expects a non-empty value")
    return text


def v_name(text: str) -> str:
    """An identifier: letters, digits, ``_ . : -``."""
    if not _NAME.match(text):
        bad = next((c for c in text if not _NAME.match(c)), "")
        raise ValueError(f"character '{bad}' is not permitted in name '{text}'" if bad
                         else "expects a name")
    return text


def v_int(minimum: int | None = None, maximum: int | None = None) -> Validator:
    """A decimal integer within bounds."""
    def check(text: str) -> int:
        if not re.fullmatch(r"-?\d+", text):
            raise ValueError(f"expects an integer argument, got '{text}'")
        value = int(text)
        if (minimum is not None and value < minimum) or (maximum is not None
                                                         and value > maximum):
            lo = "" if minimum is None else str(minimum)
            hi = "" if maximum is None else str(maximum)
            raise ValueError(f"expects a value between {lo} and {hi}, got '{text}'")
        return value
    check.__doc__ = "integer"
    return check


def v_time(default_unit: str = "ms") -> Validator:
    """A duration in milliseconds (``us``, ``ms``, ``s``, ``m``, ``h``, ``d`` units)."""
    def check(text: str) -> int:
        try:
            return parse_time(text, default_unit)
        except UnitError as exc:
            raise ValueError(str(exc)) from None
    check.__doc__ = "time"
    return check


def v_size(text: str) -> int:
    """A size in bytes with optional ``k``, ``m``, ``g`` suffixes."""
    try:
        return parse_size(text)
    except UnitError as exc:
        raise ValueError(str(exc)) from None


def v_choice(*choices: str, icase: bool = False) -> Validator:
    """One word of a fixed set."""
    def check(text: str) -> str:
        word = text.lower() if icase else text
        pool = [c.lower() for c in choices] if icase else list(choices)
        if word not in pool:
            listed = ", ".join(f"'{c}'" for c in choices)
            raise ValueError(f"expects one of {listed}, got '{text}'")
        return choices[pool.index(word)]
    check.__doc__ = "|".join(choices)
    return check


def v_on_off(text: str) -> bool:
    """``on`` or ``off``."""
    if text not in ("on", "off"):
        raise ValueError(f"expects 'on' or 'off', got '{text}'")
    return text == "on"


def v_octal(text: str) -> int:
    """An octal permission mode such as ``660``."""
    if not re.fullmatch(r"[0-7]{1,4}", text):
        raise ValueError(f"expects an octal mode, got '{text}'")
    return int(text, 8)


def v_list(item: Validator = v_str, sep: str = ",") -> Validator:
    """A ``sep``-separated list, each element checked by ``item``."""
    def check(text: str) -> list[Any]:
        parts = text.split(sep)
        if any(p == "" for p in parts):
            raise ValueError(f"empty element in list '{text}'")
        return [item(p) for p in parts]
    check.__doc__ = "list"
    return check


def v_words(text: str) -> str:
    """Free text (a description, a comment)."""
    return text


def v_file(*, must_exist: bool = True, base: Callable[[], str | None] | None = None
           ) -> Validator:
    """A file path; with ``must_exist`` the file must be readable now."""
    def check(text: str) -> str:
        if text == "":
            raise ValueError("expects a file path")
        path = text
        root = base() if base else None
        if root and not os.path.isabs(path):
            path = os.path.join(root, path)
        if must_exist and not os.access(path, os.R_OK):
            raise ValueError(f"unable to load file '{path}'")
        return path
    check.__doc__ = "file"
    return check


def resolve_path(ctx: Any, path: str, base: str | None = None) -> str:
    """Where a relative path of the configuration points: under ``base`` when given (a
    crt-base, key-base...), then as ``default-path`` says (current directory by default,
    the configuration file's directory with ``config``, its parent with ``parent``, or the
    ``origin`` path)."""
    if base and not os.path.isabs(path):
        path = os.path.join(base, path)
    if os.path.isabs(path):
        return path
    mode = ctx.config.global_.settings.get("default-path")
    if isinstance(mode, tuple) and mode:
        where = mode[0]
        config_dir = os.path.dirname(os.path.abspath(ctx.file))
        if where == "config":
            return os.path.join(config_dir, path)
        if where == "parent":
            return os.path.join(os.path.dirname(config_dir), path)
        if where == "origin" and len(mode) > 1 and mode[1]:
            return os.path.join(mode[1], path)
    return path
