"""``driftline registry watch``: set references from an MLflow model registry.

A command of its own, not a service of the worker: it needs the ``mlflow`` extra and
the registry's network, which the worker does not; it is one process however many
workers run (two watchers would race, see ``streams.registry.watcher``); and it is
stopped, restarted and tested without touching the stream. ``--once`` polls once and
exits (for cron, or to check a configuration): status 2 and one error line when the
registry could not be read.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import click

from streams.cli.common import fail
from streams.cli.store import config_option, database_option


@click.group("registry")
def registry() -> None:
    """Model registries references are set from (docs/versions.md)."""


@registry.command("watch")
@config_option
@database_option
@click.option("--once", is_flag=True, help="Poll once, print what was set and exit.")
def watch(config: Path | None, database: str | None, once: bool) -> None:
    """Poll the MLflow registry and set each new version's and the champion's reference."""
    from sqlalchemy.exc import SQLAlchemyError

    from store import migrate
    from store.engine import make_engine
    from streams.config.settings import SettingsError, load_settings
    from streams.registry.mlflow_reader import (
        MissingExtraError,
        MlflowReader,
        RegistryUnavailableError,
    )
    from streams.registry.watcher import RegistryWatcher
    from streams.runtime.logs import configure_logging

    try:
        settings = load_settings(config)
    except SettingsError as exc:
        fail(str(exc))
    mlflow = settings.registry.mlflow
    if mlflow.tracking_uri is None:
        fail("registry.mlflow.tracking_uri is not set (docs/versions.md)")
    configure_logging(settings.worker.log_level, settings.worker.log_format,
                      settings.worker.framework_log_level)
    try:
        reader = MlflowReader(mlflow.tracking_uri, mlflow.reference_artifact)
    except MissingExtraError as exc:
        fail(str(exc))
    engine = make_engine(database or settings.database_url)
    try:
        migrate.upgrade(engine)
    except SQLAlchemyError as exc:
        fail(f"cannot open the database: {str(getattr(exc, 'orig', None) or exc).strip()}")
    watcher = RegistryWatcher(mlflow, engine, reader)
    if once:
        try:
            result = watcher.poll_once()
        except (RegistryUnavailableError, SQLAlchemyError) as exc:
            fail(str(exc).strip().splitlines()[0])
        for model_id, model_version, name, version in result.set:
            scope = f"version {model_version}" if model_version else "every version"
            click.echo(f"set the reference of {model_id} ({scope}) from {name} version {version}")
        for name, version in result.skipped:
            click.echo(f"no reference dataset for {name} version {version}")
        return
    stop = threading.Event()

    def interrupt(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    watcher.run(stop)
