"""HTTP sample fetches (layer 7), buffer contents fetches (layer 6), the ACL keywords derived
from them (path_beg, hdr_sub, cook_reg ...) and the predefined HTTP ACLs.

Multi-valued fetches (headers, cookies, URL and body parameters) also give ``values``: every
value, for ACLs to try each.
"""

from __future__ import annotations

from typing import Any

from hapx.core.hookspecs import hookimpl

from . import acls, headers, payload, request, response


@hookimpl
def hapx_register_fetches(fetches: Any) -> None:
    fetches.add(*request.RECORDS, *headers.RECORDS, *response.RECORDS, *payload.RECORDS,
                *acls.RECORDS)
