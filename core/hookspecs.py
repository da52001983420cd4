"""pluggy hook specifications: the whole contract between the kernel and plugins.

Hooks run when plugins load, when the configuration is compiled and at lifecycle events;
never per request.  A plugin is a module (or object) with functions marked ``@hookimpl``; an
implementation may take any subset of a spec's arguments.

Registration hooks receive a :class:`~hapx.core.registry.Registrar`; call ``add(record)`` for
each keyword.  The kernel calls each plugin's implementation with a registrar stamped with
that plugin's name, so every record knows its owner.
"""

from __future__ import annotations

from typing import Any

import pluggy

PROJECT = "hapx"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# -- plugin loading ----------------------------------------------------------------------------

@hookspec(historic=True)
def hapx_addhooks(pluginmanager: pluggy.PluginManager) -> None:
    """Add new hook specifications with ``pluginmanager.add_hookspecs(module)``.

    Called once per plugin as it is registered (historic: a late plugin still gets it).
    """


# -- registration: one hook per subsystem ---------------------------------------------------

@hookspec
def hapx_register_sections(sections: Any) -> None:
    """Register configuration sections (:class:`~hapx.core.records.Section`): ``cache``,
    ``userlist``, ``crt-store``, ``acme`` ...  The proxy sections (global, defaults, frontend,
    backend, listen) are the kernel's."""


@hookspec
def hapx_register_directives(directives: Any) -> None:
    """Register configuration keywords (:class:`~hapx.core.records.Directive`), each with the
    section kinds it is valid in."""


@hookspec
def hapx_register_fetches(fetches: Any) -> None:
    """Register sample fetch methods (:class:`~hapx.core.records.Fetch`), the ACL keywords
    derived from them (:class:`~hapx.core.records.AclKeyword`) and predefined ACLs
    (:class:`~hapx.core.records.PredefinedAcl`)."""


@hookspec
def hapx_register_converters(converters: Any) -> None:
    """Register sample converters (:class:`~hapx.core.records.Converter`)."""


@hookspec
def hapx_register_log_aliases(aliases: Any) -> None:
    """Register ``%xx`` log-format aliases (:class:`~hapx.core.records.LogAlias`)."""


@hookspec
def hapx_register_actions(actions: Any) -> None:
    """Register actions (:class:`~hapx.core.records.Action`) with the rule sets that accept
    them: http-request, http-response, http-after-response, tcp-request connection / session /
    content, tcp-response content, http-check, tcp-check."""


@hookspec
def hapx_register_balancers(balancers: Any) -> None:
    """Register load-balancing algorithms (:class:`~hapx.core.records.Balancer`)."""


@hookspec
def hapx_register_filters(filters: Any) -> None:
    """Register stream filters (:class:`~hapx.core.records.Filter`)."""


@hookspec
def hapx_register_services(services: Any) -> None:
    """Register applets for ``use-service`` (:class:`~hapx.core.records.Service`)."""


@hookspec
def hapx_register_cli_commands(commands: Any) -> None:
    """Register runtime API commands (:class:`~hapx.core.records.CliCommand`)."""


@hookspec
def hapx_register_stats(stats: Any) -> None:
    """Add statistics (:class:`~hapx.core.stats.StatField` for frontends, backends, servers
    and listeners, :class:`~hapx.core.stats.InfoField` for ``show info``) to a configuration's
    :class:`~hapx.core.stats.StatsRegistry` with ``stats.add(field)``, or compute an
    existing column for the objects the plugin knows with ``stats.provide(name, get,
    kinds)`` (servers' check columns).  ``show stat``, its CSV/JSON/typed forms and the
    statistics page read the registry.  Called once per configuration, when its statistics
    are first needed (not per request)."""


@hookspec
def hapx_register_codecs(codecs: Any) -> None:
    """Register protocol codecs (:class:`~hapx.core.records.Codec`): the HTTP/1 parsers
    (httptools, h11), later HTTP/2 and HTTP/3."""


@hookspec
def hapx_register_features(features: Any) -> None:
    """Register build features shown by ``-vv`` and tested by ``feature()``."""


@hookspec
def hapx_register_subcommands(subcommands: Any) -> None:
    """Register ``hapx <name>`` command-line subcommands
    (:class:`~hapx.core.records.Subcommand`), e.g. a decoder of a log field."""


# -- command line ------------------------------------------------------------------------------

@hookspec
def hapx_add_options(parser: Any) -> None:
    """Add options to the ``hapx`` command line (an :class:`argparse.ArgumentParser`): long
    options, or haproxy-style debug flags ``-d<x>`` (``parser.add_argument("-dc", ...)``; a
    ``-d<x>`` no plugin declares means ``-d``).  The parsed values are ``runtime.plugin_options``
    at start and ``config.options`` in ``hapx_configure`` / ``hapx_post_check``."""


# -- lifecycle ---------------------------------------------------------------------------------

@hookspec
def hapx_configure(config: Any) -> None:
    """The configuration has been parsed (all files, all sections).  Resolve cross-references
    here; report problems with ``config.diag.alert(...)``."""


@hookspec
def hapx_post_check(config: Any) -> None:
    """Every check has run and the configuration is valid; last chance to refuse it."""


@hookspec(firstresult=True)
def hapx_workers(config: Any) -> list[frozenset[int]] | None:
    """How many worker processes (HAProxy's threads) run this configuration, and where:
    one CPU set per worker, thread 1 first; an empty set leaves that worker unbound.  The
    first answer that is not None wins; without one, a single unbound worker runs."""


@hookspec
def hapx_prefork(config: Any, runtime: Any) -> None:
    """Several workers will run: called in the supervising process before it forks them,
    to open what they inherit (listening sockets).  Raise to refuse to start (report the
    reason first)."""


@hookspec
def hapx_forked(config: Any, runtime: Any) -> None:
    """Every worker was forked: called in the supervising process, to release what only
    the workers use (it keeps no listener open)."""


@hookspec
def hapx_startup(config: Any, runtime: Any) -> None:
    """Proxies are starting: open listeners, start background tasks on ``runtime``."""


@hookspec
def hapx_stopping(config: Any, runtime: Any) -> None:
    """A graceful stop began: stop accepting, let in-flight work finish."""


@hookspec
def hapx_reload(old_config: Any, new_config: Any, runtime: Any) -> None:
    """A new configuration replaces ``old_config`` without a restart."""


@hookspec
def hapx_shutdown(config: Any, runtime: Any) -> None:
    """The process is about to exit: release what the plugin holds."""
