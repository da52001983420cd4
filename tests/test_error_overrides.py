"""Replies built by rules use the same error-page overrides as the data path: an
``errorfile``/``http-error`` of the proxy, else HAProxy's built-in page."""

from __future__ import annotations

from hapx.core.rules import run_rules
from test_rules import alerts, load, request


def test_deny_uses_the_proxys_errorfile(tmp_path):
    page = tmp_path / "403.http"
    page.write_bytes(b"HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\n"
                     b"content-length: 7\r\n\r\nnope!\r\n")
    config, diag, _ = load(tmp_path, f"""
defaults
    mode http
frontend fe
    errorfile 403 {page}
    http-error status 429 content-type text/plain string "slow down"
    http-request deny if {{ path /a }}
    http-request deny deny_status 429 if {{ path /b }}
    http-request deny deny_status 400
""")
    assert not diag.failed, alerts(diag)
    fe = config.frontend("fe")
    replies = []
    for path in ("/a", "/b", "/c"):
        strm = request(uri=path, frontend=fe)
        run_rules(fe.rules["http-request"], strm)
        replies.append(strm.ext["http_reply"])
    assert (replies[0].status, replies[0].body) == (403, b"nope!\r\n")
    assert (replies[1].status, replies[1].body) == (429, b"slow down")
    assert replies[2].status == 400 and b"<h1>400 Bad request</h1>" in replies[2].body
