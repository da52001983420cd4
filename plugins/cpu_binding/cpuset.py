"""CPU and thread number sets as HAProxy reads and prints them.

``parse_cpu_set`` reads ``0-3,8 12-`` (HAProxy's ``parse_cpu_set()``: numbers, ranges,
comma lists, an open range up to the last CPU a cpuset can hold), ``print_cpu_set`` prints
``0-3,8`` (``print_cpu_set()``), ``parse_number_set`` reads the thread-group and thread
ranges of ``cpu-map`` (``all``, ``odd``, ``even``, ``N``, ``N-M``, ``N-``;
``parse_process_number()``).
"""

from __future__ import annotations

from collections.abc import Iterable

#: CPUs a cpuset can name (HAProxy 3.2's ha_cpuset_size())
CPUSET_SIZE = 1024
#: bits of a thread or thread-group mask (LONGBITS)
LONGBITS = 64


class SetError(ValueError):
    """A set that HAProxy would refuse; the message is HAProxy's."""


def parse_cpu_set(words: Iterable[str]) -> frozenset[int]:
    """Every CPU named by ``words`` (each a comma list of numbers and ranges)."""
    cpus: set[int] = set()
    for word in words:
        for part in word.split(","):
            if not part[:1].isdigit():
                raise SetError(f"'{part}' is not a CPU range.")
            low_text, dash, high_text = part.partition("-")
            if not low_text.isdigit() or (high_text and not high_text.isdigit()):
                raise SetError(f"'{part}' is not a CPU range.")
            low = int(low_text)
            high = (int(high_text) if high_text else CPUSET_SIZE - 1) if dash else low
            low, high = min(low, high), max(low, high)
            if high >= CPUSET_SIZE:
                raise SetError(f"supports CPU numbers from 0 to {CPUSET_SIZE - 1}.")
            cpus.update(range(low, high + 1))
    return frozenset(cpus)


def print_cpu_set(cpus: Iterable[int]) -> str:
    """``0-3,8,10-11``: ranges of consecutive CPUs, comma-separated ("" for none)."""
    out: list[str] = []
    ordered = sorted(cpus)
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        out.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(out)


def parse_number_set(text: str, maximum: int = LONGBITS) -> frozenset[int]:
    """1-based numbers: ``all``, ``odd``, ``even``, ``N``, ``N-M`` or ``N-`` (to
    ``maximum``)."""
    if text == "all":
        return frozenset(range(1, maximum + 1))
    if text == "odd":
        return frozenset(range(1, maximum + 1, 2))
    if text == "even":
        return frozenset(range(2, maximum + 1, 2))
    low_text, dash, high_text = text.partition("-")
    if not text or not all(c.isdigit() or c == "-" for c in text) or "-" in high_text:
        raise SetError(f"'{text}' is not a valid number/range.")
    low = int(low_text) if low_text else 0
    high = (int(high_text) if high_text else maximum) if dash else low
    low, high = min(low, high), max(low, high)
    if low < 1 or low > maximum or high > maximum:
        raise SetError(f"'{text}' is not a valid number/range. It supports numbers from 1 "
                       f"to {maximum}.\n")
    return frozenset(range(low, high + 1))
