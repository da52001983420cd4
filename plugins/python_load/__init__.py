"""``python-load <file.py>``: Python keywords without packaging.

The global directive imports the file as a module of its own (a new one for each
configuration, so a reload reads the file again) and calls its registration hooks, the
same ``@hookimpl`` functions an entry-point plugin has (``hapx_register_fetches``,
``hapx_register_converters``, ``hapx_register_actions``, ``hapx_register_services``,
``hapx_register_filters``, ``hapx_register_cli_commands``, ``hapx_register_log_aliases``
...), with registrars of the configuration's own registry: the records are the same
:mod:`hapx.core.records` classes and live as long as the configuration.  They are owned
by ``python-load:<file name>``.  The module's lifecycle hooks (``hapx_configure``,
``hapx_post_check``, ``hapx_startup``, ``hapx_stopping``, ``hapx_shutdown``) run with the
plugins'.

Directives and sections cannot come from such a module: the global section that loads it
is being parsed already.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
import traceback
from itertools import count
from pathlib import Path
from types import ModuleType
from typing import Any

from hapx.core.config.model import GLOBAL
from hapx.core.errors import PluginError
from hapx.core.hookspecs import hookimpl
from hapx.core.records import Directive
from hapx.core.registry import REGISTER_HOOKS
from hapx.plugins.confkit import resolve_path

EXT = "python-load"
_ids = count(1)
#: registration hooks a python-load module may implement (not the ones for keywords of the
#: configuration being parsed: directives and sections)
HOOKS = {k: v for k, v in REGISTER_HOOKS.items()
         if k not in ("hapx_register_directives", "hapx_register_sections",
                      "hapx_register_codecs", "hapx_register_features")}
LIFECYCLE = ("hapx_configure", "hapx_post_check", "hapx_startup", "hapx_stopping",
             "hapx_shutdown")


def _call(fn: Any, **available: Any) -> Any:
    names = inspect.signature(fn).parameters
    return fn(**{n: v for n, v in available.items() if n in names})


def _import(path: str) -> ModuleType:
    name = f"hapx_python_load_{next(_ids)}_{Path(path).stem.replace('-', '_')}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import '{path}'")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _load(ctx: Any, args: list[str]) -> None:
    if len(args) != 1:
        raise ctx.error(f"'{ctx.keyword}' expects a Python file name as parameter.")
    path = resolve_path(ctx, args[0])
    if not Path(path).is_file():
        raise ctx.error(f"'{ctx.keyword}' : failed to load Python file '{path}' : "
                        "No such file or directory.")
    try:
        module = _import(path)
    except Exception as exc:  # noqa: BLE001 - any error in the user's module is reported
        last = traceback.extract_tb(exc.__traceback__)[-1:]
        where = f" (line {last[0].lineno})" if last and last[0].filename == path else ""
        raise ctx.error(f"'{ctx.keyword}' : failed to load Python file '{path}'{where} : "
                        f"{type(exc).__name__}: {exc}") from None
    owner = f"{EXT}:{Path(path).name}"
    found = False
    for hook, kinds in HOOKS.items():
        fn = getattr(module, hook, None)
        if fn is None or not callable(fn):
            continue
        found = True
        registrar = ctx.registry.for_owner(owner, *kinds)
        params = list(inspect.signature(fn).parameters)
        try:
            fn(**{p: registrar for p in params})
        except PluginError as exc:
            raise ctx.error(f"'{ctx.keyword}' : {path}: {exc}") from None
        except Exception as exc:  # noqa: BLE001
            raise ctx.error(f"'{ctx.keyword}' : {path}: {hook} failed: "
                            f"{type(exc).__name__}: {exc}") from None
    if not found and not any(callable(getattr(module, h, None)) for h in LIFECYCLE):
        ctx.warning(f"'{ctx.keyword}' : {path} registers nothing (no hapx_register_* "
                    "function).")
    ctx.config.ext.setdefault(EXT, []).append(module)


def _lifecycle(name: str, config: Any, **kw: Any) -> None:
    for module in (config.ext.get(EXT) or ()):
        fn = getattr(module, name, None)
        if callable(fn):
            _call(fn, config=config, **kw)


@hookimpl
def hapx_configure(config: Any) -> None:
    _lifecycle("hapx_configure", config)


@hookimpl
def hapx_post_check(config: Any) -> None:
    _lifecycle("hapx_post_check", config)


@hookimpl
def hapx_startup(config: Any, runtime: Any) -> None:
    _lifecycle("hapx_startup", config, runtime=runtime)


@hookimpl
def hapx_stopping(config: Any, runtime: Any) -> None:
    _lifecycle("hapx_stopping", config, runtime=runtime)


@hookimpl
def hapx_shutdown(config: Any, runtime: Any) -> None:
    _lifecycle("hapx_shutdown", config, runtime=runtime)


@hookimpl
def hapx_register_directives(directives: Any) -> None:
    directives.add(Directive(
        "python-load", sections=GLOBAL, parse=_load,
        doc="python-load <file.py>\n\nImport a Python module and register the fetches, "
            "converters, actions, services, filters, runtime commands and log-format "
            "aliases its @hookimpl hapx_register_* functions declare (the same records as "
            "an installed plugin's), for this configuration.  See docs/writing-plugins.md."))
