"""Rendering the statistics registry in Prometheus' text exposition format, as HAProxy's
promex does: ``# HELP``/``# TYPE`` then every series of a metric together, metrics in the
order of the registry's fields, scopes in promex's order (process, frontends, listeners,
backends, servers, stick tables).

The values come from the same registry and per-object views as ``show stat`` / ``show
info`` (:mod:`hapx.core.stats`, :mod:`hapx.core.runtime.statdump`); the names from
:mod:`.names`.  Query parameters: ``scope`` (repeatable; ``*`` all, empty none; global,
frontend, listener, backend, server, sticktable), ``metrics`` (comma-separated names to keep,
``-name`` to drop) and ``no-maint`` (skip servers in maintenance).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from hapx.core.runtime import statdump
from hapx.core.stats import StatField, stats_of
from hapx.core.version import HAPROXY_VERSION
from prometheus_client.metrics_core import Metric

from . import names
from .names import (
    BACK_STATES,
    CHECK_STATES,
    COUNTER,
    FRONT_STATES,
    GAUGE,
    HRSP_CODES,
    INFO_IGNORED,
    INFO_METRICS,
    PX_IGNORED,
    PX_METRICS,
    SRV_STATES,
    InfoMetric,
    PxMetric,
)
from .tables import tables_of

SCOPES = ("global", "frontend", "listener", "backend", "server", "sticktable")

#: fields promex exports only for proxies in mode http
HTTP_ONLY = frozenset({"req_rate_max", "req_tot", "intercepted", "cache_lookups",
                       "cache_hits", "comp_in", "comp_out", "comp_byp", "comp_rsp",
                       *HRSP_CODES})


class QueryError(ValueError):
    """A query string the exporter refuses (HAProxy answers 400)."""


@dataclass
class Query:
    """The exporter's parameters, from the request's query string."""

    scopes: set[str] = field(default_factory=lambda: set(SCOPES))
    no_maint: bool = False
    include: set[str] = field(default_factory=set)
    exclude: set[str] = field(default_factory=set)

    @classmethod
    def parse(cls, qs: str | None) -> Query:
        q = cls()
        seen_scope = False
        for key, value in parse_qsl(qs or "", keep_blank_values=True):
            if key == "scope":
                if not seen_scope:
                    q.scopes = set()
                    seen_scope = True
                if value == "":
                    q.scopes = set()
                elif value == "*":
                    q.scopes = set(SCOPES)
                elif value in SCOPES:
                    q.scopes.add(value)
                else:
                    raise QueryError(f"unknown scope '{value}'")
            elif key == "no-maint":
                q.no_maint = True
            elif key == "metrics":
                for name in value.split(","):
                    name = name.strip()
                    if name.startswith("-"):
                        q.exclude.add(name[1:])
                    elif name:
                        q.include.add(name)
        return q

    def wants(self, metric: str) -> bool:
        if metric in self.exclude:
            return False
        return not self.include or metric in self.include


class Families:
    """Metric families (prometheus-client :class:`Metric` objects) in first-seen order.

    ``text()`` writes them as promex does (integers as integers, other numbers with six
    decimals, labels in promex's order); :class:`PromexCollector` hands them to
    prometheus-client's own registry and writers."""

    def __init__(self, query: Query) -> None:
        self.query = query
        self.fams: dict[str, Metric] = {}

    def add(self, name: str, help_: str, typ: str, labels: list[tuple[str, str]],
            value: float | int) -> None:
        if not self.query.wants(name):
            return
        fam = self.fams.get(name)
        if fam is None:
            fam = self.fams[name] = Metric(name, help_, typ)
        fam.add_sample(name, dict(labels), value)

    def metrics(self) -> list[Metric]:
        return list(self.fams.values())

    def text(self) -> str:
        out = []
        for fam in self.fams.values():
            out.append(f"# HELP {fam.name} {_escape_help(fam.documentation)}\n"
                       f"# TYPE {fam.name} {fam.type}\n")
            out.extend(f"{smp.name}{_labels(list(smp.labels.items()))} "
                       f"{_number(smp.value)}\n" for smp in fam.samples)
        return "".join(out)


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _labels(labels: list[tuple[str, str]]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape_label(v)}"' for k, v in labels) + "}"


def _number(value: float | int) -> str:
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    return f"{value:f}"


# -- process ---------------------------------------------------------------------------------------

def _process(fams: Families, config: Any, ctx: statdump.StatsContext) -> None:
    reg = stats_of(config)
    for fld in reg.info:
        if fld.name in INFO_IGNORED:
            continue
        metric = INFO_METRICS.get(fld.name) or names.derived_info(fld.name, fld.tags, fld.desc)
        name = names.PROCESS + metric.suffix
        if fld.name == "Build info":
            fams.add(name, metric.help, GAUGE, [("version", HAPROXY_VERSION)], 1)
            continue
        try:
            val = fld.get(ctx) if fld.get is not None else None
        except Exception:  # noqa: BLE001 - one broken plugin field must not break a scrape
            val = None
        num = _numeric(val)
        if num is not None:
            fams.add(name, metric.help, metric.type, [], num)


