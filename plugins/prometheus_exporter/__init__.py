"""The Prometheus exporter: ``http-request use-service prometheus-exporter [if ...]``.

It serves HAProxy's promex metrics (``haproxy_process_*``, ``haproxy_frontend_*``,
``haproxy_backend_*``, ``haproxy_server_*``, ``haproxy_sticktable_*``) with HAProxy's names,
labels and help texts, read from the one statistics registry ``show stat`` and ``show info``
use: a field a plugin adds with ``hapx_register_stats`` is exported too, under the promex
name when it has one, else under a name derived from the field.  The metric families are
prometheus-client ``Metric`` objects: the service writes them as promex does, and
:class:`~.exporter.PromexCollector` hands them to a prometheus-client registry.
"""

from __future__ import annotations

from typing import Any

from hapx.core.hookspecs import hookimpl
from hapx.core.records import ActResult, Feature, Service
from hapx.core.stream import HttpMessage

from .exporter import Query, QueryError, render

#: promex's Content-Type
CONTENT_TYPE = "text/plain; version=0.0.4"


class PromexApplet:
    """The applet of one ``use-service prometheus-exporter`` rule."""

    def __init__(self, config: Any) -> None:
        self.config = config

    def run(self, strm: Any) -> ActResult:
        try:
            query = Query.parse(strm.req.query if strm.req is not None else None)
        except QueryError:
            strm.ext["http_reply"] = HttpMessage(
                status=400, reason="Bad Request", headers=[("content-type", "text/plain")],
                body=b"Bad Request\n", body_complete=True)
            return ActResult.DONE
        body = render(self.config, query).encode()
        headers = [("content-type", CONTENT_TYPE), ("content-length", str(len(body)))]
        if strm.req is not None and strm.req.method == "HEAD":
            body = b""
        strm.ext["http_reply"] = HttpMessage(status=200, reason="OK", headers=headers,
                                             body=body, body_complete=True)
        return ActResult.DONE


def _factory(ctx: Any, args: list[str]) -> PromexApplet:
    if args:
        from hapx.core.rules import UnexpectedWord

        raise UnexpectedWord(args[0])
    return PromexApplet(ctx.config)


@hookimpl
def hapx_register_services(services: Any) -> None:
    services.add(Service(
        "prometheus-exporter", modes=frozenset({"http"}), factory=_factory,
        doc="prometheus-exporter\n\nServe the statistics in Prometheus' text format with "
            "HAProxy's metric names (http-request use-service prometheus-exporter if { path "
            "/metrics }).  Query parameters: scope=<global|frontend|listener|backend|server|"
            "sticktable|*> (repeatable, empty selects none), metrics=<name>,-<name>, "
            "no-maint (leave out servers in maintenance)."))


@hookimpl
def hapx_register_features(features: Any) -> None:
    features.add(Feature("PROMEX", doc="PROMEX\n\nThe Prometheus exporter service "
                                       "(prometheus-exporter) is available."))
