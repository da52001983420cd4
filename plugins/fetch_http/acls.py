"""ACL keywords derived from the HTTP fetches (``path_beg`` is ``path -m beg``) and the
predefined HTTP ACLs (HTTP, HTTP_1.1, METH_GET, REQ_CONTENT ...)."""

from __future__ import annotations

from hapx.core.records import AclKeyword, PredefinedAcl

_METHODS = {
    "beg": "prefix match", "dir": "subdir match", "dom": "domain match",
    "end": "suffix match", "len": "length match", "reg": "regex match",
    "sub": "substring match",
}

#: derived keyword prefix -> (fetch, its argument synopsis)
_FAMILIES = {
    "base": ("base", ""),
    "cook": ("req.cook", "([<name>])"),
    "hdr": ("req.hdr", "([<name>[,<occ>]])"),
    "path": ("path", ""),
    "scook": ("res.cook", "([<name>])"),
    "shdr": ("res.hdr", "([<name>[,<occ>]])"),
    "url": ("url", ""),
    "urlp": ("urlp", "([<name>[,<delim>[,i]]])"),
}


def _derived() -> list[AclKeyword]:
    out = []
    for prefix, (fetch, synopsis) in _FAMILIES.items():
        for method, what in _METHODS.items():
            out.append(AclKeyword(
                f"{prefix}_{method}", fetch=fetch, match=method,
                doc=f"{prefix}_{method}{synopsis}\n\n{fetch} with a {what} "
                    f"({fetch} -m {method})."))
    out.append(AclKeyword("req_ver", fetch="req.ver", match="str",
                          doc="req_ver\n\nreq.ver with an exact string match (deprecated)."))
    out.append(AclKeyword("resp_ver", fetch="res.ver", match="str",
                          doc="resp_ver\n\nres.ver with an exact string match (deprecated)."))
    return out


def _predef(name: str, criterion: tuple[str, ...], text: str) -> PredefinedAcl:
    return PredefinedAcl(name, criterion=criterion,
                         doc=f"{name}\n\n{text} ({' '.join(criterion)}).")


PREDEFINED = (
    _predef("HTTP", ("req.proto_http",), "The request is HTTP"),
    _predef("HTTP_1.0", ("req.ver", "1.0"), "The request is HTTP/1.0"),
    _predef("HTTP_1.1", ("req.ver", "1.1"), "The request is HTTP/1.1"),
    _predef("HTTP_2.0", ("req.ver", "2.0"), "The request is HTTP/2"),
    _predef("HTTP_3.0", ("req.ver", "3.0"), "The request is HTTP/3"),
    _predef("HTTP_CONTENT", ("req.hdr_val(content-length)", "gt", "0"),
            "The request announces a body"),
    _predef("HTTP_URL_ABS", ("url_reg", "^[^/:]*://"), "The request target is absolute"),
    _predef("HTTP_URL_SLASH", ("url_beg", "/"), "The request target starts with a slash"),
    _predef("HTTP_URL_STAR", ("url", "*"), "The request target is '*'"),
    _predef("METH_CONNECT", ("method", "CONNECT"), "The method is CONNECT"),
    _predef("METH_DELETE", ("method", "DELETE"), "The method is DELETE"),
    _predef("METH_GET", ("method", "GET", "HEAD"), "The method is GET or HEAD"),
    _predef("METH_HEAD", ("method", "HEAD"), "The method is HEAD"),
    _predef("METH_OPTIONS", ("method", "OPTIONS"), "The method is OPTIONS"),
    _predef("METH_POST", ("method", "POST"), "The method is POST"),
    _predef("METH_PUT", ("method", "PUT"), "The method is PUT"),
    _predef("METH_TRACE", ("method", "TRACE"), "The method is TRACE"),
    _predef("REQ_CONTENT", ("req.len", "gt", "0"), "The request buffer holds data"),
)

RECORDS = (*_derived(), *PREDEFINED)
