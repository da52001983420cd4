"""HTTP reason phrases and HAProxy's built-in error pages (sent by the data path and by
the http reply actions)."""

from __future__ import annotations

from http import HTTPStatus

from hapx.core.stream import HttpMessage

#: HAProxy's reason phrases where they differ from Python's or are frequent
REASONS = {
    100: "Continue", 101: "Switching Protocols", 103: "Early Hints", 200: "OK",
    201: "Created", 202: "Accepted", 203: "Non-Authoritative Information",
    204: "No Content", 205: "Reset Content", 206: "Partial Content", 300: "Multiple Choices",
    301: "Moved Permanently", 302: "Found", 303: "See Other", 304: "Not Modified",
    307: "Temporary Redirect", 308: "Permanent Redirect", 400: "Bad Request",
    401: "Unauthorized", 402: "Payment Required", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 406: "Not Acceptable", 407: "Proxy Authentication Required",
    408: "Request Timeout", 409: "Conflict", 410: "Gone", 411: "Length Required",
    412: "Precondition Failed", 413: "Payload Too Large", 414: "URI Too Long",
    415: "Unsupported Media Type", 416: "Requested range unsatisfiable",
    417: "Expectation failed", 418: "I'm a teapot", 421: "Misdirected Request",
    422: "Unprocessable Content", 425: "Too Early", 426: "Upgrade Required",
    428: "Precondition Required", 429: "Too Many Requests",
    431: "Request Header Fields Too Large", 451: "Unavailable For Legal Reasons",
    500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Gateway Timeout", 505: "HTTP Version Not Supported",
    506: "Variant Also Negotiates", 507: "Insufficient Storage", 508: "Loop Detected",
    510: "Not Extended", 511: "Network Authentication Required",
}


def reason(status: int) -> str:
    if status in REASONS:
        return REASONS[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Other"


#: statuses that have a built-in error page (the ones ``errorfile`` may replace)
ERROR_STATUSES = (200, 400, 401, 403, 404, 405, 407, 408, 410, 413, 414, 421, 422, 425, 429,
                  431, 500, 501, 502, 503, 504)
#: statuses accepted with ``default-errorfiles``/``errorfiles`` in an http reply
REPLY_ERRFILE_STATUSES = (200, 400, 403, 404, 405, 408, 410, 413, 414, 425, 429, 431, 500,
                          501, 502, 503, 504)

_PAGES: dict[int, tuple[str, str, bool]] = {
    200: ("OK", "Service ready.", False),
    400: ("Bad request", "Your browser sent an invalid request.", True),
    401: ("Unauthorized", "You need a valid user and password to access this content.", False),
    403: ("Forbidden", "Request forbidden by administrative rules.", False),
    404: ("Not Found", "The resource could not be found.", False),
    405: ("Method Not Allowed", "A request was made of a resource using a request method not "
          "supported by that resource", False),
    407: ("Unauthorized", "You need a valid user and password to access this content.", False),
    408: ("Request Time-out", "Your browser didn't send a complete request in time.", True),
    410: ("Gone", "The resource is no longer available and will not be available again.",
          False),
    413: ("Payload Too Large", "The request entity exceeds the maximum allowed.", False),
    414: ("URI Too Long", "The URI sent by the client is too long.", False),
    421: ("Misdirected Request", "Request sent to a non-authoritative server.", False),
    422: ("Unprocessable Content", "The server cannot process the contained instructions.",
          False),
    425: ("Too Early", "Your browser sent early data.", False),
    429: ("Too Many Requests", "You have sent too many requests in a given amount of time.",
          False),
    431: ("Request Header Fields Too Large", "The request header fields are too large.", False),
    500: ("Internal Server Error", "An internal server error occurred.", False),
    501: ("Not Implemented", ".The server does not support the functionality required to "
          "fulfill the request.", False),
    502: ("Bad Gateway", "The server returned an invalid or incomplete response.", False),
    503: ("Service Unavailable", "No server is available to handle this request.", False),
    504: ("Gateway Time-out", "The server didn't respond in time.", False),
}


def default_page(status: int) -> HttpMessage:
    """A fresh copy of HAProxy's built-in page for ``status`` (500's for unknown codes)."""
    if status not in _PAGES:
        status = 500
    phrase, text, close = _PAGES[status]
    body = f"<html><body><h1>{status} {phrase}</h1>\n{text}\n</body></html>\n".encode()
    headers = [("Content-length", str(len(body))), ("Cache-Control", "no-cache")]
    if close:
        headers.append(("Connection", "close"))
    headers.append(("Content-Type", "text/html"))
    return HttpMessage(version="1.1", status=status, reason=phrase, headers=headers,
                       body=body, body_complete=True)


class RawResponseError(ValueError):
    """A file that is not a full HTTP response; ``offset`` is where parsing stopped."""

    def __init__(self, offset: int) -> None:
        super().__init__(f"unable to parse headers (error offset: {offset})")
        self.offset = offset


def parse_raw_response(data: bytes) -> HttpMessage:
    """Parse a full HTTP/1 response (an errorfile): status line, headers, body."""
    text = data.decode("latin-1")
    end = text.find("\r\n\r\n")
    sep = 4
    if end < 0:
        end, sep = text.find("\n\n"), 2
    if end < 0:
        raise RawResponseError(0)
    lines = text[:end].replace("\r\n", "\n").split("\n")
    first = lines[0].split(" ", 2)
    if (len(first) < 2 or not first[0].startswith("HTTP/") or not first[1].isdigit()
            or len(first[1]) != 3):
        raise RawResponseError(0)
    headers: list[tuple[str, str]] = []
    offset = len(lines[0]) + 1
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise RawResponseError(offset)
        headers.append((name, value.strip()))
        offset += len(line) + 1
    body = data[end + sep:]
    return HttpMessage(version=first[0][5:], status=int(first[1]),
                       reason=first[2] if len(first) > 2 else reason(int(first[1])),
                       headers=headers, body=body, body_complete=True)


def copy_message(msg: HttpMessage) -> HttpMessage:
    return HttpMessage(method=msg.method, uri=msg.uri, version=msg.version, status=msg.status,
                       reason=msg.reason, headers=list(msg.headers), body=msg.body,
                       body_complete=msg.body_complete, trailers=list(msg.trailers))
