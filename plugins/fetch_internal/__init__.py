"""Sample fetches about internal state: constants (always_true, str, int, bool, bin, ipv4,
ipv6, meth), the environment and the host, the clock and random numbers (date, rand, uuid),
the process (pid, uptime, stopping), the live state of proxies and servers (nbsrv, be_conn,
queue, connslots, fe_conn, srv_is_up ...) and the transaction (txn.status, last_rule_file
...).  Also the predefined ACLs TRUE and FALSE.

See :mod:`.proxies` for where the live state of proxies and servers is kept.
"""

from __future__ import annotations

from typing import Any

from hapx.core.hookspecs import hookimpl
from hapx.core.records import PredefinedAcl

from . import clock, consts, proxies, txn

PREDEFINED = (
    PredefinedAcl("TRUE", criterion=("always_true",),
                  doc="TRUE\n\nAlways matches (always_true)."),
    PredefinedAcl("FALSE", criterion=("always_false",),
                  doc="FALSE\n\nNever matches (always_false)."),
)


@hookimpl
def hapx_register_fetches(fetches: Any) -> None:
    fetches.add(*consts.RECORDS, *clock.RECORDS, *proxies.RECORDS, *txn.RECORDS, *PREDEFINED)
