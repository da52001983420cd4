"""Runtime API commands over the ACL and map lists (:class:`~hapx.core.sample.patterns.
PatternRef`): show, get, add, del, set, clear, prepare and commit, with HAProxy's syntax,
messages and output.

A change goes through the list's own methods, which tell every compiled matcher listening
to the list (ACL expressions, ``map()`` converters): the next request sees it.  A list is
named by its file name or by ``#<id>`` (the id ``show acl`` / ``show map`` print); an entry
by its key or by ``#<ptr>`` (the pointer ``show acl <list>`` prints).  Like HAProxy, these
commands need no particular level.
"""

from __future__ import annotations

from typing import Any

from hapx.core.records import CliCommand, SmpType
from hapx.core.runtime.cli_api import CliError, CliSession, cli_command
from hapx.core.sample.match import RefMatcher
from hapx.core.sample.patterns import PatternEntry, PatternRef
from hapx.core.sample.types import Sample

UNKNOWN = {"map": "Unknown map identifier. Please use #<id> or <file>.",
           "acl": "Unknown ACL identifier. Please use #<id> or <file>."}
LABEL = {"map": "map", "acl": "ACL"}
#: HAProxy's smp_to_type names
TYPE_NAMES = {SmpType.BOOL: "bool", SmpType.SINT: "sint", SmpType.ADDR: "addr",
              SmpType.IPV4: "ipv4", SmpType.IPV6: "ipv6", SmpType.STR: "str",
              SmpType.BIN: "bin", SmpType.METH: "meth"}
#: the methods HAProxy indexes in a tree (case-sensitive only)
TREE_METHODS = frozenset({"str", "beg", "ip"})


def _kind(args: list[str]) -> str:
    return args[1]


def _has(ref: PatternRef, kind: str) -> bool:
    return kind in ref.kinds


def _lookup(cli: CliSession, name: str, kind: str, *, flag: bool = True) -> PatternRef:
    """The list named ``name`` (file or ``#id``); with ``flag``, it must be used as
    ``kind`` (HAProxy's PAT_REF_MAP / PAT_REF_ACL check)."""
    ref = cli.config.patterns.get(name)
    if ref is None or (flag and not _has(ref, kind)):
        raise CliError(UNKNOWN[kind])
    return ref


def _version(text: str) -> int:
    """HAProxy's str2uic: the leading digits (0 when none)."""
    digits = ""
    for ch in text:
        if not ch.isdigit():
            break
        digits += ch
    return int(digits) if digits else 0


def _split_ver(words: list[str]) -> tuple[int | None, list[str]]:
    if words and words[0].startswith("@"):
        return _version(words[0][1:]), words[1:]
    return None, words


def _entry_by_ptr(ref: PatternRef, text: str) -> PatternEntry | None:
    """``#0x<ptr>`` names one entry of the current version."""
    try:
        int(text[1:], 16)
    except ValueError:
        raise CliError("Malformed identifier. Please use #<id> or <file>.") from None
    return ref.find_ptr(text[1:])


def _is_ptr(text: str) -> bool:
    return text.startswith("#0x")


# -- show --------------------------------------------------------------------------------------

def _show(cli: CliSession, args: list[str]) -> str:
    kind = _kind(args)
    ver, words = _split_ver(args[2:])
    if ver is None and not words:
        out = ["# id (file) description\n"]
        for ref in cli.config.patterns:
            if not _has(ref, kind):
                continue
            out.append(f"{ref.unique_id} ({ref.name}) {ref.description}. "
                       f"curr_ver={ref.curr_ver} next_ver={ref.next_ver} "
                       f"entry_cnt={len(ref)}\n")
        return "".join(out)
    ref = _lookup(cli, words[0] if words else "", kind)
    entries = ref.entries if ver is None else ref.version_entries(ver)
    if kind == "map":
        return "".join(f"{e.ptr} {e.key} {e.value or ''}\n" for e in entries)
    return "".join(f"{e.ptr} {e.key}\n" for e in entries)


# -- get ---------------------------------------------------------------------------------------

def matchers_of(ref: PatternRef) -> list[RefMatcher]:
    """The distinct compiled matchers over ``ref`` (one per match method and case flag),
    in the order they were created."""
    seen: set[tuple[str, bool]] = set()
    out = []
    for li in ref.listeners:
        if isinstance(li, RefMatcher) and (li.method, li.icase) not in seen:
            seen.add((li.method, li.icase))
            out.append(li)
    return out


