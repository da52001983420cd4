"""``language``: pick the preferred language of an Accept-Language value among a list."""

from __future__ import annotations


def _range_match(rng: str, tag: str) -> bool:
    """RFC 2616 14.4: the range equals the tag, or the tag is a prefix of the range followed
    by '-' (``en-US`` matches ``en``)."""
    i = 0
    for c in rng:
        if c == "-" and i == len(tag):
            return True
        if i == len(tag) or c != tag[i]:
            return False
        i += 1
    return i == len(tag)


def _qvalue(s: str, p: int) -> tuple[int, int]:
    """HAProxy's http_parse_qvalue: (q * 1000 bounded to 1000, position after it)."""
    n = len(s)
    if p >= n or not s[p].isdigit():
        return 1000, p
    q = (ord(s[p]) - 48) * 1000
    p += 1
    if p >= n or s[p] != ".":
        return min(q, 1000), p + 1
    p += 1
    for mult in (100, 10, 1):
        if p >= n or not s[p].isdigit():
            break
        q += (ord(s[p]) - 48) * mult
        p += 1
    return min(q, 1000), p


_SPACES = " \t\n\v\f\r"


def preferred(header: str, values: list[str]) -> str:
    """The value of ``values`` with the highest q-factor in ``header`` (first one on ties), or
    an empty string when none matches."""
    best_q = 0
    result = ""
    al, end = 0, len(header)
    while True:
        while al < end and header[al] in _SPACES:
            al += 1
        if al >= end:
            break
        token = al
        while al < end and header[al] not in ";," and header[al] not in _SPACES:
            al += 1
        match = None
        if al != token:
            rng = header[token:al]
            match = next((v for v in values if _range_match(rng, v)), None)
        if match is not None:
            qvalue = 1000
            while al < end and header[al] in _SPACES:
                al += 1
            if al < end and header[al] == ";":
                al += 1
                while al < end and header[al] in _SPACES:
                    al += 1
                if al < end and header[al] == "q":
                    al += 1
                    while al < end and header[al] in _SPACES:
                        al += 1
                    if al < end and header[al] == "=":
                        al += 1
                        while al < end and header[al] in _SPACES:
                            al += 1
                        if al < end:
                            qvalue, al = _qvalue(header, al)
            elif al < end and header[al] != ",":
                match = None
            if match is not None and qvalue > best_q:
                result = match
                if qvalue >= 1000:
                    break
                best_q = qvalue
        while al < end and header[al] != ",":
            al += 1
        if al >= end:
            break
        al += 1
    return result
