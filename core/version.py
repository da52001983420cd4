"""Version of hapx and the HAProxy release whose behaviour it follows."""

HAPX_VERSION = "0.1.0"
HAPROXY_COMPAT = "3.2"
#: The HAProxy version hapx reports to configurations (`version_atleast()`, HAPROXY_BRANCH).
HAPROXY_VERSION = "3.2.0"
HAPX_RELEASE_DATE = "2026/11/25"
