"""Benchmark scenarios: one configuration template for both proxies, and the wrk load.

Placeholders: {fe} the proxy's frontend port, {be} nginx's port, {log} the UDP log sink's
port, {proxy_global} lines only one proxy needs in `global` (haproxy: `nbthread 1`, so
both proxies run one thread).

A scenario with ``variants`` compares configurations of one proxy instead of the two
proxies: each variant adds its own `global` lines and has its own CPU quota, and the ratio
printed is last variant / first variant (``nbthread``: hapx with 2 workers capped at 100%
of a core in total against hapx with 1 worker capped at 50%, issue 4's scaling target).

A ``fixed_rate`` scenario (``http-p99``) offers both proxies the same request rate instead
of saturating them, and compares their latency (issue 4: p99 at the same offered load,
uncapped, at most 2x haproxy's)."""

from __future__ import annotations

from dataclasses import dataclass, field

BASE_HTTP = """\
global
    maxconn 4096
{proxy_global}
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend fe
    bind 127.0.0.1:{fe}
    default_backend be
backend be
    server s1 127.0.0.1:{be}
"""

RULES_HTTPLOG = """\
global
    maxconn 4096
    log 127.0.0.1:{log} local0
{proxy_global}
defaults
    mode http
    log global
    option httplog
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend fe
    bind 127.0.0.1:{fe}
    acl is_admin path_beg /admin
    http-request deny if is_admin
    http-request deny if {{ req.hdr_cnt(host) gt 1 }}
    http-request set-header X-Forwarded-Proto http
    http-request set-header X-Client-IP %[src]
    http-request set-var(txn.host) req.hdr(host),lower
    http-request set-var(txn.path) path
    http-request add-header X-Path %[var(txn.path)]
    http-request del-header X-Debug
    http-request set-header X-Host %[var(txn.host)]
    http-request capture req.hdr(User-Agent) len 64
    default_backend be
backend be
    server s1 127.0.0.1:{be}
"""

TCP = """\
global
    maxconn 4096
{proxy_global}
defaults
    mode tcp
    timeout connect 5s
    timeout client 30s
    timeout server 30s
listen tcp
    bind 127.0.0.1:{fe}
    server s1 127.0.0.1:{be}
"""


@dataclass(frozen=True)
class Variant:
    """One configuration of one proxy in a scenario that compares configurations."""

    name: str
    proxy: str
    global_lines: str
    #: CPU quota of the whole process tree, % of one CPU
    quota: float


H2C = BASE_HTTP.replace("    bind 127.0.0.1:{fe}\n", "    bind 127.0.0.1:{fe} proto h2\n")
H2_TLS = BASE_HTTP.replace("    bind 127.0.0.1:{fe}\n",
                           "    bind 127.0.0.1:{fe} ssl crt {crt} alpn h2,http/1.1\n")


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    config: str
    path: str = "/100"
    wrk_args: tuple[str, ...] = ()
    log_sink: bool = False
    uncapped: bool = False      # throughput: the proxy runs without the CPU quota
    tags: tuple[str, ...] = field(default=())
    #: compare these configurations rather than the proxies
    variants: tuple[Variant, ...] = ()
    #: the load generator: "wrk" (HTTP/1.1) or "h2load" (HTTP/2, ``streams`` concurrent
    #: streams on each of ``h2_connections`` connections)
    load: str = "wrk"
    scheme: str = "http"
    streams: int = 100
    h2_connections: int = 2
    #: latency at the same offered load: both proxies get one fixed request rate
    #: (bench/fixed_rate.lua), ``--rate`` or a fraction of the lower proxy's capacity
    #: measured uncapped first; compared on p99 rather than on requests per second
    fixed_rate: bool = False


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("http-ka-100", "HTTP/1.1 keep-alive, 100 B", BASE_HTTP),
    Scenario("http-ka-16k", "HTTP/1.1 keep-alive, 16 KiB", BASE_HTTP, path="/16k"),
    Scenario("http-rules-log", "HTTP/1.1 keep-alive, 100 B, 10 http-request rules + httplog",
             RULES_HTTPLOG, log_sink=True),
    Scenario("http-close", "HTTP/1.1, new connection per request, 100 B", BASE_HTTP,
             wrk_args=("-H", "Connection: close")),
    Scenario("tcp-100", "TCP (mode tcp) carrying HTTP/1.1 keep-alive, 100 B", TCP),
    Scenario("tcp-1m", "TCP (mode tcp) throughput, 1 MiB responses, uncapped", TCP,
             path="/1m", uncapped=True),
    Scenario("http-p99", "HTTP/1.1 keep-alive, 100 B, the same fixed request rate to both "
             "proxies, uncapped", BASE_HTTP, uncapped=True, fixed_rate=True),
    Scenario("nbthread", "hapx nbthread 2 capped at 100% of a core in total vs nbthread 1 "
             "capped at 50%, HTTP/1.1 keep-alive, 100 B", BASE_HTTP,
             variants=(Variant("hapx-nbthread-1", "hapx", "    nbthread 1", 50.0),
                       Variant("hapx-nbthread-2", "hapx", "    nbthread 2", 100.0))),
    Scenario("h2c-100", "HTTP/2 clear text (prior knowledge), 100 streams per connection, "
             "100 B, HTTP/1.1 server", H2C, load="h2load", tags=("h2",)),
    Scenario("h2-tls-100", "HTTP/2 over TLS (ALPN h2), 100 streams per connection, 100 B, "
             "HTTP/1.1 server", H2_TLS, load="h2load", scheme="https", tags=("h2",)),
)}

PROXY_GLOBAL = {"haproxy": "    nbthread 1", "hapx": ""}


def render(scenario: Scenario, proxy: str, *, fe: int, be: int, log: int,
           global_lines: str | None = None, crt: str = "") -> str:
    lines = PROXY_GLOBAL[proxy] if global_lines is None else global_lines
    return scenario.config.format(fe=fe, be=be, log=log, proxy_global=lines, crt=crt)
