"""The one-line error of every ``driftline`` command (light: ``streams.cli.main`` imports it)."""

from __future__ import annotations

from typing import Any

import click


class CLIError(click.ClickException):
    """A one-line error: ``driftline: error: ...`` and exit status 2."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"driftline: error: {self.format_message()}", err=True)
