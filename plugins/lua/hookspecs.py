"""The Lua plugin's own extension point: other plugins add to the Lua API.

A plugin implements ``hapx_lua_api(api)`` (marked ``@hookimpl(optionalhook=True)`` so that
it still loads when the lua plugin is disabled).  It is called once per Lua state, when the
configuration's first ``lua-load`` creates it, with a :class:`~.runtime.LuaApi`:

* ``api.define(source, functions)`` runs a Lua chunk that receives ``(H, MARK, classes)``:
  ``H`` a table of the given Python callables, ``MARK`` the value a blocking call yields
  first (``coroutine.yield(MARK, "op", ...)``), ``classes`` the method tables of TXN,
  HTTP, AppletHTTP and AppletTCP; the chunk adds to ``core`` or defines classes;
* ``api.blocking(op, coro_fn)`` serves such a yield: ``await coro_fn(*args)`` returns the
  tuple of values the Lua call gets back;
* ``api.state`` is the :class:`~.runtime.LuaState`, ``api.config`` the configuration.
"""

from __future__ import annotations

from typing import Any

import pluggy
from hapx.core.hookspecs import PROJECT

hookspec = pluggy.HookspecMarker(PROJECT)


@hookspec
def hapx_lua_api(api: Any) -> None:
    """Add functions or classes to the Lua API of one Lua state (see the module doc)."""
