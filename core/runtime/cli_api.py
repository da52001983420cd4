"""The runtime API's command interpreter: one :class:`CliSession` per connection to a stats
socket, running the :class:`~hapx.core.records.CliCommand` records plugins register.

Framing is HAProxy's: a line holds one or more commands separated by ``;`` (``\\;`` and
``\\\\`` escape them); a command ending in ``<<`` takes the following lines up to an empty
one as its payload.  After each command's output comes ``\\n`` (non-prompt modes) or the
prompt ``\\n> `` (``\\n[<d>:<hh>:<mm>:<ss>]> `` when timed).  The session mode is ``n``
(non-interactive: close after the line), ``i`` (interactive without prompt) or ``p``
(interactive with prompt), changed by ``prompt``.

A command's level (user < operator < admin) is checked against the session's before its
handler runs: ``Permission denied``.  An unknown command gets HAProxy's help listing, with
the best fuzzy matches when some words matched.

Handlers are ``handler(cli, args)`` returning the output text (or None); they may be
coroutine functions.  They raise :class:`CliError` for a message reply.  A handler that
streams (``show events -w``) returns an async iterator of text chunks: the output so far is
sent, then each chunk as it comes, through the session's ``send`` (set by the server),
until the iterator ends, the client goes away, or the client sends anything or closes its
side (``wait_input``, set by the server: HAProxy's "any key to stop").
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Iterable
from typing import Any

import anyio

from ..hookspecs import hookimpl
from ..records import CliCommand

LEVELS = {"user": 0, "operator": 1, "admin": 2}
PERMISSION_DENIED = "Permission denied\n"
#: HAProxy's CLI_MAX_MATCHES: at most this many fuzzy suggestions
MAX_MATCHES = 5
#: the always-listed basic commands, after the others
BASIC_HELP = ("  help [<command>]                        : list matching or all commands\n"
              "  prompt [help]                           : toggle interactive mode with "
              "prompt\n"
              "  quit                                    : disconnect\n")


class CliError(Exception):
    """A command's reply when it cannot do what was asked (the message is printed)."""


#: how an argument opens in a usage line (the command's words come before the first)
_ARG_OPENERS = "<[{(@-"


def cli_command(usage: str, handler: Any, explain: str, *, level: str = "user",
                synopsis: str | None = None) -> CliCommand:
    """A :class:`CliCommand` described by its usage line: its words are the usage's leading
    words (up to the first argument, a word opening with one of ``<[{(@-``), its ``doc`` the
    ``synopsis`` (the usage unless given), a blank line and ``explain``."""
    words: list[str] = []
    for word in usage.split():
        if word[0] in _ARG_OPENERS:
            break
        words.append(word)
    return CliCommand(" ".join(words), words=tuple(words), level=level, handler=handler,
                      usage=usage, doc=f"{synopsis or usage}\n\n{explain}")


def split_commands(line: str) -> list[list[str]]:
    """Split a line into commands (``;``) and words (spaces, tabs); a backslash escapes the
    next character (``\\;``, ``\\\\``, ``\\ ``)."""
    commands: list[list[str]] = []
    words: list[str] = []
    cur: list[str] = []
    has_word = False
    i = 0
    while i < len(line):
        ch = line[i]
        if ch == "\\" and i + 1 < len(line):
            cur.append(line[i + 1])
            has_word = True
            i += 2
            continue
        if ch in " \t":
            if has_word:
                words.append("".join(cur))
                cur, has_word = [], False
        elif ch == ";":
            if has_word:
                words.append("".join(cur))
                cur, has_word = [], False
            commands.append(words)
            words = []
        else:
            cur.append(ch)
            has_word = True
        i += 1
    if has_word:
        words.append("".join(cur))
    commands.append(words)
    return [c for c in commands if c]


# -- fuzzy matching (HAProxy's word fingerprints) --------------------------------------------

def _fingerprint(fp: list[int], word: str) -> None:
    """Add ``word``'s character-pair fingerprint to ``fp`` (32x32 counters)."""
    prev = 28
    for ch in word.lower():
        if "a" <= ch <= "z":
            cur = ord(ch) - ord("a") + 1
        elif "0" <= ch <= "9":
            cur = 27
        else:
            cur = 28
        fp[32 * prev + cur] += 1
        prev = cur
    fp[32 * prev + 28] += 1


def _distance(a: list[int], b: list[int]) -> int:
    return sum(abs(x - y) for x, y in zip(a, b, strict=True))


def help_line(rec: CliCommand) -> str:
    """``<usage padded to 40>: <description>``, as HAProxy lists commands."""
    synopsis = rec.usage or rec.name
    return f"{synopsis:<40}: {describe(rec)}"


