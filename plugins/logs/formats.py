"""HAProxy's built-in log formats (exact strings) and the environment variables that carry
them."""

from __future__ import annotations

import os

TCP = ("%ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq")
HTTP = ("%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc "
        "%ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r")
HTTPS = (HTTP + " %[fc_err]/%[ssl_fc_err,hex]/%[ssl_c_err]/%[ssl_c_ca_err]/"
         "%[ssl_fc_is_resumed] %[ssl_fc_sni]/%sslv/%sslc")
HTTP_CLF = ("%{+Q}o %{-Q}ci - - [%trg] %r %ST %B \"\" \"\" %cp %ms %ft %b %s %TR %Tw %Tc %Tr "
            "%Ta %tsc %ac %fc %bc %sc %rc %sq %bq %CC %CS %hrl %hsl")
TCP_CLF = ("%{+Q}o %{-Q}ci - - [%T] \"TCP \" 000 %B \"\" \"\" %cp %ms %ft %b %s %Th %Tw %Tc "
           "%Tt %U %ts-- %ac %fc %bc %sc %rc %sq %bq \"\" \"\" ")

ENV = {
    "HAPROXY_HTTP_LOG_FMT": HTTP,
    "HAPROXY_HTTPS_LOG_FMT": HTTPS,
    "HAPROXY_HTTP_CLF_LOG_FMT": HTTP_CLF,
    "HAPROXY_TCP_LOG_FMT": TCP,
    "HAPROXY_TCP_CLF_LOG_FMT": TCP_CLF,
}


def export_env() -> None:
    """Make the built-in formats available as "${HAPROXY_..._LOG_FMT}" in the
    configuration."""
    os.environ.update(ENV)
