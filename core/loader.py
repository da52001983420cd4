"""Plugin discovery (stevedore) and registration (pluggy).

stevedore finds and imports the entry points of the ``hapx.plugins`` group (every built-in
feature and every installed third-party package) and, by name only, of ``hapx.contrib``;
pluggy validates each plugin's hook implementations against :mod:`hapx.core.hookspecs` and
calls them.  A plugin that fails to import or to register is named in a warning and skipped;
two plugins registering the same keyword is an error naming both.
"""

from __future__ import annotations

import importlib.metadata as md
import os
import sys
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pluggy
from stevedore import named

from . import hookspecs
from .errors import PluginError
from .registry import REGISTER_HOOKS, Registry

GROUP = "hapx.plugins"
CONTRIB_GROUP = "hapx.contrib"
#: Plugins the kernel cannot work without: they cannot be disabled.
ESSENTIAL = frozenset({"proxy_basics", "global_settings"})
#: Environment variable with a comma-separated list of plugins to disable.
DISABLE_ENV = "HAPX_DISABLE_PLUGINS"


@dataclass
class PluginInfo:
    """What ``hapx plugins`` and ``-vv`` show about one plugin."""

    name: str
    group: str
    module: str
    distribution: str = ""
    version: str = ""
    status: str = "loaded"  # loaded | disabled | failed
    error: str = ""
    records: list[Any] = field(default_factory=list)


def _metadata_stamp() -> tuple[Any, ...]:
    """What changes when a distribution is installed, removed or re-installed: each
    ``sys.path`` entry with its modification time, and every ``*.dist-info`` /
    ``*.egg-info`` in it with the modification time of its ``entry_points.txt``.  A few
    stat() calls, against reading the metadata of every installed distribution."""
    stamp: list[Any] = []
    for entry in sys.path:
        path = entry or "."
        try:
            st = os.stat(path)
        except OSError:
            continue
        stamp.append((entry, st.st_mtime_ns))
        try:
            with os.scandir(path) as it:
                infos = sorted(d.name for d in it
                               if d.name.endswith((".dist-info", ".egg-info")))
        except OSError:
            continue  # a zip file: its own mtime is in the stamp
        for name in infos:
            try:
                mtime = os.stat(os.path.join(path, name, "entry_points.txt")).st_mtime_ns
            except OSError:
                mtime = 0
            stamp.append((name, mtime))
    return tuple(stamp)


_EP_CACHE: dict[str, tuple[tuple[Any, ...], list[md.EntryPoint]]] = {}


def group_entry_points(group: str) -> list[md.EntryPoint]:
    """The entry points of ``group``, the first of each name (``sys.path`` order).

    Read afresh whenever the installed distributions changed, so that a package installed
    while the process runs is seen (stevedore's own caches, keyed by ``sys.path`` only,
    would miss it); otherwise the previous scan is reused."""
    stamp = _metadata_stamp()
    cached = _EP_CACHE.get(group)
    if cached is not None and cached[0] == stamp:
        return list(cached[1])
    seen: dict[str, md.EntryPoint] = {}
    for ep in md.entry_points(group=group):
        seen.setdefault(ep.name, ep)
    eps = list(seen.values())
    _EP_CACHE[group] = (stamp, eps)
    return list(eps)


class _FreshNamedManager(named.NamedExtensionManager):
    """stevedore's named manager, with the entry points of :func:`group_entry_points`.

    stevedore keeps the entry points of a group in process-wide caches keyed by
    ``sys.path``; a package installed while the process runs (a test, a long-lived tool)
    would stay invisible.  Reading them here keeps stevedore's loading, ordering and
    failure handling, with the installed set as it is now."""

    def list_entry_points(self) -> list[md.EntryPoint]:
        return group_entry_points(self.namespace)


