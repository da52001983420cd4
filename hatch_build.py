"""Editable installs of the ``hapx`` namespace.

The wheel maps ``core/``, ``plugins/`` and ``contrib/`` to ``hapx/core`` and so on with
``force-include``.  hatchling refuses such a prefix rewrite for editable installs, so for the
editable wheel only this hook ships a generated ``hapx/__init__.py`` whose ``__path__`` is the
project root: ``hapx.core`` then resolves to ``<root>/core`` and edits are live.
"""

from __future__ import annotations

import os
import tempfile

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class EditableNamespaceHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict) -> None:
        if version != "editable":
            return
        root = os.path.abspath(self.root)
        fd, path = tempfile.mkstemp(suffix="_hapx_init.py")
        with os.fdopen(fd, "w") as f:
            f.write(f'"""hapx (editable install)."""\n__path__ = [{root!r}]\n')
        build_data.setdefault("force_include_editable", {})[path] = "hapx/__init__.py"
