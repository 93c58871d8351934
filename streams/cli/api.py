"""``driftline api``: serve the HTTP API (``streams.api``) with uvicorn.

It reads the same settings as the worker (``--config`` or ``$DRIFTLINE_CONFIG``,
``DRIFTLINE_*`` variables): ``database_url`` and the ``api`` section. Each process
is independent and serves one port: run several behind a load balancer to scale.
The database must be at the newest schema (``driftline db upgrade``); ``/readyz``
says when it is not.
"""

from __future__ import annotations

from pathlib import Path

import click

from streams.cli.common import fail
from streams.config.settings import SettingsError, load_settings


@click.command("api")
@click.option("--config", type=click.Path(path_type=Path), default=None,
              help="YAML settings file (default: $DRIFTLINE_CONFIG).")
@click.option("--database", default=None, metavar="URL",
              help="Database URL (default: the settings' database_url).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
def command(config: Path | None, database: str | None, host: str, port: int) -> None:
    """Serve the HTTP API (read drift history, performance and alerts) until Ctrl-C."""
    try:
        settings = load_settings(config)
    except SettingsError as exc:
        fail(str(exc))
    import uvicorn

    from store.engine import make_engine
    from streams.api.app import create_app

    try:
        engine = make_engine(database or settings.database_url)
    except ValueError as exc:
        fail(str(exc))
    if not settings.api.tokens and not settings.api.open_reads:
        click.echo("driftline api: no token configured and api.open_reads is false: every "
                   "request except /healthz and /readyz will be refused", err=True)
    uvicorn.run(create_app(engine, settings.api, settings), host=host, port=port, log_level="info",
                server_header=False)
