"""HTTP actions end to end: configuration snippets parsed with the real plugins, rules run
on real streams."""

from __future__ import annotations

import pytest
from hapx.core.records import ActResult
from hapx.core.rules import run_rules
from hapx.core.stream import HttpMessage
from test_rules import alerts, load, request


def fe_rules(tmp_path, *lines, ruleset="http-request", extra=""):
    text = ("defaults d\n    mode http\nfrontend fe\n    bind :8080\n"
            + "".join(f"    {line}\n" for line in lines) + extra)
    config, diag, _ = load(tmp_path, text)
    assert not diag.failed, alerts(diag)
    return config, config.frontend("fe").rules.get(ruleset, [])


def error_of(tmp_path, line: str, section: str = "frontend fe\n    bind :8080") -> str:
    text = f"defaults d\n    mode http\n{section}\n    {line}\n"
    _, diag, _ = load(tmp_path, text)
    msgs = alerts(diag)
    assert msgs, "expected an error"
    return msgs[0].split(": ", 1)[1]


def run(rules, strm):
    return run_rules(rules, strm)


def response(status=200, headers=()):
    return HttpMessage(status=status, reason="OK", headers=list(headers))


# -- allow / deny / return / reject / auth ---------------------------------------------------

def test_allow_stops_the_rule_set(tmp_path):
    _, rules = fe_rules(tmp_path, "http-request allow", "http-request deny")
    s = request()
    assert run(rules, s) == ActResult.STOP and "http_reply" not in s.ext


def test_deny_default_page(tmp_path):
    _, rules = fe_rules(tmp_path, "http-request deny")
    s = request()
    assert run(rules, s) == ActResult.DENY
    reply = s.ext["http_reply"]
    assert reply.status == 403 and reply.reason == "Forbidden"
    assert reply.body == (b"<html><body><h1>403 Forbidden</h1>\nRequest forbidden by "
                          b"administrative rules.\n</body></html>\n")
    assert reply.get("Content-length") == "93"
    assert s.term_state == "PR" and s.counters["denied_req"] == 1 and s.status == 403


def test_deny_status_and_string(tmp_path):
    _, rules = fe_rules(tmp_path, 'http-request deny deny_status 429 content-type text/plain '
                                  'string "slow down" hdr Retry-After 10')
    s = request()
    assert run(rules, s) == ActResult.DENY
    reply = s.ext["http_reply"]
    assert reply.status == 429 and reply.body == b"slow down"
    assert reply.get("content-type") == "text/plain" and reply.get("Retry-After") == "10"
    assert reply.get("content-length") == "9"


def test_http_response_deny_defaults_to_502(tmp_path):
    _, rules = fe_rules(tmp_path, "http-response deny", ruleset="http-response")
    s = request()
    s.res = response()
    assert run(rules, s) == ActResult.DENY
    assert s.ext["http_reply"].status == 502 and s.counters["denied_resp"] == 1


def test_return_defaults_to_empty_200(tmp_path):
    _, rules = fe_rules(tmp_path, "http-request return")
    s = request()
    assert run(rules, s) == ActResult.DONE
    reply = s.ext["http_reply"]
    assert (reply.status, reply.body, reply.get("content-length")) == (200, b"", "0")
    assert reply.get("content-type") is None


def test_return_string_and_lf_string(tmp_path):
    _, rules = fe_rules(tmp_path, 'http-request return status 200 content-type text/plain '
                                  'lf-string "hello %[src]" hdr X-From %[str(hapx)]')
    s = request()
    assert run(rules, s) == ActResult.DONE
    reply = s.ext["http_reply"]
    assert reply.body == b"hello 192.0.2.1" and reply.get("X-From") == "hapx"


