"""The sample language: types and casts, expressions, ACLs, conditions, log-format strings
and pattern lists.  Everything here compiles text into plain callables once; evaluating them
calls no hook and looks nothing up in the registry."""
