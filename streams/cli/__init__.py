"""The ``driftline`` command line: one group, one module per command."""
