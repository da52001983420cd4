"""The ``hapx`` command: haproxy's command line, plus ``hapx plugins`` and ``hapx doc``.

:mod:`.options` reads the command line the way haproxy does, :mod:`.check` loads the plugins
and the configuration, :mod:`.runner` runs the process (foreground, daemon, master-worker),
and :mod:`.keywords`, :mod:`.version`, :mod:`.plugins` and :mod:`.doc` print what the plugins
registered.  Nothing here names a keyword: every listing is built from the records.
"""
