"""The hapx kernel: hook specs, typed keyword records, the registry, the plugin loader and
the configuration and sample languages.  The kernel names no fetch, converter, action,
balance algorithm or filter: every keyword comes from a plugin."""
