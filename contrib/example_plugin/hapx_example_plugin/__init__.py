"""An example hapx plugin: the fetch ``example.greeting`` and the converter ``reverse``.

Installed with pip, it is found through its ``hapx.plugins`` entry point named ``example``;
every keyword below is then stamped with that name.  Arguments and types are declared in
the records, so hapx checks a configuration that uses them before anything runs, and the
``process`` functions only ever see typed, validated values.
"""

from __future__ import annotations

from typing import Any

from hapx.core.hookspecs import hookimpl
from hapx.core.records import Arg, ArgType, Converter, Fetch, SmpType, Use
from hapx.core.sample.types import Sample

__version__ = "0.1.0"

#: the longest name example.greeting accepts
MAX_NAME = 64


def _validate_greeting(args: list[Any], ctx: Any) -> list[Any]:
    """Runs once, when the configuration is parsed: refuse names that cannot be greeted."""
    name = args[0]
    if not name or len(name) > MAX_NAME or not name.isprintable():
        raise ctx.error(f"example.greeting: the name must be 1 to {MAX_NAME} printable "
                        f"characters, not '{name}'")
    return args


def _greeting(args: list[Any], strm: Any) -> Sample:
    """Per request: a constant string built from the validated argument."""
    return Sample(SmpType.STR, f"Hello, {args[0]}!")


def _reverse(args: list[Any], smp: Sample, strm: Any) -> Sample:
    return Sample(SmpType.STR, smp.value[::-1], smp.flags)


@hookimpl
def hapx_register_fetches(fetches: Any) -> None:
    fetches.add(Fetch(
        "example.greeting", process=_greeting, out_type=SmpType.STR,
        args=(Arg("name", ArgType.STR, optional=True, default="world"),),
        uses=Use.INTERNAL, validate=_validate_greeting,
        doc="example.greeting([<name>]) : string\n\n"
            "Returns the string \"Hello, <name>!\" (\"Hello, world!\" without an argument).\n"
            "It reads nothing from the stream, so it is usable anywhere, including in\n"
            "tcp-request connection rules and log-format strings.  The name must be 1 to 64\n"
            "printable characters.\n\n"
            "Example:\n"
            "    http-request set-header X-Greeting %[example.greeting(hapx)]",
    ))


@hookimpl
def hapx_register_converters(converters: Any) -> None:
    converters.add(Converter(
        "reverse", process=_reverse, in_type=SmpType.STR, out_type=SmpType.STR,
        doc="reverse : string => string\n\n"
            "Reverses the order of the characters (bytes) of the input string.\n\n"
            "Example:\n"
            "    http-request set-header X-Backwards %[path,reverse]",
    ))