class PluginSet:
    """The plugin manager facade: one per process (or per test)."""

    def __init__(self, *, disabled: Iterable[str] = (), enabled_contrib: Iterable[str] = (),
                 warn: Any = None) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        # historic: each plugin gets it as it is registered, and may add hook specs that
        # other plugins implement (a plugin's own extension points)
        self.pm.hook.hapx_addhooks.call_historic(kwargs={"pluginmanager": self.pm})
        self.registry = Registry()
        self.infos: dict[str, PluginInfo] = {}
        self.disabled = set(disabled)
        self.enabled_contrib = list(enabled_contrib)
        self._warn = warn or (lambda text: print(f"[WARNING]  : {text}", file=sys.stderr))

    # -- discovery ---------------------------------------------------------------------------
    def discover(self) -> None:
        """Load the installed plugins except the disabled ones, then the enabled contrib ones."""
        refused = self.disabled & ESSENTIAL
        if refused:
            raise PluginError(
                "essential plugin(s) cannot be disabled: " + ", ".join(sorted(refused))
            )
        self._load_group(GROUP, None)
        if self.enabled_contrib:
            self._load_group(CONTRIB_GROUP, self.enabled_contrib)

    def _load_group(self, group: str, wanted: list[str] | None) -> None:
        eps = {ep.name: ep for ep in group_entry_points(group)}
        if wanted is not None:
            missing = [n for n in wanted if n not in eps]
            for name in missing:
                self._warn(f"plugin '{name}' was asked for but no package provides it")
            names = [n for n in wanted if n in eps]
        else:
            names = sorted(eps)
        for name in names:
            ep = eps[name]
            info = PluginInfo(name=name, group=group, module=ep.value)
            if ep.dist is not None:
                info.distribution = ep.dist.name
                info.version = ep.dist.version
            self.infos[name] = info
        todo = [n for n in names if n not in self.disabled]
        for n in names:
            if n in self.disabled:
                self.infos[n].status = "disabled"
        if not todo:
            return

        def failed(_mgr: Any, ep: md.EntryPoint, exc: BaseException) -> None:
            info = self.infos[ep.name]
            info.status = "failed"
            info.error = f"{type(exc).__name__}: {exc}"
            self._warn(f"plugin '{ep.name}' ({ep.value}) failed to load and is skipped: "
                       f"{info.error}")

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mgr = _FreshNamedManager(
                group, names=todo, name_order=True, on_load_failure_callback=failed,
                on_missing_entrypoints_callback=lambda _names: None,
            )
        for ext in mgr:
            self.add_plugin(ext.name, ext.plugin)

    # -- registration --------------------------------------------------------------------------
    def add_plugin(self, name: str, plugin: Any, *, info: PluginInfo | None = None) -> bool:
        """Register one plugin object with pluggy and collect its records.  Returns False
        (after a warning) when the plugin is broken; raises PluginError on a duplicate
        keyword, which is a configuration of installed packages that must be fixed."""
        if info is not None:
            self.infos[name] = info
        info = self.infos.setdefault(
            name, PluginInfo(name=name, group="(direct)", module=_module_name(plugin))
        )
        try:
            self.pm.register(plugin, name=name)
        except (ValueError, pluggy.PluginValidationError) as exc:
            info.status, info.error = "failed", str(exc)
            self._warn(f"plugin '{name}' is invalid and is skipped: {exc}")
            return False
        try:
            self._collect(name)
        except PluginError:
            self.registry.remove_owner(name)
            self.pm.unregister(name=name)
            raise
        except Exception as exc:  # noqa: BLE001 - a third-party bug must not stop hapx
            self.registry.remove_owner(name)
            self.pm.unregister(name=name)
            info.status, info.error = "failed", f"{type(exc).__name__}: {exc}"
            self._warn(f"plugin '{name}' failed while registering and is skipped: {info.error}")
            return False
        info.status = "loaded"
        info.records = list(self.registry.by_owner.get(name, []))
        return True

    def _collect(self, name: str) -> None:
        plugin = self.pm.get_plugin(name)
        for hook_name, kinds in REGISTER_HOOKS.items():
            hook = getattr(self.pm.hook, hook_name)
            for impl in hook.get_hookimpls():
                if impl.plugin is not plugin:
                    continue
                registrar = self.registry.for_owner(name, *kinds)
                kwargs = {arg: registrar for arg in impl.argnames}
                impl.function(**kwargs)

    def check_pending(self) -> None:
        """Fail when a plugin implements a hook that has no spec (a misspelt hook)."""
        self.pm.check_pending()

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def hook(self) -> Any:
        return self.pm.hook

    def loaded(self) -> list[PluginInfo]:
        return [i for i in self.infos.values() if i.status == "loaded"]


def _module_name(plugin: Any) -> str:
    if isinstance(plugin, ModuleType):
        return plugin.__name__
    return f"{type(plugin).__module__}.{type(plugin).__qualname__}"


def load_plugins(*, disabled: Iterable[str] = (), enabled_contrib: Iterable[str] = (),
                 warn: Any = None) -> PluginSet:
    """Discover, register and check every plugin: the usual way to get a PluginSet."""
    plugins = PluginSet(disabled=disabled, enabled_contrib=enabled_contrib, warn=warn)
    from .config import sections as kernel_sections  # the kernel's own records

    plugins.add_plugin("kernel", kernel_sections,
                       info=PluginInfo(name="kernel", group="(kernel)",
                                       module=kernel_sections.__name__,
                                       distribution="hapx", version=_hapx_version()))
    from .runtime import engine  # the data path's lifecycle

    plugins.add_plugin("engine", engine,
                       info=PluginInfo(name="engine", group="(kernel)", module=engine.__name__,
                                       distribution="hapx", version=_hapx_version()))
    from .runtime import cli_api  # the runtime API's interpreter and its own commands

    plugins.add_plugin("cli", cli_api,
                       info=PluginInfo(name="cli", group="(kernel)", module=cli_api.__name__,
                                       distribution="hapx", version=_hapx_version()))
    plugins.discover()
    plugins.check_pending()
    return plugins


def _hapx_version() -> str:
    from .version import HAPX_VERSION

    return HAPX_VERSION


def list_installed(group: str = GROUP) -> list[md.EntryPoint]:
    """Entry points of a group, without importing them."""
    return sorted(group_entry_points(group), key=lambda ep: ep.name)