def test_return_file_and_errorfile(tmp_path):
    body = tmp_path / "body.txt"
    body.write_bytes(b"file body\n")
    page = tmp_path / "503.http"
    page.write_bytes(b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
                     b"X-Page: mine\r\n\r\nbusy\n")
    _, rules = fe_rules(tmp_path, f"http-request return content-type text/plain file {body} "
                                  "if FALSE",
                        f"http-request return status 503 errorfile {page}")
    s = request()
    assert run(rules, s) == ActResult.DONE
    reply = s.ext["http_reply"]
    assert reply.status == 503 and reply.get("X-Page") == "mine" and reply.body == b"busy\n"
    _, rules = fe_rules(tmp_path, f"http-request return content-type text/plain file {body}")
    s = request()
    run(rules, s)
    assert s.ext["http_reply"].body == b"file body\n"


def test_return_default_errorfiles_page(tmp_path):
    _, rules = fe_rules(tmp_path, "http-request return status 404 default-errorfiles")
    s = request()
    run(rules, s)
    assert s.ext["http_reply"].body.startswith(b"<html><body><h1>404 Not Found</h1>")


@pytest.mark.parametrize("line,message", [
    ("http-request return status 200 string foo",
     "a content type must be defined when non-empty payload is configured."),
    ("http-request return status 600", "Unexpected status code '600'."),
    ("http-request return status abc", "Unexpected status code '0'."),
    ("http-request return string", "'string' expects <str> as argument."),
    ("http-request return content-type", "'content-type' expects <ctype> as argument."),
    ("http-request return content-type t string a string b",
     "unexpected 'string' argument, 'string' already defined."),
    ("http-request return status 200 hdr x", "'hdr' expects <name> and <value> as arguments."),
    ("http-request return status 204 content-type t string x",
     "No body expected for 204 responses."),
    ("http-request return status 201 default-errorfiles",
     "status code '201' not handled by default with 'default-errorfiles' argument.."),
    ("http-request return status 200 errorfile /nonexistent/x",
     "error opening file '/nonexistent/x'.."),
])
def test_reply_errors(tmp_path, line, message):
    assert error_of(tmp_path, line) == (f"error detected in frontend 'fe' while parsing "
                                        f"'{' '.join(line.split()[:2])}' rule : {message}")


def test_reply_warnings(tmp_path):
    text = ("defaults d\n    mode http\nfrontend fe\n    bind :80\n"
            "    http-request return status 200 content-type text/plain\n"
            "    http-request deny status 403 default-errorfiles content-type t\n"
            "    http-request return content-type t string x hdr content-length 3\n")
    _, diag, _ = load(tmp_path, text)
    assert not diag.failed
    assert [m.text for m in diag.warnings if m.line in (5, 6, 7)] == [
        "content-type 'text/plain' ignored by the http reply because neither errorfile nor "
        "payload defined.",
        "content-type 't' ignored by the http reply when used with an erorrfile.",
        "header 'content-length' always ignored by the http reply.",
    ]


def test_errorfiles_section_must_exist(tmp_path):
    msg = error_of(tmp_path, "http-request return status 200 errorfiles nope")
    assert msg == "Proxy 'fe': unknown http-errors section 'nope' referenced by an http reply ."


def test_reject(tmp_path):
    _, rules = fe_rules(tmp_path, "http-request reject")
    s = request()
    assert run(rules, s) == ActResult.ABORT and "http_reply" not in s.ext


def test_auth(tmp_path):
    _, rules = fe_rules(tmp_path, 'http-request auth realm "My Realm" if TRUE')
    s = request()
    assert run(rules, s) == ActResult.DONE
    reply = s.ext["http_reply"]
    assert reply.status == 401 and reply.get("WWW-Authenticate") == 'Basic realm="My Realm"'
    assert b"401 Unauthorized" in reply.body


def test_auth_default_realm_and_errors(tmp_path):
    config, rules = fe_rules(tmp_path, "http-request auth")
    s = request(frontend=config.frontend("fe"))
    run(rules, s)
    assert s.ext["http_reply"].get("WWW-Authenticate") == 'Basic realm="fe"'
    assert error_of(tmp_path, 'http-request auth realm ""').endswith(
        "rule : missing realm value.\n.")
    assert error_of(tmp_path, "http-request auth foo") == (
        "'http-request auth' expects either 'if' or 'unless' followed by a condition but "
        "found 'foo'.")


