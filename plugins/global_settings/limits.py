"""The file-descriptor limit, applied at start-up as HAProxy applies it.

HAProxy needs two descriptors per connection (client and server side) plus a few of its
own: ``maxsock`` = 2 x ``maxconn`` + the listening sockets + a fixed reserve.  Without
``ulimit-n`` it raises the soft ``RLIMIT_NOFILE`` to ``maxsock`` when it is below;
``ulimit-n <n>`` asks for ``n`` instead.  What cannot be applied is refused with
``strict-limits`` (HAProxy's default) or reported and lived with under ``no
strict-limits``, with HAProxy's messages:

    [hapx.main()] Cannot raise FD limit to <wanted>, limit is <limit>.
    [hapx.main()] FD limit (<n>) too low for maxconn=<m>/maxsock=<s>. Please raise
    'ulimit-n' to <s> or more to avoid any trouble.
"""

from __future__ import annotations

import resource
from typing import Any

from hapx.core.cli.check import say
from hapx.core.errors import StartupRefused

#: descriptors hapx keeps besides its connections and listeners (event loop, wake-up
#: pipe, log sockets, the runtime API ...); HAProxy's own reserve is of the same order
RESERVE = 16
APPLIED = "fd-limit-applied"


def maxsock(config: Any, maxconn: int) -> int:
    binds = sum(len(fe.binds or ()) for fe in config.frontends)
    return 2 * maxconn + binds + RESERVE


def apply_fd_limit(config: Any, runtime: Any) -> None:
    """Raise RLIMIT_NOFILE for ``maxconn`` (or to ``ulimit-n``); once per process."""
    if config.ext.get(APPLIED):
        return
    config.ext[APPLIED] = True
    g = config.global_.settings
    strict = g.get("strict-limits", True) is not False
    maxconn = int(g.get("maxconn") or getattr(runtime, "maxconn", 0) or 0)
    wanted = int(g.get("ulimit-n") or 0)
    need = maxsock(config, maxconn) if maxconn else 0
    if not wanted:
        wanted = need
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if wanted and soft != resource.RLIM_INFINITY and wanted > soft:
        try:
            new_hard = hard if hard == resource.RLIM_INFINITY else max(hard, wanted)
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, new_hard))
        except (OSError, ValueError):
            if strict:
                msg = f"[hapx.main()] Cannot raise FD limit to {wanted}, limit is {soft}."
                say("alert", msg)
                raise StartupRefused(msg) from None
            # the most there is, at least, and say what that is
            if hard != resource.RLIM_INFINITY and hard > soft:
                resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            say("warning", f"[hapx.main()] Cannot raise FD limit to {wanted}, limit is "
                           f"{resource.getrlimit(resource.RLIMIT_NOFILE)[0]}.")
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if g.get("ulimit-n"):
        limit = min(limit, int(g["ulimit-n"]))
    if need and limit != resource.RLIM_INFINITY and limit < need:
        msg = (f"[hapx.main()] FD limit ({limit}) too low for maxconn={maxconn}/"
               f"maxsock={need}. Please raise 'ulimit-n' to {need} or more to avoid any "
               f"trouble.")
        say("alert", msg)
        if strict:
            raise StartupRefused(msg)