def _numeric(val: Any) -> int | float | None:
    if isinstance(val, bool):
        return int(val)
    if isinstance(val, (int, float)):
        return val
    return None


# -- proxies and servers -----------------------------------------------------------------------

def _metric_of(fld: StatField) -> PxMetric | None:
    if fld.name in PX_IGNORED:
        return None
    known = PX_METRICS.get(fld.name)
    if known is not None:
        return known
    return names.derived(fld.name, fld.tags, fld.kinds, fld.desc)


def _srv_state(status: str) -> str:
    if status.startswith("MAINT"):
        return "MAINT"
    word = status.split(" ", 1)[0]
    if word in SRV_STATES:
        return word
    return "UP" if status == "no check" else "DOWN"


def _base_labels(obj: statdump.StatObject) -> list[tuple[str, str]]:
    labels = [("proxy", obj.px.name)]
    if obj.kind == "S":
        labels.append(("server", obj.srv.name))
    return labels


def _status(fams: Families, name: str, metric: PxMetric, obj: statdump.StatObject) -> None:
    status = obj.status
    if obj.kind == "F":
        states, current = FRONT_STATES, "DOWN" if status == "STOP" else "UP"
    elif obj.kind == "B":
        states, current = BACK_STATES, "UP" if status == "UP" else "DOWN"
    else:
        states, current = SRV_STATES, _srv_state(status)
    base = _base_labels(obj)
    for state in states:
        fams.add(name, metric.help, metric.type, [*base, ("state", state)],
                 int(state == current))


def _check_status(fams: Families, name: str, metric: PxMetric, obj: statdump.StatObject,
                  val: Any) -> None:
    current = str(val).lstrip("* ").split(" ", 1)[0]
    base = _base_labels(obj)
    for state in CHECK_STATES:
        fams.add(name, metric.help, metric.type, [*base, ("state", state)],
                 int(state == current))


def _objects(fams: Families, reg: Any, objs: list[statdump.StatObject], kind: str) -> None:
    prefix = names.PREFIX[kind]
    for fld in reg.all_fields():
        if kind not in fld.kinds:
            continue
        metric = _metric_of(fld)
        if metric is None or kind not in metric.kinds:
            continue
        name = prefix + metric.suffix
        for obj in objs:
            if fld.name in HTTP_ONLY and not obj.http:
                continue
            if fld.name == "status":
                _status(fams, name, metric, obj)
                continue
            try:
                val = fld.get(kind, obj) if fld.get is not None else None
            except Exception:  # noqa: BLE001
                val = None
            if val is None:
                continue
            if fld.name == "check_status":
                _check_status(fams, name, metric, obj, val)
                continue
            num = _numeric(val)
            if num is None:
                continue
            if metric.scale != 1.0:
                num = num * metric.scale
            labels = _base_labels(obj)
            code = HRSP_CODES.get(fld.name)
            if code is not None:
                labels.append(("code", code))
            fams.add(name, metric.help, metric.type, labels, num)


# -- stick tables ----------------------------------------------------------------------------------

_ST_HELP = {"size": "Stick table size.", "used": "Number of entries used in this stick table."}


def _sticktables(fams: Families, config: Any) -> None:
    tables = tables_of(config)
    for what in ("size", "used"):
        name = names.STICKTABLE + what
        for t in tables:
            fams.add(name, _ST_HELP[what], GAUGE, [("name", t.name), ("type", t.type)],
                     getattr(t, what))


# -- the dump --------------------------------------------------------------------------------------

def collect(config: Any, query: Query) -> Families:
    """Every metric family ``query`` selects, read from the statistics registry now."""
    fams = Families(query)
    ctx = statdump.context(config)
    reg = stats_of(config)
    if "global" in query.scopes:
        _process(fams, config, ctx)
    rows = statdump.rows(ctx, types=7, no_maint=query.no_maint)
    if "frontend" in query.scopes:
        _objects(fams, reg, [o for o in rows if o.kind == "F"], "F")
    if "backend" in query.scopes:
        _objects(fams, reg, [o for o in rows if o.kind == "B"], "B")
    if "server" in query.scopes:
        _objects(fams, reg, [o for o in rows if o.kind == "S"], "S")
    if "sticktable" in query.scopes:
        _sticktables(fams, config)
    return fams


def render(config: Any, query: Query) -> str:
    """The whole exposition for ``query``, as promex writes it."""
    return collect(config, query).text()


class PromexCollector:
    """The same metrics as a prometheus-client collector: ``registry.register(
    PromexCollector(config))`` lets prometheus-client's registry and exposition functions
    (``generate_latest``, ``start_http_server``) serve them.  prometheus-client names a
    counter family without its ``_total`` suffix (its writers add it back)."""

    def __init__(self, config: Any, query: Query | None = None) -> None:
        self.config = config
        self.query = query or Query()

    def collect(self) -> Iterator[Metric]:
        for fam in collect(self.config, self.query).metrics():
            if fam.type == COUNTER and fam.name.endswith("_total"):
                renamed = Metric(fam.name[:-6], fam.documentation, fam.type)
                renamed.samples = fam.samples
                fam = renamed
            yield fam


__all__ = ["InfoMetric", "PromexCollector", "PxMetric", "Query", "QueryError", "collect",
           "render"]