# -- redirect ---------------------------------------------------------------------------------

@pytest.mark.parametrize("args,uri,headers,location", [
    ("location /new", "/old?a=1", (), "/new"),
    ("location /new keep-query", "/old?a=1", (), "/new?a=1"),
    ("location /new?x=2 keep-query", "/old?a=1", (), "/new?x=2&a=1"),
    ("location /new keep-query", "/old", (), "/new"),
    ("prefix https://example.com", "/p/q?a=1", (), "https://example.com/p/q?a=1"),
    ("prefix / ", "/p/q?a=1", (), "/p/q?a=1"),
    ("prefix /pre drop-query", "/p/q?a=1", (), "/pre/p/q"),
    ("prefix /pre drop-query append-slash", "/p/q?a=1", (), "/pre/p/q/"),
    ("prefix /pre drop-query append-slash", "/p/", (), "/pre/p/"),
    ("scheme https", "/p?a=1", (("Host", "www.example.com"),), "https://www.example.com/p?a=1"),
    ("scheme https", "*", (("Host", "h"),), "https://h/"),
    ("scheme https", "/p", (), "https:///p"),
    ("scheme https drop-query", "/p?a=1", (("Host", "h"), ("Host", "i")), "https://h/p"),
])
def test_redirect_locations(tmp_path, args, uri, headers, location):
    _, rules = fe_rules(tmp_path, f"http-request redirect {args}")
    s = request(uri=uri, headers=headers)
    assert run(rules, s) == ActResult.DONE
    reply = s.ext["http_reply"]
    assert reply.status == 302 and reply.reason == "Found"
    assert reply.get("location") == location


def test_redirect_code_and_cookies(tmp_path):
    _, rules = fe_rules(tmp_path, "http-request redirect location /x code 301 set-cookie SEEN=1")
    s = request()
    run(rules, s)
    reply = s.ext["http_reply"]
    assert (reply.status, reply.reason) == (301, "Moved Permanently")
    assert reply.get("set-cookie") == "SEEN=1; path=/;"
    _, rules = fe_rules(tmp_path, "http-request redirect location /x clear-cookie SEEN=")
    s = request()
    run(rules, s)
    assert s.ext["http_reply"].get("set-cookie") == "SEEN=; path=/; Max-Age=0;"


def test_redirect_format_and_ignore_empty(tmp_path):
    _, rules = fe_rules(tmp_path, "http-request redirect location %[str()] ignore-empty",
                        "http-request redirect location /from/%[src] code 308")
    s = request()
    assert run(rules, s) == ActResult.DONE
    assert s.ext["http_reply"].get("location") == "/from/192.0.2.1"
    assert s.ext["http_reply"].status == 308


@pytest.mark.parametrize("line,message", [
    ("http-request redirect", "redirection type expected ('prefix', 'location', or 'scheme')."),
    ("http-request redirect location /x code 305",
     "'code': unsupported HTTP code '305' (must be one of 301, 302, 303, 307 or 308)."),
    ("http-request redirect location", "missing argument for 'location'."),
    ("http-request redirect location /x foo",
     "expects 'code', 'prefix', 'location', 'scheme', 'set-cookie', 'set-cookie-fmt', "
     "'clear-cookie', 'drop-query', 'ignore-empty', 'keep-query' or 'append-slash' "
     "(was 'foo')."),
    ("http-response redirect prefix /x", "response only supports redirect type 'location'."),
])
def test_redirect_errors(tmp_path, line, message):
    assert error_of(tmp_path, line).endswith(f"rule : {message}")


# -- headers ----------------------------------------------------------------------------------

