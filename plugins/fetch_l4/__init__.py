"""Layer 4 sample fetches: the client connection's addresses (src, dst, fc_src ...), the
server connection's (bc_src, bc_dst ...), the proxies and server handling the stream
(fe_name, be_id, srv_name ...), and connection facts (fc_http_major, fc_rcvd_proxy, fc_err,
bc_reused ...).  Also the predefined ACL LOCALHOST.

Addresses are ``ipaddress`` objects; a sample is typed IPV4 or IPV6 after the address, the
declared output type being IPV4 as in HAProxy.  ``src``/``dst`` reflect a PROXY protocol
header when one was received; ``fc_*`` always give the connection's own addresses
(``Session.conn_src`` ... when the data path recorded them apart).
"""

from __future__ import annotations

from typing import Any

from hapx.core.hookspecs import hookimpl
from hapx.core.records import PredefinedAcl

from . import conn, names

PREDEFINED = (
    PredefinedAcl("LOCALHOST", criterion=("src", "127.0.0.1/8", "::1"),
                  doc="LOCALHOST\n\nThe client connects from the local host (src "
                      "127.0.0.1/8 ::1)."),
)


@hookimpl
def hapx_register_fetches(fetches: Any) -> None:
    fetches.add(*conn.RECORDS, *names.RECORDS, *PREDEFINED)
