"""``balance uri``: hash of the request URI (before '?', or whole), limited in length or
depth, or only its path."""

from __future__ import annotations

from typing import Any

from hapx.core.hookspecs import hookimpl
from hapx.core.records import Balancer
from hapx.plugins.servers.lbhashpick import HashPicker


def _no_param(ctx: Any) -> None:
    if ctx is not None and ctx.param is not None:
        raise ctx.error(f"'{ctx.keyword}' takes no parameter in parentheses.")


def _count(ctx: Any, word: str, text: str | None) -> int:
    if text is None or not text.isdigit() or int(text) <= 0:
        raise ctx.error(f"'{ctx.keyword}' : '{word}' expects a positive integer.")
    return int(text)


def parse_uri(ctx: Any, args: list[str]) -> dict[str, Any]:
    _no_param(ctx)
    out: dict[str, Any] = {"len": 0, "depth": 0, "whole": False, "path-only": False}
    i = 0
    while i < len(args):
        word = args[i]
        if word in ("len", "depth"):
            out[word] = _count(ctx, word, args[i + 1] if i + 1 < len(args) else None)
            i += 2
        elif word in ("whole", "path-only"):
            out[word] = True
            i += 1
        else:
            raise ctx.error("'balance uri' only accepts parameters 'len', 'depth', 'whole' "
                            f"and 'path-only' (got '{word}').")
    return out


def http_path(uri: str) -> str:
    """HAProxy's ``http_get_path``: the URI from its first '/' after an optional
    ``scheme://authority``; empty for '*' or a URI without a path."""
    if not uri or uri[0] == "*":
        return ""
    pos = 0
    n = len(uri)
    if uri[0].isalpha():
        pos = 1
        while pos < n and (uri[pos].isalnum() or uri[pos] in "+-."):
            pos += 1
        if uri[pos:pos + 3] != "://":
            return ""
        pos += 3
    slash = uri.find("/", pos)
    return "" if slash < 0 else uri[slash:]


def uri_key(uri: str, length: int, depth: int, whole: bool) -> str:
    """The part of the URI hashed by ``get_server_uh``: at most ``length`` characters,
    ending before the ``depth + 1``-th '/' and, unless ``whole``, before the '?'."""
    if length:
        uri = uri[:length]
    end = len(uri)
    if not whole:
        q = uri.find("?")
        if q >= 0:
            end = q
    if depth:
        pos = -1
        for _ in range(depth + 1):
            pos = uri.find("/", pos + 1, end)
            if pos < 0:
                break
        else:
            end = pos
    return uri[:end]


def _build(backend: Any, settings: dict[str, Any]) -> HashPicker:
    length, depth = settings["len"], settings["depth"]
    whole, path_only = settings["whole"], settings["path-only"]
    plain = not (length or depth or whole or path_only)

    def uri_hash(strm: Any, picker: HashPicker) -> int | None:
        req = strm.req
        if req is None:
            return None
        uri = req.uri
        if plain:
            q = uri.find("?")
            key = uri if q < 0 else uri[:q]
        else:
            if path_only:
                uri = http_path(uri)
            key = uri_key(uri, length, depth, whole)
        return picker.hasher(key.encode("latin-1", "replace"))

    return HashPicker(backend, uri_hash)


@hookimpl
def hapx_register_balancers(balancers: Any) -> None:
    balancers.add(Balancer(
        "uri", parse=parse_uri, build=_build,
        doc="uri [len <n>] [depth <n>] [whole] [path-only]\n\nThe request URI is hashed, up "
            "to the '?' (or whole with 'whole'), at most 'len' characters and up to the "
            "'depth'-th directory (whichever limit comes first); 'path-only' hashes only the "
            "path of absolute URIs (so HTTP/1 and HTTP/2 requests hash alike).  The same URI "
            "reaches the same server: good for caches.  HTTP only (round robin in TCP "
            "mode).  Static (map-based) unless 'hash-type consistent'."))