def test_add_set_del_header(tmp_path):
    _, rules = fe_rules(tmp_path, "http-request add-header X-A one",
                        "http-request add-header x-a two",
                        "http-request set-header X-B %[src]",
                        "http-request set-header X-Old new",
                        "http-request del-header x-gone")
    s = request(headers=[("X-Old", "1"), ("x-old", "2"), ("X-Gone", "g"), ("Keep", "k")])
    assert run(rules, s) == ActResult.CONT
    assert s.req.headers == [("Keep", "k"), ("X-A", "one"), ("x-a", "two"),
                             ("X-B", "192.0.2.1"), ("X-Old", "new")]


@pytest.mark.parametrize("meth,gone", [
    ("str", ["x-foo"]), ("beg", ["x-foo", "x-foobar"]), ("end", ["x-foo", "a-x-foo"]),
    ("sub", ["x-foo", "x-foobar", "a-x-foo"]), ("reg", ["x-foo", "x-foobar", "a-x-foo"]),
])
def test_del_header_methods(tmp_path, meth, gone):
    pattern = "x-fo+" if meth == "reg" else "X-Foo"
    _, rules = fe_rules(tmp_path, f"http-request del-header {pattern} -m {meth}")
    names = ["x-foo", "x-foobar", "a-x-foo", "other"]
    s = request(headers=[(n, "v") for n in names])
    run(rules, s)
    assert [n for n, _ in s.req.headers] == [n for n in names if n not in gone]


def test_replace_header_and_value(tmp_path):
    _, rules = fe_rules(tmp_path, r"http-request replace-header Cookie (.*)SID=([^;]*)(.*) \1\3",
                        r"http-request replace-value X-List ^a(.*) b\1",
                        r"http-request replace-header X-No zzz yyy")
    s = request(headers=[("Cookie", "x=1; SID=abc; y=2"), ("X-List", "a1, c2,a3"),
                         ("X-No", "keep")])
    run(rules, s)
    assert s.req.get("Cookie") == "x=1; ; y=2"
    assert s.req.get("X-List") == "b1, c2, b3"
    assert s.req.get("X-No") == "keep"


def test_response_headers(tmp_path):
    _, rules = fe_rules(tmp_path, "http-response set-header Server hapx",
                        "http-response del-header X-Powered-By", ruleset="http-response")
    s = request()
    s.res = response(headers=[("Server", "apache"), ("X-Powered-By", "php")])
    run(rules, s)
    assert s.res.headers == [("Server", "hapx")]


@pytest.mark.parametrize("line,message", [
    ("http-request add-header", "rule : expects exactly 2 arguments."),
    ("http-request del-header", "rule : expects at least 1 argument."),
    ("http-request del-header x -m", "rule : -m flag expects exactly 1 argument."),
    ("http-request del-header x -m foo", "rule : -m with unsupported matching method 'foo'."),
    ("http-request replace-header X a(", "rule : expects exactly 3 arguments."),
    ("http-request set-header a b c",
     "'http-request set-header' expects either 'if' or 'unless' followed by a condition but "
     "found 'c'."),
])
def test_header_errors(tmp_path, line, message):
    assert error_of(tmp_path, line).endswith(message)


# -- request line -------------------------------------------------------------------------------

