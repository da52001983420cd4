"""HTTP replies built by hapx itself (deny, tarpit, return, auth): parsing their arguments
and building the response at run time.

The built response is stored on the stream as ``strm.ext["http_reply"]`` (a
:class:`~hapx.core.stream.HttpMessage` with its whole body): the data path sends it instead
of forwarding the request or the server's response.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hapx.core.proto.errors import error_message, reply_message
from hapx.core.rules import UnexpectedWord
from hapx.core.stream import HttpMessage

from .common import compile_fmt
from .pages import (
    REPLY_ERRFILE_STATUSES,
    RawResponseError,
    copy_message,
    parse_raw_response,
    reason,
)

#: the key of the reply on ``strm.ext``
REPLY_KEY = "http_reply"
_BODY_WORDS = ("default-errorfiles", "errorfile", "errorfiles", "file", "lf-file", "string",
               "lf-string")
#: headers an http reply computes itself
_IGNORED_HDRS = ("content-length", "transfer-encoding")


@dataclass
class HttpReply:
    """A reply description: ``kind`` is "errmsg" (the proxy's or built-in error page),
    "errorfile" (a full response from a file), "errorfiles" (an http-errors section),
    "empty", "raw" (a constant body) or "fmt" (a log-format body)."""

    status: int
    kind: str = "errmsg"
    ctype: str | None = None
    body: bytes = b""
    fmt: Any = None
    raw: HttpMessage | None = None
    errors_section: str = ""
    #: the http-errors section object, resolved once the configuration is parsed
    errors_obj: Any = None
    headers: list[tuple[str, Any]] = field(default_factory=list)

    def build(self, strm: Any, proxy: Any = None) -> HttpMessage:
        if self.kind == "errorfile" and self.raw is not None:
            return copy_message(self.raw)
        if self.kind in ("errmsg", "errorfiles"):
            return error_page(strm, self.status, proxy, self.errors_obj)
        msg = HttpMessage(version="1.1", status=self.status, reason=reason(self.status))
        body = self.body
        if self.kind == "fmt":
            body = self.fmt.render(strm).encode("latin-1", "replace")
        for name, value in self.headers:
            msg.add(name, value.render(strm))
        if self.status not in (204, 304):
            msg.add("content-length", str(len(body)))
        if body and self.ctype:
            msg.add("content-type", self.ctype)
        msg.body = body
        msg.body_complete = True
        return msg


def error_page(strm: Any, status: int, proxy: Any = None, section: Any = None) -> HttpMessage:
    """The page a rule answers for ``status``: an ``http-errors`` section's when the rule
    names one (``errorfiles <name>``), else the overrides of the rule's proxy, the stream's
    backend and frontend (``errorfile``/``http-error``), else HAProxy's built-in page; the
    same lookup as the data path's errors (:func:`hapx.core.proto.errors.error_message`)."""
    if section is not None:
        page = getattr(section, "errors", section).get(status)
        if page is not None:
            found = reply_message(page, status, strm)
            if found is not None:
                return found
    return error_message(strm, status, proxy, getattr(strm, "backend", None),
                         getattr(strm, "frontend", None))


def _read(ctx: Any, path: str, dot: bool) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError:
        raise ctx.error(f"error opening file '{path}'{'.' if dot else ''}") from None


def parse_reply(ctx: Any, args: list[str], default_status: int, *,
                status_words: tuple[str, ...] = ("status",),
                errmsg_by_default: bool = True) -> HttpReply:
    """Parse the arguments of deny/tarpit/return (HAProxy's http_parse_http_reply).

    ``errmsg_by_default``: with no payload, content-type nor header, answer the error page
    (deny, tarpit) rather than an empty response (return).  Words that are not arguments
    raise :class:`UnexpectedWord`."""
    status = default_status
    ctype: str | None = None
    body_word = ""
    body_arg = ""
    hdrs: list[tuple[str, str]] = []
    i = 0
    while i < len(args):
        word = args[i]
        if word in status_words:
            if i + 1 >= len(args):
                raise ctx.error(f"'{word}' expects <status_code> as argument")
            text = args[i + 1]
            digits = ""
            for ch in text:
                if not ch.isdigit():
                    break
                digits += ch
            status = int(digits) if digits else 0
            if status < 200 or status > 599:
                raise ctx.error(f"Unexpected status code '{status}'")
            i += 2
        elif word == "content-type":
            if i + 1 >= len(args):
                raise ctx.error("'content-type' expects <ctype> as argument")
            ctype = args[i + 1]
            i += 2
        elif word in _BODY_WORDS:
            if body_word:
                raise ctx.error(f"unexpected '{word}' argument, '{body_word}' already defined")
            if word != "default-errorfiles":
                if i + 1 >= len(args):
                    what = {"errorfiles": "<name>", "string": "<str>", "lf-string": "<fmt>"}
                    raise ctx.error(f"'{word}' expects {what.get(word, '<file>')} as argument")
                body_arg = args[i + 1]
                i += 1
            body_word = word
            i += 1
        elif word == "hdr":
            if i + 2 >= len(args):
                raise ctx.error("'hdr' expects <name> and <value> as arguments")
            hdrs.append((args[i + 1], args[i + 2]))
            i += 3
        else:
            raise UnexpectedWord(word)

    if not body_word and errmsg_by_default and ctype is None and not hdrs:
        body_word = "default-errorfiles"

    reply = HttpReply(status=status)
    if body_word in ("default-errorfiles", "errorfile", "errorfiles"):
        if ctype is not None:
            ctx.warning(f"content-type '{ctype}' ignored by the http reply when used with an "
                        "erorrfile.")
        if hdrs:
            ctx.warning("hdr parameters ignored by the http reply when used with an erorrfile.")
        if body_word == "errorfile":
            data = _read(ctx, body_arg, dot=True)
            try:
                reply.raw = parse_raw_response(data)
            except RawResponseError as exc:
                raise ctx.error(f"'{body_arg}': {exc}") from None
            reply.kind = "errorfile"
            return reply
        if status not in REPLY_ERRFILE_STATUSES:
            raise ctx.error(f"status code '{status}' not handled by default with "
                            f"'{body_word}' argument.")
        if body_word == "errorfiles":
            reply.kind = "errorfiles"
            reply.errors_section = body_arg
            ctx.defer(lambda config: _resolve_errors_section(ctx, config, reply))
        return reply

    for name, value in hdrs:
        if name.lower() in _IGNORED_HDRS or name.lower() == "content-type":
            ctx.warning(f"header '{name}' always ignored by the http reply.")
            continue
        reply.headers.append((name, compile_fmt(ctx, value)))

    if body_word in ("", "file", "string"):
        body = b""
        if body_word == "file":
            body = _read(ctx, body_arg, dot=False)
        elif body_word == "string":
            body = body_arg.encode("latin-1", "replace")
        reply.kind = "raw" if body_word else "empty"
        reply.body = body
        if not body_word:
            if ctype is not None:
                ctx.warning(f"content-type '{ctype}' ignored by the http reply because neither "
                            "errorfile nor payload defined.")
            return reply
        if not body:
            if ctype is not None:
                ctx.warning(f"content-type '{ctype}' ignored by the http reply when used with "
                            "an empty payload.")
            return reply
    else:
        text = body_arg
        if body_word == "lf-file":
            text = _read(ctx, body_arg, dot=False).decode("latin-1")
        reply.kind = "fmt"
        reply.fmt = compile_fmt(ctx, text)
        if not text:
            reply.kind, reply.fmt = "empty", None
            if ctype is not None:
                ctx.warning(f"content-type '{ctype}' ignored by the http reply when used with "
                            "an empty payload.")
            return reply
    if ctype is None:
        raise ctx.error("a content type must be defined when non-empty payload is configured")
    if status in (204, 304):
        raise ctx.error(f"No body expected for {status} responses")
    reply.ctype = ctype
    return reply


def _resolve_errors_section(ctx: Any, config: Any, reply: HttpReply) -> None:
    name = reply.errors_section
    sect = config.sections.get("http-errors", {}).get(name)
    if sect is None:
        raise ctx.error(f"Proxy '{ctx.section.name}': unknown http-errors section '{name}' "
                        "referenced by an http reply .")
    reply.errors_obj = sect
