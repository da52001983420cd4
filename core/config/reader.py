"""Reading configuration files: ``-f`` files and directories in order, conditional blocks
(``.if/.elif/.else/.endif``) and the message directives (``.notice/.warning/.alert/.diag``).

:func:`read_lines` yields the lines that remain active, each with its file and number, and
tokenizes them lazily so that ``setenv`` on one line affects the expansion of the next.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ..errors import Diagnostics
from .condition import CondContext, ConditionError, evaluate
from .tokenizer import TokenizeError, marker, tokenize


@dataclass
class SourceLine:
    file: str
    number: int
    text: str


def expand_paths(paths: list[str]) -> list[str]:
    """``-f`` arguments to files: a directory gives its ``*.cfg`` files in lexical order."""
    out: list[str] = []
    for path in paths:
        if os.path.isdir(path):
            for name in sorted(os.listdir(path)):
                full = os.path.join(path, name)
                if name.endswith(".cfg") and os.path.isfile(full):
                    out.append(full)
        else:
            out.append(path)
    return out


@dataclass
class _Block:
    """One ``.if`` level: is its current branch taken, was any branch taken, seen .else."""

    active: bool
    taken: bool
    parent_active: bool
    file: str
    line: int
    seen_else: bool = False


def read_lines(files: list[str], diag: Diagnostics,
               cond_ctx: Callable[[], CondContext],
               pseudo: Callable[[SourceLine], Callable[[str], str | None]] | None = None,
               ) -> Iterator[SourceLine]:
    """Yield active lines.  Unreadable files and conditional-block errors are alerts."""
    for path in files:
        try:
            with open(path, encoding="latin-1") as fh:
                content = fh.read()
        except OSError as exc:
            diag.alert(f"Could not open configuration file {path} : {exc.strerror}")
            continue
        yield from _read_one(path, content.splitlines(), diag, cond_ctx, pseudo)


def _read_one(path: str, lines: list[str], diag: Diagnostics,
              cond_ctx: Callable[[], CondContext],
              pseudo: Callable[[SourceLine], Callable[[str], str | None]] | None,
              ) -> Iterator[SourceLine]:
    stack: list[_Block] = []

    def active() -> bool:
        return not stack or stack[-1].active

    for number, text in enumerate(lines, 1):
        stripped = text.lstrip(" \t")
        if not stripped.startswith("."):
            if active():
                yield SourceLine(path, number, text)
            continue
        src = SourceLine(path, number, text)
        word = stripped.split(None, 1)[0] if stripped.split() else ""
        if word in (".if", ".elif"):
            if word == ".elif":
                if not stack:
                    diag.alert("'.elif' without matching '.if'.", path, number)
                    continue
                if stack[-1].seen_else:
                    diag.alert("'.elif' after '.else' is not permitted.", path, number)
                    continue
            # conditions are only evaluated where they could matter
            parent_active = active() if word == ".if" else stack[-1].parent_active
            already = word == ".elif" and stack[-1].taken
            result = False
            if parent_active and not already:
                result = _eval_line(src, diag, cond_ctx, pseudo)
            if word == ".if":
                stack.append(_Block(active=parent_active and result, taken=result,
                                    parent_active=parent_active, file=path, line=number))
            else:
                blk = stack[-1]
                blk.active = parent_active and not already and result
                blk.taken = blk.taken or result
            continue
        if word == ".else":
            if not stack:
                diag.alert("'.else' without matching '.if'.", path, number)
                continue
            blk = stack[-1]
            if blk.seen_else:
                diag.alert("'.else' after '.else' is not permitted.", path, number)
                continue
            blk.seen_else = True
            blk.active = blk.parent_active and not blk.taken
            blk.taken = True
            continue
        if word == ".endif":
            if not stack:
                diag.alert("'.endif' without matching '.if'.", path, number)
                continue
            stack.pop()
            continue
        if not active():
            continue
        if word in (".notice", ".warning", ".alert", ".diag"):
            try:
                words = tokenize(stripped, pseudo=pseudo(src) if pseudo else None).words
            except TokenizeError as exc:
                diag.alert(f"{exc}:\n{marker(text, exc.column)}", path, number)
                continue
            message = " ".join(words[1:])
            level = word[1:]
            getattr(diag, level)(message, path, number)
            continue
        diag.alert(f"unknown directive '{word}'", path, number)
    for blk in stack:
        diag.alert("non-terminated '.if' block.", blk.file, blk.line)


def _eval_line(src: SourceLine, diag: Diagnostics, cond_ctx: Callable[[], CondContext],
               pseudo: Callable[[SourceLine], Callable[[str], str | None]] | None) -> bool:
    try:
        words = tokenize(src.text.lstrip(" \t"), pseudo=pseudo(src) if pseudo else None).words
    except TokenizeError as exc:
        diag.alert(f"{exc}:\n{marker(src.text, exc.column)}", src.file, src.number)
        return False
    text = " ".join(words[1:])
    try:
        return evaluate(text, cond_ctx())
    except ConditionError as exc:
        diag.alert(f"failed to parse {words[0]} condition: {exc}", src.file, src.number)
        return False