def describe(rec: CliCommand) -> str:
    """The short description of a command: the first sentence of its doc's explanation."""
    parts = rec.doc.split("\n\n", 1)
    text = parts[1] if len(parts) > 1 else parts[0]
    text = " ".join(text.split())
    for end in (". ", ".\n"):
        cut = text.find(end)
        if cut >= 0:
            text = text[:cut]
            break
    text = text.rstrip(".")
    return text[:1].lower() + text[1:]


class Commands:
    """The registered commands of a configuration, in a form fit for lookup and help."""

    def __init__(self, records: Iterable[CliCommand]) -> None:
        self.records = [r for r in records if r.active and r.handler is not None]
        # longest word lists first: "show stat" before "show"
        self.records.sort(key=lambda r: -len(r.words or r.name.split()))

    @staticmethod
    def words(rec: CliCommand) -> tuple[str, ...]:
        return tuple(rec.words) if rec.words else tuple(rec.name.split())

    def find(self, args: list[str]) -> CliCommand | None:
        for rec in self.records:
            w = self.words(rec)
            if tuple(args[:len(w)]) == w:
                return rec
        return None

    def usage(self, args: list[str] | None, is_help: bool) -> str:
        """HAProxy's help listing: all commands, the ones matching the first words, or the
        closest fuzzy matches."""
        listed = [r for r in self.records if r.usage]
        if is_help and args:
            args = args[1:]
        args = args or []
        length = 0
        for rec in listed:
            w = self.words(rec)
            idx = 0
            while idx < len(w) and idx < len(args) and w[idx] == args[idx]:
                idx += 1
            length = max(length, idx)
        if is_help:
            head = "The following commands are valid at this level:\n"
        elif not args:
            head = "Unknown command: ''. Please enter one of the following commands only:\n"
        else:
            head = f"Unknown command: '{args[0]}'"
            head += (", but maybe one of the following ones is a better match:\n" if length
                     or args else ". Please enter one of the following commands only:\n")
        entries: list[CliCommand] = []
        if len(args) > length:
            matches: list[tuple[int, int, CliCommand]] = []
            for n, rec in enumerate(listed):
                w = self.words(rec)
                if tuple(w[:length]) != tuple(args[:length]) or len(w) < length:
                    continue
                word_fp = [0] * 1024
                list_fp = [0] * 1024
                total = 0
                for a in args[length:]:
                    _fingerprint(word_fp, a)
                    total += len(a)
                for k in w[length:]:
                    _fingerprint(list_fp, k)
                    total += len(k)
                dist = _distance(word_fp, list_fp)
                if dist < 5 * total // 2:
                    matches.append((dist, n, rec))
            matches.sort(key=lambda m: (m[0], m[1]))
            matches = matches[:MAX_MATCHES]
            for dist, _n, rec in matches:
                if dist > 5 * matches[0][0] // 2:
                    break
                entries.append(rec)
        if not entries:
            for rec in listed:
                w = self.words(rec)
                if tuple(w[:length]) == tuple(args[:length]) and len(w) >= length:
                    entries.append(rec)
        lines = sorted(help_line(r) for r in entries)
        return head + "".join(f"  {line}\n" for line in lines) + BASIC_HELP


def commands_of(config: Any) -> Commands:
    cmds = config.ext.get("cli_commands")
    if cmds is None:
        cmds = config.ext["cli_commands"] = Commands(config.registry.all(CliCommand))
    return cmds