def _entry_of(ref: PatternRef, hit: Any) -> PatternEntry | None:
    if isinstance(hit, PatternEntry):
        return hit
    found = ref.find(hit.key)
    for e in found:
        if e.seq == getattr(hit, "seq", -1):
            return e
    if found:
        return found[0]
    for e in ref.entries:
        if e.seq == getattr(hit, "seq", -1):
            return e
    return None


def _value_type(hit: Any) -> str:
    val = getattr(hit, "value", None)
    if isinstance(val, Sample):
        return TYPE_NAMES.get(val.type, "str")
    return "str"


def _get(cli: CliSession, args: list[str]) -> str:
    kind = _kind(args)
    if len(args) < 4 or not args[2] or not args[3]:
        raise CliError(f"Missing {LABEL[kind]} identifier and/or key.")
    ref = _lookup(cli, args[2], kind, flag=False)
    smp = Sample(SmpType.STR, args[3])
    out = []
    for m in matchers_of(ref):
        hit = m.find(Sample(smp.type, smp.value))
        line = f"type={m.method}, case={'insensitive' if m.icase else 'sensitive'}"
        word = "found" if kind == "map" else "match"
        if hit is None:
            out.append(f"{line}, {word}=no\n")
            continue
        tree = m.method in TREE_METHODS and not m.icase
        line += f", {word}=yes, idx={'tree' if tree else 'list'}"
        entry = _entry_of(ref, hit)
        if kind == "map":
            line += f', key="{entry.key}"' if entry is not None else ", key=unknown"
            if entry is not None and entry.value is not None:
                line += f', value="{entry.value}", type="{_value_type(hit)}"'
            else:
                line += ", value=none"
        else:
            line += f', pattern="{entry.key}"' if entry is not None else ", pattern=unknown"
        out.append(line + "\n")
    return "".join(out)


# -- changes -----------------------------------------------------------------------------------

def _add(cli: CliSession, args: list[str]) -> str:
    kind = _kind(args)
    ver, words = _split_ver(args[2:])
    payload = cli.payload
    if kind == "map":
        if (payload is None and len(words) < 3) or (payload is not None and not words):
            raise CliError("'add map' expects three parameters (map identifier, key and "
                           "value) or one parameter (map identifier) and a payload")
    elif len(words) < 2:
        raise CliError("'add acl' expects two parameters: ACL identifier and pattern.")
    ref = _lookup(cli, words[0], kind, flag=False)
    if ver is not None and ver > ref.next_ver:
        raise CliError(f"Version number in the future, please use 'prepare {kind}' "
                       "before.")
    if kind == "acl" and ref.is_map:
        raise CliError("This ACL is shared with a map containing samples. You must use "
                       "the command 'add map' to add values.")
    items: list[tuple[str, str | None]] = []
    if kind == "map" and payload is not None:
        for line in payload.split("\n"):
            if not line:
                continue
            key, sep, rest = line.replace("\t", " ").partition(" ")
            if not sep:
                raise CliError(f"Missing value for key '{key}'.")
            items.append((key, line[len(key) + 1:].lstrip(" \t")))
    elif kind == "map":
        items.append((words[1], words[2]))
    else:
        items.append((words[1], None))
    try:
        ref.add_many(items, version=ver)
    except ValueError as exc:
        raise CliError(f"{exc}") from None
    return ""


def _del(cli: CliSession, args: list[str]) -> str:
    kind = _kind(args)
    if len(args) < 4 or not args[2] or not args[3]:
        raise CliError(f"This command expects two parameters: {LABEL[kind]} identifier "
                       "and key.")
    ref = cli.config.patterns.get(args[2])
    if ref is None or not _has(ref, kind):
        raise CliError(UNKNOWN["map"])
    key = args[3]
    if _is_ptr(key):
        entry = _entry_by_ptr(ref, key)
        if entry is None or not ref.delete_entry(entry):
            raise CliError("Key not found.")
    elif not ref.delete(key):
        raise CliError("Key not found.")
    return ""


def _set(cli: CliSession, args: list[str]) -> str:
    if len(args) < 5 or not all(args[2:5]):
        raise CliError("'set map' expects three parameters: map identifier, key and value.")
    ref = _lookup(cli, args[2], "map", flag=False)
    key, value = args[3], args[4]
    if _is_ptr(key):
        entry = _entry_by_ptr(ref, key)
        if entry is None:
            raise CliError("key or pattern not found.")
        ref.set_entry(entry, value)
    elif not ref.set(key, value):
        raise CliError("entry not found.")
    return ""


