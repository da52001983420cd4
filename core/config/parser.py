"""The configuration parser: lines to sections to registered directive handlers.

The parser knows the structure only: a line whose first word is a registered section keyword
opens a section; any other line goes to the directive registered for the current section
kind (longest match over up to three words, with ``no``/``default`` prefixes for negatable
keywords).  Every error is reported with file:line and parsing goes on, so one run shows all
of them.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable
from typing import Any

from ..errors import ConfigError, Diagnostics, did_you_mean
from ..records import Directive, Point, RuleSet, Section
from .condition import CondContext
from .model import Config, Deferred, InactiveUse
from .reader import SourceLine, expand_paths, read_lines
from .tokenizer import TokenizeError, marker, tokenize

MAX_KEYWORD_WORDS = 3


class ParseContext:
    """What a directive or section handler receives.

    ``args`` are the words after the keyword.  Raise :class:`ConfigError` (or call
    :meth:`error`) to reject the line; use :meth:`warning` and :meth:`notice` for the rest.
    """

    def __init__(self, config: Config, src: SourceLine, keyword: str, args: list[str],
                 section_kind: str, section: Any, prefix: str = "",
                 record: Directive | Section | None = None) -> None:
        self.config = config
        self.registry = config.registry
        self.diag = config.diag
        self.file = src.file
        self.line = src.number
        self.text = src.text
        self.keyword = keyword
        self.args = args
        self.section_kind = section_kind
        self.section = section
        self.prefix = prefix
        self.record = record
        #: filled by rule parsers for actions written ``name(param)``
        self.param: str | None = None
        #: the evaluation point and rule set of the rule being parsed, for action parsers
        self.point: Point | None = None
        self.ruleset: RuleSet | None = None

    # -- reporting -------------------------------------------------------------------------
    def error(self, message: str) -> ConfigError:
        """Build the error to raise: ``raise ctx.error("...")``."""
        return ConfigError(message, file=self.file, line=self.line, keyword=self.keyword)

    def warning(self, message: str) -> None:
        self.diag.warning(message, self.file, self.line)

    def notice(self, message: str) -> None:
        self.diag.notice(message, self.file, self.line)

    def defer(self, fn: Callable[[Config], None]) -> None:
        """Run ``fn(config)`` once every file is parsed (to resolve names used before their
        declaration); a ConfigError it raises is reported at this line."""
        self.config.deferred.append(Deferred(fn, self.file, self.line, self.keyword))

    def mark_inactive(self, keyword: str, kind: str = "keyword", owner: str = "") -> None:
        """Note the use of a keyword whose runtime is not available yet."""
        self.config.inactive.append(InactiveUse(keyword, kind, owner, self.file, self.line))

    # -- helpers ------------------------------------------------------------------------------
    @property
    def proxy(self) -> Any:
        return self.section

    def expect_args(self, count: int, usage: str = "") -> None:
        """Require exactly ``count`` arguments."""
        if len(self.args) != count:
            plural = "s" if count != 1 else ""
            hint = f" ({usage})" if usage else ""
            raise self.error(f"'{self.keyword}' expects exactly {count} argument{plural}{hint}.")

    def expect_min_args(self, count: int, usage: str = "") -> None:
        if len(self.args) < count:
            hint = f" ({usage})" if usage else ""
            raise self.error(f"'{self.keyword}' expects at least {count} argument"
                             f"{'s' if count != 1 else ''}{hint}.")

    def sub(self, keyword: str, args: list[str]) -> ParseContext:
        """A context for a nested keyword on the same line (an action, a bind option)."""
        ctx = ParseContext(self.config, SourceLine(self.file, self.line, self.text), keyword,
                           args, self.section_kind, self.section, self.prefix, self.record)
        ctx.point = self.point
        ctx.ruleset = self.ruleset
        return ctx


def _pseudo_vars(state: dict[str, str]) -> Callable[[SourceLine], Callable[[str], str | None]]:
    def for_line(src: SourceLine) -> Callable[[str], str | None]:
        def resolve(name: str) -> str | None:
            return {".LINE": str(src.number), ".FILE": src.file,
                    ".SECTION": state.get("section", "")}.get(name)
        return resolve
    return for_line


def empty_arg_warning(src: SourceLine, words: list[str], columns: list[int],
                      diag: Diagnostics) -> list[str]:
    """The 3.2 rule: an empty word ends the argument list, with a warning."""
    for idx, word in enumerate(words):
        if word == "":
            diag.warning(
                f"argument number {idx} at position {columns[idx] + 1} is empty and marks "
                "the end of the argument list; all subsequent arguments will be ignored:\n"
                + marker(src.text, columns[idx]), src.file, src.number)
            return words[:idx]
    return words


class ConfigParser:
    """Parses files into a :class:`Config` using the records of a registry."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.registry = config.registry
        self.diag = config.diag
        self.section_kind = ""
        self.section_obj: Any = None
        self.section_rec: Section | None = None
        self.section_src: SourceLine | None = None
        self.state: dict[str, str] = {}

    def cond_context(self) -> CondContext:
        def feature(name: str) -> bool:
            rec = self.registry.feature(name)
            return bool(rec and rec.enabled)
        return CondContext(env=os.environ, features=feature)

    def parse_files(self, paths: list[str]) -> None:
        files = expand_paths(paths)
        self.config.files.extend(files)
        os.environ["HAPROXY_CFGFILES"] = ";".join(self.config.files)
        current_file = None
        for src in read_lines(files, self.diag, self.cond_context, _pseudo_vars(self.state)):
            if src.file != current_file:  # a section never spans two files
                self.close_section()
                current_file = src.file
            self.parse_line(src)
        self.close_section()

    def parse_line(self, src: SourceLine) -> None:
        try:
            line = tokenize(src.text, pseudo=_pseudo_vars(self.state)(src))
        except TokenizeError as exc:
            self.diag.alert(f"{exc}:\n{marker(src.text, exc.column)}", src.file, src.number)
            return
        if not line.words:
            return
        if line.too_many:
            self.diag.alert("too many words, truncating after word 64, position "
                            f"{line.columns[-1] + 1}:\n{marker(src.text, line.columns[-1])}",
                            src.file, src.number)
        words = empty_arg_warning(src, line.words, line.columns, self.diag)
        if not words:
            return
        section = self.registry.section(words[0])
        if section is not None:
            self.open_section(section, src, words)
            return
        if self.section_rec is None:
            self.diag.alert(f"unknown keyword '{words[0]}' out of section.", src.file,
                            src.number)
            return
        self.dispatch(src, words)

    # -- sections ------------------------------------------------------------------------------
    def open_section(self, section: Section, src: SourceLine, words: list[str]) -> None:
        self.close_section()
        self.section_rec = section
        self.section_kind = section.name
        self.section_src = src
        self.state["section"] = section.name
        ctx = ParseContext(self.config, src, section.name, words[1:], section.name, None,
                           record=section)
        try:
            self.section_obj = section.parse_header(ctx, words[1:])
        except ConfigError as exc:
            self.diag.error(exc, src.file, src.number)
            self.section_obj = None
        if not section.active:
            ctx.mark_inactive(section.name, "section", section.owner)

    def close_section(self) -> None:
        rec, obj, src = self.section_rec, self.section_obj, self.section_src
        self.section_rec = None
        self.section_obj = None
        if rec is None or rec.post_section is None or obj is None or src is None:
            return
        ctx = ParseContext(self.config, src, rec.name, [], rec.name, obj, record=rec)
        try:
            rec.post_section(ctx, obj)
        except ConfigError as exc:
            self.diag.error(exc, src.file, src.number)

    # -- directives ----------------------------------------------------------------------------
    def lookup(self, words: list[str]) -> tuple[Directive | None, int]:
        for n in range(min(MAX_KEYWORD_WORDS, len(words)), 0, -1):
            rec = self.registry.directive(" ".join(words[:n]), self.section_kind)
            if rec is not None:
                return rec, n
        return None, 0

    def dispatch(self, src: SourceLine, words: list[str]) -> None:
        prefix = ""
        if words[0] in ("no", "default") and len(words) > 1:
            prefix, words = words[0], words[1:]
        rec, n = self.lookup(words)
        if rec is None:
            self.unknown(src, words, prefix)
            return
        if prefix and not rec.negatable:
            self.diag.alert(f"'{prefix}' is not supported for keyword '{rec.name}'.",
                            src.file, src.number, rec.name)
            return
        if self.section_obj is None:
            return  # the section header was invalid and was reported already
        keyword = " ".join(words[:n])
        ctx = ParseContext(self.config, src, keyword, words[n:], self.section_kind,
                           self.section_obj, prefix, rec)
        try:
            rec.parse(ctx, words[n:])
        except ConfigError as exc:
            self.diag.error(exc, src.file, src.number)
            return
        except Exception as exc:  # noqa: BLE001 - a plugin bug must name the plugin
            self.diag.alert(f"internal error in plugin '{rec.owner}' while parsing "
                            f"'{keyword}': {type(exc).__name__}: {exc}", src.file, src.number,
                            keyword)
            return
        if not rec.active:
            ctx.mark_inactive(keyword, "directive", rec.owner)

    def unknown(self, src: SourceLine, words: list[str], prefix: str) -> None:
        kind = self.section_kind
        known = [d.name for d in self.registry.directives_in(kind)]
        first = words[0]
        family = [k for k in known if k.startswith(first + " ")]
        if family and len(words) > 1:
            subs = [k[len(first) + 1:] for k in family]
            if first == "option":
                msg = f"unknown option '{words[1]}'{did_you_mean(words[1], subs)}"
            else:
                tail = " ".join(words[1:3])
                msg = (f"unknown keyword '{first} {words[1]}' in '{kind}' section"
                       f"{did_you_mean(first + ' ' + tail, family)}")
        elif family:
            choices = ", ".join(f"'{s}'" for s in sorted(k[len(first) + 1:] for k in family))
            msg = f"'{first}' expects one of {choices}."
        else:
            firsts = {k.split(" ", 1)[0] for k in known} | set(self.registry.names(Section))
            msg = f"unknown keyword '{first}' in '{kind}' section{did_you_mean(first, firsts)}"
        self.diag.alert(msg, src.file, src.number, first)

    # -- after parsing -----------------------------------------------------------------------
    def run_deferred(self) -> None:
        for item in self.config.deferred:
            try:
                item.fn(self.config)
            except ConfigError as exc:
                self.diag.error(exc, item.file, item.line)
        self.config.deferred.clear()


def parse_config(paths: list[str], plugins: Any, diag: Diagnostics,
                 options: Any = None) -> Config:
    """Parse the given files with the plugins' registry; run deferred checks and the
    ``hapx_configure`` and ``hapx_post_check`` hooks when parsing found no error.
    ``options`` (the plugins' command-line options) becomes ``config.options``.

    The cyclic garbage collector is paused meanwhile: a large configuration creates
    millions of long-lived objects, and each full collection would scan them all again
    (on 20,000 servers that was most of the parse time); it resumes afterwards."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        # the configuration's own view of the registry: records it adds (Lua keywords) stay
        config = Config(registry=plugins.registry.copy(), diag=diag, plugins=plugins,
                        options=options)
        parser = ConfigParser(config)
        parser.parse_files(paths)
        parser.run_deferred()
        if not diag.failed:
            plugins.hook.hapx_configure(config=config)
        if not diag.failed:
            plugins.hook.hapx_post_check(config=config)
    finally:
        if was_enabled:
            gc.enable()
    return config