class CliSession:
    """One runtime API connection: its level, mode, and what handlers need."""

    def __init__(self, config: Any, runtime: Any, level: str, *, bind: Any = None,
                 commands: Commands | None = None) -> None:
        self.config = config
        #: the commands this session runs (default: the configuration's)
        self.commands = commands
        self.runtime = runtime
        self.level = level
        self.bind = bind
        self.mode = "n"
        self.timed = False
        self.payload: str | None = None
        self.closing = False
        #: per-session state handlers may keep (keyed by plugin)
        self.ext: dict[str, Any] = {}
        #: ``async send(text)`` writing to the client now (streamed outputs)
        self.send: Any = None
        #: ``async wait_input()`` returning when the client sends something or closes
        self.wait_input: Any = None

    # -- what handlers use -------------------------------------------------------------------
    def has_level(self, level: str) -> bool:
        return LEVELS[self.level] >= LEVELS[level]

    @property
    def interactive(self) -> bool:
        return self.mode != "n"

    def prompt(self) -> str:
        if self.mode != "p":
            return ""
        if not self.timed:
            return "> "
        started = getattr(self.runtime, "started", None) or time.time()
        up = int(time.time() - started)
        d, rest = divmod(up, 86400)
        h, rest = divmod(rest, 3600)
        m, s = divmod(rest, 60)
        return f"[{d}:{h:02d}:{m:02d}:{s:02d}]> "

    # -- running ----------------------------------------------------------------------------
    async def answer(self, stream: Any, out: str) -> bool:
        """Send a line's output on ``stream``, then the prompt in prompt mode (unless the
        session is closing); True when the session ends here (``quit``, or not
        interactive)."""
        if self.mode == "p" and not self.closing:
            out += self.prompt()
        if out:
            await stream.send(out.encode("latin-1", "replace"))
        return self.closing or not self.interactive

    def command_set(self) -> Commands:
        return self.commands if self.commands is not None else commands_of(self.config)

    async def run(self, args: list[str]) -> Any:
        """Run one command; its output (without the framing): text, or an async iterator
        of text chunks for streamed outputs."""
        cmds = self.command_set()
        rec = cmds.find(args)
        if rec is None:
            return cmds.usage(args, False)
        if not self.has_level(rec.level):
            return PERMISSION_DENIED
        try:
            out = rec.handler(self, args)  # type: ignore[misc]
            if inspect.isawaitable(out):
                out = await out
        except CliError as exc:
            text = str(exc)
            return text if text.endswith("\n") or not text else text + "\n"
        return out or ""

    async def _stream(self, res: Any) -> None:
        """Send a streamed output until it ends or the client's input stops it."""
        async with anyio.create_task_group() as tg:
            async def pump() -> None:
                try:
                    async for chunk in res:
                        await self.send(chunk)
                finally:
                    tg.cancel_scope.cancel()

            async def watch() -> None:
                await self.wait_input()
                tg.cancel_scope.cancel()
            tg.start_soon(pump)
            if self.wait_input is not None:
                tg.start_soon(watch)

    async def run_line(self, line: str) -> str:
        """Run every command of a line; the output with the framing after each."""
        out: list[str] = []
        for args in split_commands(line):
            res = await self.run(args)
            if hasattr(res, "__aiter__"):
                if self.send is not None:
                    await self.send("".join(out))
                    out = []
                    await self._stream(res)
                else:
                    async for chunk in res:
                        out.append(chunk)
            else:
                out.append(res)
            if self.closing:
                return "".join(out)
            out.append("\n")
        return "".join(out)


# -- the interpreter's own commands ---------------------------------------------------------------

def _help(cli: CliSession, args: list[str]) -> str:
    return cli.command_set().usage(args, True)


PROMPT_HELP = ("Usage: prompt [help | n | i | p | timed]*\n"
               "Changes the default prompt and interactive mode. Available options:\n"
               "    help   display this help\n"
               "    n      set the prompt mode to non-interactive mode (single command)\n"
               "    i      set the prompt mode to interactive mode without prompt\n"
               "    p      set the prompt mode to interactive mode with prompt\n"
               "    timed  toggles adding a timer to the prompt\n"
               "Without any option, this will cycle through prompt mode then non-interactive "
               "mode.\n")


def _prompt(cli: CliSession, args: list[str]) -> str:
    opts = args[1:]
    if not opts:
        cli.mode = "n" if cli.mode == "p" else "p"
        return ""
    for opt in opts:
        if opt == "help":
            return PROMPT_HELP
        if opt in ("n", "i", "p"):
            cli.mode = opt
        elif opt == "timed":
            cli.timed = not cli.timed
        else:
            raise CliError(f"Unknown prompt mode '{opt}'.\n{PROMPT_HELP}")
    return ""


def _quit(cli: CliSession, args: list[str]) -> str:
    cli.closing = True
    return ""


def _lower(level: str) -> Any:
    def lower(cli: CliSession, args: list[str]) -> str:
        if LEVELS[level] < LEVELS[cli.level]:
            cli.level = level
        return ""
    return lower


def _cli_level(cli: CliSession, args: list[str]) -> str:
    return cli.level + "\n"


#: the commands of every CLI session, the master CLI's too (``prompt`` differs)
SESSION_COMMANDS = (
    CliCommand("help", words=("help",), level="user", handler=_help,
               doc="help [<command>]\n\nList matching or all commands."),
    CliCommand("quit", words=("quit",), level="user", handler=_quit,
               doc="quit\n\nClose the session."),
    CliCommand("user", words=("user",), level="user", handler=_lower("user"),
               usage="user",
               doc="user\n\nLower the level of the current CLI session to user."),
    CliCommand("operator", words=("operator",), level="user",
               handler=_lower("operator"), usage="operator",
               doc="operator\n\nLower the level of the current CLI session to operator."),
    CliCommand("show cli level", words=("show", "cli", "level"), level="user",
               handler=_cli_level, usage="show cli level",
               doc="show cli level\n\nDisplay the level of the current CLI session."),
)


@hookimpl
def hapx_register_cli_commands(commands: Any) -> None:
    commands.add(
        CliCommand("prompt", words=("prompt",), level="user", handler=_prompt,
                   doc="prompt [help | n | i | p | timed]*\n\nSet the session mode: n "
                       "non-interactive, i interactive without prompt, p interactive with "
                       "prompt, timed toggles the uptime in the prompt; alone it toggles "
                       "between p and n."),
        *SESSION_COMMANDS,
    )