def _clear(cli: CliSession, args: list[str]) -> str:
    kind = _kind(args)
    ver, words = _split_ver(args[2:])
    if not words:
        raise CliError(f"Missing {LABEL[kind]} identifier.")
    ref = _lookup(cli, words[0], kind)
    if ver is None or ref.curr_ver <= ver <= ref.next_ver:
        ref.clear(ver)
    return ""


def _prepare(cli: CliSession, args: list[str]) -> str:
    kind = _kind(args)
    ref = _lookup(cli, args[2] if len(args) > 2 else "", kind)
    return f"New version created: {ref.prepare()}\n"


def _commit(cli: CliSession, args: list[str]) -> str:
    kind = _kind(args)
    if len(args) < 3 or not args[2].startswith("@"):
        raise CliError("Missing version number.")
    ver = _version(args[2][1:])
    if len(args) < 4 or not args[3]:
        raise CliError(f"Missing {LABEL[kind]} identifier.")
    ref = _lookup(cli, args[3], kind)
    if not ref.curr_ver < ver <= ref.next_ver:
        raise CliError("Version number out of range.")
    ref.commit(ver)
    return ""


def _pair(handler: Any, acl: tuple[str, str],
          map_: tuple[str, str]) -> tuple[CliCommand, CliCommand]:
    """``<verb> acl`` and ``<verb> map``: one handler (it reads the list kind from the second
    word), each its own ``(usage, explanation)``."""
    return cli_command(acl[0], handler, acl[1]), cli_command(map_[0], handler, map_[1])


COMMANDS = [
    *_pair(_show, acl=(
        "show acl [@<ver>] <acl>]",
        "Report available acls or dump an acl's contents. Without a name: one line per "
        "list (id, file, description, versions, entry count); with one: '<ptr> "
        "<pattern>' per entry of the current version (or of version <ver>)."), map_=(
        "show map [@ver] [map]",
        "Report available maps or dump a map's contents. Without a name: one line per "
        "map; with one: '<ptr> <key> <value>' per entry.")),
    *_pair(_get, acl=(
        "get acl <acl> <value>",
        "Report the patterns matching a sample for an ACL. One line per match method "
        "the list is used with."), map_=(
        "get map <acl> <value>",
        "Report the keys and values matching a sample for a map. One line per match "
        "method the list is used with.")),
    *_pair(_add, acl=(
        "add acl [@<ver>] <acl> <pattern>",
        "Add an acl entry. To version <ver> (from 'prepare acl') when given, else to "
        "the current version, seen at once by the ACLs using the list."), map_=(
        "add map [@<ver>] <map> <key> <val>",
        "Add a map entry (payload supported instead of key/val). With a payload "
        "('add map <map> <<' then '<key> <value>' lines up to an empty line) several "
        "entries are added at once.")),
    *_pair(_del, acl=(
        "del acl <acl> [<key>|#<ref>]",
        "Delete acl entries matching <key>. '#<ref>' names one entry by the pointer "
        "'show acl <acl>' prints."), map_=(
        "del map <map> [<key>|#<ref>]",
        "Delete map entries matching <key>. '#<ref>' names one entry by its pointer.")),
    cli_command("set map <map> [<key>|#<ref>] <value>", _set,
                "Modify a map entry. Every entry with this key gets the new value."),
    *_pair(_clear, *(
        (f"clear {kind} [@<ver>] <{kind}>",
         f"Clear the contents of this {kind}. Or of version <ver> only.")
        for kind in ("acl", "map"))),
    *_pair(_prepare, acl=(
        "prepare acl <acl>",
        "Prepare a new version for atomic ACL replacement. Prints 'New version created: "
        "<ver>'; fill it with 'add acl @<ver>', then 'commit acl'."), map_=(
        "prepare map <acl>",
        "Prepare a new version for atomic map replacement. Prints 'New version created: "
        "<ver>'.")),
    *_pair(_commit, acl=(
        "commit acl @<ver> <acl>",
        "Commit the ACL at this version. The version becomes the content at once; older "
        "versions are dropped."), map_=(
        "commit map @<ver> <map>",
        "Commit the map at this version. The version becomes the content at once.")),
]
