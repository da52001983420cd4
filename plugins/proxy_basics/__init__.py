"""General proxy settings: mode, names and ids, limits, plain ``option`` flags, error
replies, capture slots, retries and connection reuse, unique ids.

What each keyword stores (the data path reads these):

- ``proxy.mode``: "tcp", "http", "log" or "spop".
- ``proxy.options[name]``: bool, one per ``option <name>`` flag (``no option`` stores
  False).  The HTTP connection modes httpclose / http-server-close / http-keep-alive
  exclude each other.
- ``proxy.settings``: ``description``, ``disabled``, ``id``, ``maxconn``, ``fullconn``,
  ``backlog``, ``rate-limit sessions``, ``monitor-uri``, ``source``, ``guid``, ``retries``,
  ``retry-on``, ``http-reuse``, ``max-keep-alive-queue``, ``unique-id-format`` (a
  LogFormat), ``unique-id-header``, ``forwardfor`` / ``originalto`` (dicts),
  ``redispatch`` (interval), ``http-restrict-req-hdr-names``, ``http-errors`` (status ->
  :class:`~.errors.ErrorReply`), ``captures`` and ``capture cookie`` (see
  :mod:`.captures`).

At check time (``hapx_configure``) this plugin compiles the log-formats that proxies
inherited from defaults sections (see :mod:`.lfsource`), numbers proxies without an ``id``
with the lowest free ids, and resets HTTP-only options in proxies of another mode.
"""

from __future__ import annotations

from typing import Any

from hapx.core.config.model import Config
from hapx.core.hookspecs import hookimpl

from . import basics, captures, errors, options
from .lfsource import compile_sources


@hookimpl
def hapx_register_sections(sections: Any) -> None:
    sections.add(*errors.sections())


@hookimpl
def hapx_register_directives(directives: Any) -> None:
    directives.add(*basics.directives(), *options.directives(), *errors.directives(),
                   *captures.directives())


def _number_proxies(config: Config) -> None:
    used = {px.settings["id"] for px in config.proxies if "id" in px.settings}
    next_id = 1
    for px in config.proxies:
        if "id" in px.settings:
            continue
        while next_id in used:
            next_id += 1
        px.uuid = next_id
        used.add(next_id)


@hookimpl
def hapx_configure(config: Config) -> None:
    _number_proxies(config)
    compile_sources(config)
    options.check_http_only(config)