@pytest.mark.parametrize("line,uri,method,expect", [
    ("set-method POST", "/a", "GET", ("POST", "/a")),
    ("set-path /new", "/old?q=1", "GET", ("GET", "/new?q=1")),
    ("set-path /new", "http://h:8/old?q=1", "GET", ("GET", "http://h:8/new?q=1")),
    ("set-pathq /new?z=9", "/old?q=1", "GET", ("GET", "/new?z=9")),
    ("set-query a=2", "/p?q=1", "GET", ("GET", "/p?a=2")),
    ("set-query a=2", "/p", "GET", ("GET", "/p?a=2")),
    ("set-query %[str()]", "/p?q=1", "GET", ("GET", "/p?")),
    ("set-query %[str()]", "/p", "GET", ("GET", "/p")),
    ("set-uri /x/y", "/p?q", "GET", ("GET", "/x/y")),
    (r"replace-path /api/(.*) /v2/\1", "/api/users?x=1", "GET", ("GET", "/v2/users?x=1")),
    (r"replace-path ^/nomatch /z", "/api", "GET", ("GET", "/api")),
    (r"replace-pathq ^/a\?(.*) /b?\1&c", "/a?q=1", "GET", ("GET", "/b?q=1&c")),
    (r"replace-uri ^http://([^/]*)(.*) \2", "http://h/p?q", "GET", ("GET", "/p?q")),
])
def test_uri_rewrites(tmp_path, line, uri, method, expect):
    _, rules = fe_rules(tmp_path, f"http-request {line}")
    s = request(method=method, uri=uri)
    assert run(rules, s) == ActResult.CONT
    assert (s.req.method, s.req.uri) == expect


@pytest.mark.parametrize("args,uri,expect", [
    ("path-merge-slashes", "//a///b/?x//y", "/a/b/?x//y"),
    ("path-strip-dot", "/a/./b/.", "/a/b/"),
    ("path-strip-dotdot", "/a/b/../c/..", "/a/"),
    ("path-strip-dotdot", "/../a", "/../a"),
    ("path-strip-dotdot full", "/../a", "/a"),
    ("percent-decode-unreserved", "/%61%2F%7e?%41", "/a%2F~?A"),
    ("percent-to-uppercase", "/%2f%aa?%3d", "/%2F%AA?%3D"),
    ("percent-to-uppercase", "/%zz", "/%zz"),
    ("query-sort-by-name", "/p?c=3&a=1&b=2&a=0", "/p?a=1&a=0&b=2&c=3"),
    ("fragment-strip", "/p?q#frag", "/p?q"),
    ("fragment-encode", "/p#frag", "/p%23frag"),
])
def test_normalize_uri(tmp_path, args, uri, expect):
    _, rules = fe_rules(tmp_path, f"http-request normalize-uri {args}")
    s = request(uri=uri)
    assert run(rules, s) == ActResult.CONT
    assert s.req.uri == expect


def test_normalize_uri_strict_refuses_bad_encoding(tmp_path):
    _, rules = fe_rules(tmp_path, "http-request normalize-uri percent-to-uppercase strict")
    s = request(uri="/%zz")
    assert run(rules, s) == ActResult.INVALID and s.status == 400


@pytest.mark.parametrize("line,message", [
    ("http-request normalize-uri foo", "unknown normalizer 'foo'."),
    ("http-request normalize-uri", "missing argument <normalizer>."),
    ("http-request normalize-uri path-strip-dotdot foo",
     "unknown argument 'foo' for 'path-strip-dotdot' normalizer."),
    ("http-request set-query a b", "expects exactly 1 argument <format>."),
    ("http-request replace-path x",
     "expects exactly 2 arguments <match-regex> and <replace-format>."),
    ("http-request replace-path ( x",
     "failed to parse the regex : regex '(' is invalid (error=missing ), unterminated "
     "subpattern, erroffset=0)."),
])
def test_uri_errors(tmp_path, line, message):
    assert error_of(tmp_path, line).endswith("rule : " + message)


# -- misc ---------------------------------------------------------------------------------------

def test_set_status(tmp_path):
    _, rules = fe_rules(tmp_path, "http-response set-status 503",
                        ruleset="http-response")
    s = request()
    s.res = response()
    run(rules, s)
    assert (s.res.status, s.res.reason) == (503, "Service Unavailable")
    _, rules = fe_rules(tmp_path, 'http-after-response set-status 299 reason "Fine"',
                        ruleset="http-after-response")
    run(rules, s)
    assert (s.res.status, s.res.reason) == (299, "Fine")


def test_set_log_level_strict_mode_l7_retry(tmp_path):
    _, rules = fe_rules(tmp_path, "http-request set-log-level silent",
                        "http-request strict-mode off", "http-request disable-l7-retry")
    s = request()
    run(rules, s)
    assert s.log_level == "silent"
    assert s.ext["http_strict_mode"] is False and s.ext["l7_retry_disabled"] is True


