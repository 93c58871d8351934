"""``driftline``'s subcommands, a module each; ``common`` holds what they share.

``streams.cli`` loads a command's module only when that command runs, so
``driftline --help`` imports none of them; keep this file empty of imports.
"""
