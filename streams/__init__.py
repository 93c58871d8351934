"""The service: settings, the CLI, file readers and (later) the Faust worker.

The only package that wires the others together.
"""