def test_capture_len_and_id(tmp_path):
    config, rules = fe_rules(tmp_path, "http-request capture str(abcdefgh) len 4",
                             "http-request capture src id 0",
                             "http-request capture str(zz) len 10")
    fe = config.frontend("fe")
    assert fe.settings["captures"]["request"] == [4, 10]
    s = request()
    run(rules, s)
    assert s.captures_req == ["192.", "zz"]


def test_set_timeout(tmp_path):
    text = ("defaults d\n    mode http\nlisten li\n    bind :80\n"
            "    http-request set-timeout server 5s\n"
            "    http-request set-timeout tunnel int(2500)\n")
    config, diag, _ = load(tmp_path, text)
    assert not diag.failed, alerts(diag)
    s = request()
    run(config.proxy("li").rules["http-request"], s)
    assert s.ext["timeouts"] == {"server": 5000, "tunnel": 2500}


@pytest.mark.parametrize("line,message", [
    ("http-response set-status 99", "rule : expects an integer status code between 100 and 999."),
    ("http-request set-log-level foo",
     "rule : expects exactly 1 argument (log level name or 'silent')."),
    ("http-request capture src", "rule : expects <expression> [ 'len' <length> | id <idx> ]."),
    ("http-request capture src len x", "rule : length must be > 0."),
    ("http-request capture src id 3",
     "Proxy 'fe': unable to find capture id '3' referenced by http-request capture rule."),
    ("http-response capture src len 3", "rule : expects 'id', found 'len'."),
    ("http-request strict-mode maybe",
     "rule : Unexpected value 'maybe'. Only 'on' and 'off' are supported."),
    ("http-request set-timeout server 10s", "rule : proxy 'fe' has no backend capability."),
    ("http-request wait-for-body", "rule : expects time <time> [ at-least <bytes> ]."),
    ("http-request wait-for-body time 1s at-least", "rule : missing argument for 'at-least'."),
    ("http-request use-service nosuch", "rule : 'nosuch' unknown service name.."),
    ("http-request use-service", "rule : 'use-service' expects a service name.."),
])
def test_misc_errors(tmp_path, line, message):
    assert error_of(tmp_path, line).endswith(message)


def test_wait_for_body_yields_until_complete(tmp_path):
    _, rules = fe_rules(tmp_path, "http-request wait-for-body time 1s at-least 4",
                        "http-request set-header X-Done 1")
    s = request()
    s.req.body = b"ab"
    assert run(rules, s) == ActResult.YIELD
    s.req.body = b"abcd"
    assert run(rules, s) == ActResult.CONT and s.req.get("X-Done") == "1"


# -- pattern lists ------------------------------------------------------------------------------

def test_add_del_acl_and_maps(tmp_path):
    acl = tmp_path / "blocked.acl"
    acl.write_text("10.0.0.1\n")
    mp = tmp_path / "hosts.map"
    mp.write_text("a.example be_a\n")
    config, rules = fe_rules(tmp_path, f"http-request add-acl({acl}) %[src]",
                             f"http-request del-acl({acl}) 10.0.0.1",
                             f"http-request set-map({mp}) a.example be_b",
                             f"http-request set-map({mp}) %[str(new)] be_c",
                             f"http-request del-map({mp}) gone")
    s = request()
    run(rules, s)
    ref = config.patterns.get(str(acl))
    assert [e.key for e in ref.entries] == ["192.0.2.1"]
    ref = config.patterns.get(str(mp))
    assert [(e.key, e.value) for e in ref.entries] == [("a.example", "be_b"), ("new", "be_c")]


def test_set_map_needs_two_arguments(tmp_path):
    assert error_of(tmp_path, "http-request set-map(/tmp/x.map) a").endswith(
        "rule : expects exactly 2 arguments.")
