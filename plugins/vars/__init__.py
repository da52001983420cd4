"""Variables: the ``var()`` fetch, the ``set-var()`` and ``unset-var()`` converters and the
``set-var()``, ``set-var-fmt()`` and ``unset-var()`` actions of the http-request,
http-response, http-after-response, tcp-request connection/session/content and tcp-response
content rule sets.

A variable is named ``<scope>.<name>`` (proc, sess, txn, req, res, check) and keeps the type
of the sample stored in it.  Storage is described in :mod:`hapx.core.sample.vars`.
"""

from __future__ import annotations

from typing import Any

from hapx.core.hookspecs import hookimpl
from hapx.core.records import Arg, ArgType, Converter, Fetch, SmpType, Use
from hapx.core.sample.types import Sample

from . import actions as var_actions
from .store import parse_conds, store

_CONDS_DOC = """  Conditions (all must hold for the variable to be set):
    ifexists / ifnotexists   the variable already exists / does not exist yet
    ifset / ifnotset         the variable holds a value / holds none
    ifempty / ifnotempty     the sample is an empty / a non-empty string or binary
    ifgt / iflt              the variable's integer is greater / less than the sample's"""


_ANY = SmpType.ANY


def _var(args: list[Any], strm: Any) -> Sample | None:
    ref, default = args
    smp = None
    if strm is not None or ref.scope == "proc":
        smp = ref._store(strm).get(ref.name)  # ref.get(strm), without its frame
    if smp is None or smp.type is _ANY:
        return None if default is None else Sample(SmpType.STR, default)
    # samples are never changed once built: a stored one without flags is returned as it is
    return Sample(smp.type, smp.value) if smp.flags else smp


def _validate_conds(args: list[Any], ctx: Any) -> list[Any]:
    return [args[0], parse_conds([c for c in args[1:] if c is not None])]


def _conv_set_var(args: list[Any], smp: Sample, strm: Any) -> Sample | None:
    return smp if store(args[0], strm, smp, args[1]) else None


def _conv_unset_var(args: list[Any], smp: Sample, strm: Any) -> Sample:
    args[0].unset(strm)
    return smp


_COND_ARGS = tuple(Arg(f"cond{i}", ArgType.STR, optional=True) for i in range(1, 5))

FETCHES = (
    Fetch("var", process=_var, out_type=SmpType.ANY, uses=Use.INTERNAL,
          args=(Arg("name", ArgType.VAR), Arg("default", ArgType.STR, optional=True)),
          doc="var(<var-name>[,<default>])\n\nReturns the value of the variable with the type "
              "it was stored with. When the variable is not set, the fetch fails, or returns "
              "<default> as a string. Scopes: proc, sess, txn, req, res, check."),
)

CONVERTERS = (
    Converter("set-var", process=_conv_set_var, in_type=SmpType.ANY, out_type=SmpType.SAME,
              args=(Arg("name", ArgType.VAR), *_COND_ARGS), validate=_validate_conds,
              doc="set-var(<var-name>[,<cond>...])\n\nStores the input in the variable and "
                  "returns it unchanged when every condition holds; fails otherwise.\n"
                  + _CONDS_DOC),
    Converter("unset-var", process=_conv_unset_var, in_type=SmpType.ANY,
              out_type=SmpType.SAME, args=(Arg("name", ArgType.VAR),),
              doc="unset-var(<var-name>)\n\nRemoves the variable and returns the input "
                  "unchanged."),
)

@hookimpl
def hapx_register_fetches(fetches: Any) -> None:
    fetches.add(*FETCHES)


@hookimpl
def hapx_register_converters(converters: Any) -> None:
    converters.add(*CONVERTERS)


@hookimpl
def hapx_register_actions(actions: Any) -> None:
    actions.add(*var_actions.ACTIONS)
