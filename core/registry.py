"""The registry: every keyword record, by kind, stamped with the plugin that owns it.

Plugins add records through a :class:`Registrar` handed to their ``hapx_register_*`` hook
implementations; the registrar stamps the owner.  Two records of the same kind with the same
name (and, for directives and actions, overlapping places of use) are an error naming both
owners.  The registry is read at configuration time only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from .errors import PluginError
from .records import (
    AclKeyword,
    Action,
    Balancer,
    CliCommand,
    Codec,
    Converter,
    Directive,
    Feature,
    Fetch,
    Filter,
    LogAlias,
    PredefinedAcl,
    Record,
    RuleSet,
    Section,
    Service,
    Subcommand,
)

R = TypeVar("R", bound=Record)


def _places(rec: Record) -> frozenset:
    """The places of use that two same-named records must not share."""
    if isinstance(rec, Directive):
        return rec.sections
    if isinstance(rec, Action):
        return frozenset(rec.rulesets)
    return frozenset({None})


class Registry:
    """All registered records, by kind and name."""

    def __init__(self) -> None:
        self._by_type: dict[type[Record], dict[str, list[Record]]] = {}
        #: plugin name -> records it registered, in order
        self.by_owner: dict[str, list[Record]] = {}

    # -- adding ------------------------------------------------------------------------------
    def add(self, record: Record, owner: str) -> Record:
        if not isinstance(record, Record):
            raise PluginError(f"plugin '{owner}' registered {record!r}, which is not a record")
        if not record.name:
            raise PluginError(f"plugin '{owner}' registered a {record.kind} without a name")
        record = dataclasses.replace(record, owner=owner) if record.owner != owner else record
        table = self._by_type.setdefault(type(record), {})
        same = table.setdefault(record.name, [])
        for other in same:
            if _places(other) & _places(record):
                raise PluginError(
                    f"{record.kind} '{record.name}' is registered twice: by plugin "
                    f"'{other.owner}' and by plugin '{owner}'"
                )
        if isinstance(record, AclKeyword) and record.name in self._by_type.get(Fetch, {}):
            other = self._by_type[Fetch][record.name][0]
            raise PluginError(
                f"acl keyword '{record.name}' of plugin '{owner}' hides the fetch of the same "
                f"name registered by plugin '{other.owner}'"
            )
        same.append(record)
        self.by_owner.setdefault(owner, []).append(record)
        return record

    def copy(self) -> Registry:
        """A registry holding the same records, to which a configuration adds its own (the
        keywords a Lua script declares live as long as the configuration that loaded it)."""
        other = Registry()
        other._by_type = {kind: {name: list(recs) for name, recs in table.items()}
                          for kind, table in self._by_type.items()}
        other.by_owner = {owner: list(recs) for owner, recs in self.by_owner.items()}
        return other

    def remove_owner(self, owner: str) -> None:
        """Forget every record of one plugin (used when a plugin fails half-way)."""
        for rec in self.by_owner.pop(owner, []):
            lst = self._by_type[type(rec)][rec.name]
            lst.remove(rec)
            if not lst:
                del self._by_type[type(rec)][rec.name]

    # -- reading -----------------------------------------------------------------------------
    def all(self, kind: type[R]) -> list[R]:
        return [r for recs in self._by_type.get(kind, {}).values() for r in recs]  # type: ignore[misc]

    def names(self, kind: type[Record]) -> list[str]:
        return sorted(self._by_type.get(kind, {}))

    def get(self, kind: type[R], name: str) -> R | None:
        recs = self._by_type.get(kind, {}).get(name)
        return recs[0] if recs else None  # type: ignore[return-value]

    def fetch(self, name: str) -> Fetch | None:
        return self.get(Fetch, name)

    def converter(self, name: str) -> Converter | None:
        return self.get(Converter, name)

    def acl_keyword(self, name: str) -> AclKeyword | None:
        return self.get(AclKeyword, name)

    def predefined_acl(self, name: str) -> PredefinedAcl | None:
        return self.get(PredefinedAcl, name)

    def log_alias(self, name: str) -> LogAlias | None:
        return self.get(LogAlias, name)

    def section(self, name: str) -> Section | None:
        return self.get(Section, name)

    def balancer(self, name: str) -> Balancer | None:
        return self.get(Balancer, name)

    def filter(self, name: str) -> Filter | None:
        return self.get(Filter, name)

    def service(self, name: str) -> Service | None:
        return self.get(Service, name)

    def codec(self, protocol: str, name: str) -> Codec | None:
        rec = self.get(Codec, name)
        return rec if rec is not None and rec.protocol == protocol else None

    def feature(self, name: str) -> Feature | None:
        return self.get(Feature, name)

    def directive(self, name: str, section_kind: str) -> Directive | None:
        for rec in self._by_type.get(Directive, {}).get(name, ()):
            if section_kind in rec.sections:  # type: ignore[attr-defined]
                return rec  # type: ignore[return-value]
        return None

    def directive_anywhere(self, name: str) -> list[Directive]:
        return list(self._by_type.get(Directive, {}).get(name, ()))  # type: ignore[arg-type]

    def directives_in(self, section_kind: str) -> list[Directive]:
        return [d for d in self.all(Directive) if section_kind in d.sections]

    def action(self, name: str, ruleset: RuleSet) -> Action | None:
        for rec in self._by_type.get(Action, {}).get(name, ()):
            if ruleset in rec.rulesets:  # type: ignore[attr-defined]
                return rec  # type: ignore[return-value]
        return None

    def actions_for(self, ruleset: RuleSet) -> list[Action]:
        return [a for a in self.all(Action) if ruleset in a.rulesets]

    def cli_command(self, words: Iterable[str]) -> CliCommand | None:
        return self.get(CliCommand, " ".join(words))

    def records(self) -> Iterator[Record]:
        for table in self._by_type.values():
            for recs in table.values():
                yield from recs

    def for_owner(self, owner: str, *kinds: type[Record]) -> Registrar:
        return Registrar(self, owner, kinds)


class Registrar:
    """What a plugin's ``hapx_register_*`` hook receives: ``add(record)`` (or several)
    stamps the plugin as owner.  A registrar for one subsystem accepts only its records."""

    def __init__(self, registry: Registry, owner: str, kinds: tuple[type[Record], ...] = ()):
        self._registry = registry
        self.owner = owner
        self._kinds = kinds

    def add(self, *records: Record) -> None:
        for rec in records:
            if self._kinds and not isinstance(rec, self._kinds):
                allowed = ", ".join(k.__name__ for k in self._kinds)
                raise PluginError(
                    f"plugin '{self.owner}' registered a {type(rec).__name__} through a hook that "
                    f"takes {allowed}"
                )
            self._registry.add(rec, self.owner)

    def __call__(self, *records: Record) -> None:
        self.add(*records)

    @property
    def registry(self) -> Registry:
        """The whole registry, read-only by convention (for cross-references)."""
        return self._registry


#: hook name -> record kinds its registrar accepts
REGISTER_HOOKS: dict[str, tuple[type[Record], ...]] = {
    "hapx_register_sections": (Section,),
    "hapx_register_directives": (Directive,),
    "hapx_register_fetches": (Fetch, AclKeyword, PredefinedAcl),
    "hapx_register_converters": (Converter,),
    "hapx_register_log_aliases": (LogAlias,),
    "hapx_register_actions": (Action,),
    "hapx_register_balancers": (Balancer,),
    "hapx_register_filters": (Filter,),
    "hapx_register_services": (Service,),
    "hapx_register_cli_commands": (CliCommand,),
    "hapx_register_codecs": (Codec,),
    "hapx_register_features": (Feature,),
    "hapx_register_subcommands": (Subcommand,),
}


def describe(record: Record) -> dict[str, Any]:
    """A JSON-friendly description of a record (for listings and ``-dK``)."""
    out: dict[str, Any] = {"kind": record.kind, "name": record.name, "owner": record.owner,
                           "active": record.active, "summary": record.summary}
    if isinstance(record, Directive):
        out["sections"] = sorted(record.sections)
    if isinstance(record, Action):
        out["rulesets"] = sorted(r.value for r in record.rulesets)
    if isinstance(record, Fetch | Converter):
        out["args"] = [a.name + ("?" if a.optional else "") for a in record.args]
        out["out_type"] = record.out_type.label
    if isinstance(record, Converter):
        out["in_type"] = record.in_type.label
    return out
