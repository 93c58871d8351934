"""``driftline config check`` and ``driftline config schema``.

``check`` loads the settings with the worker's own loader (``load_settings``: the
file, ``DRIFTLINE_CONFIG``, the ``DRIFTLINE_*`` variables) and prints the effective
settings with secrets masked (``streams.config.effective``); a bad value stops it with
the worker's one-line start-up error and exit status 2. ``schema`` prints the
committed JSON Schema of the configuration file (``streams.config.schema``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import yaml

from streams.cli.common import fail


@click.group("config")
def config() -> None:
    """Check the configuration, or print its JSON Schema."""


def _yaml(data: object) -> str:
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True)


def _flow(value: object) -> str:
    """One value as a one-line YAML scalar or flow collection."""
    text = yaml.safe_dump(value, default_flow_style=True, width=1 << 20, allow_unicode=True)
    return text.removesuffix("\n").removesuffix("\n...").strip()


@config.command("check")
@click.argument("file", type=click.Path(path_type=Path), required=False)
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=None,
              help="YAML settings file, as FILE (default: $DRIFTLINE_CONFIG).")
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml",
              show_default=True, help="Output format of the effective settings.")
@click.option("--sources", is_flag=True,
              help="One line per key with where its value came from: default, file or env.")
def check(file: Path | None, config_path: Path | None, fmt: str, sources: bool) -> None:
    """Validate the settings as the worker loads them and print the effective settings.

    FILE (or --config, else $DRIFTLINE_CONFIG, else the defaults) plus the
    DRIFTLINE_* variables. Secrets are masked. A bad value prints the worker's
    one-line error and exits with status 2.
    """
    from streams.config.effective import effective_settings, leaves, value_sources
    from streams.config.settings import SettingsError, load_settings_with_sources

    if file is not None and config_path is not None and file != config_path:
        fail(f"give the file once: {file} or --config {config_path}")
    try:
        settings, origin = load_settings_with_sources(file or config_path)
    except SettingsError as exc:
        fail(str(exc))
    shown = effective_settings(settings)
    if sources:
        where = value_sources(settings, origin)
        flat = dict(leaves(shown))
        if fmt == "json":
            data: Any = {path: {"value": value, "source": where[path]}
                         for path, value in flat.items()}
            click.echo(json.dumps(data, indent=2, allow_nan=False))
        else:
            for path, value in flat.items():
                click.echo(f"{path}: {_flow(value)}  # {where[path]}")
        return
    if fmt == "json":
        click.echo(json.dumps(shown, indent=2, allow_nan=False))
    else:
        read = f"{origin.path}" if origin.path is not None else "no file, defaults"
        click.echo(f"# valid ({read}); secrets are shown as ***")
        click.echo(_yaml(shown), nl=False)


@config.command("schema")
def schema() -> None:
    """Print the JSON Schema (draft 2020-12) of the configuration file."""
    from streams.config.schema import SCHEMA_FILE

    click.echo(SCHEMA_FILE.read_text(encoding="utf-8"), nl=False)
