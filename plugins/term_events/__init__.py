"""The 3.2 ``term_events`` fetch: the series of termination events of a stream
(``{,,e1,S1s1,,,F7}``), for logs.

The events are recorded by the data path of a later issue; until then the fetch is
registered with its signature so ``log-format "... %[term_events]"`` is checked, and it is
inactive (``hapx -c`` lists each use; hapx refuses to carry traffic with it).
"""

from __future__ import annotations

from typing import Any

from hapx.core.hookspecs import hookimpl
from hapx.core.records import Fetch, SmpType, Use


@hookimpl
def hapx_register_fetches(fetches: Any) -> None:
    fetches.add(Fetch(
        "term_events", out_type=SmpType.STR, uses=Use.INTERNAL, active=False,
        doc="term_events\n\nThe termination events of the stream and its connections, as "
            "HAProxy 3.2 logs them: one comma-separated field per location, each a series of "
            "event codes.  Not active yet: events are recorded by the data path.",
    ))
