"""Commands that read or write the store: ``db upgrade``, ``reference set``,
``reference from-range``, ``windows``, ``detections``, ``alerts``.

The read commands take ``--api URL`` to read the same rows from ``driftline api``
instead (``streams.cli.remote``, ``streams.cli.reads``); either way the rows go
through the same printing code, so the output is the same byte for byte.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from sqlalchemy.exc import SQLAlchemyError

from store import migrate, repository
from store.engine import make_engine
from store.pages import alert_page, with_performance
from store.performance import list_detections, list_performance
from store.records import check_count
from store.reference_writes import set_reference
from store.types import iso_utc
from streams.batch.files import InputError
from streams.batch.profiling import profile_file
from streams.cli import reads
from streams.cli.common import bootstrap_from_url, cli_actor, fail, iso_time, kafka_python_errors
from streams.cli.remote import api_options, connect
from streams.config.settings import SettingsError, load_settings
from streams.ingest.range_reference import profile_range


def _database_url(config: Path | None, database: str | None) -> str:
    try:
        settings = load_settings(config)
    except SettingsError as exc:
        fail(str(exc))
    return database or settings.database_url


@contextmanager
def _store_errors() -> Iterator[None]:
    """Database and validation failures as one ``driftline: error:`` line."""
    try:
        yield
    except (ValueError, SQLAlchemyError) as exc:
        text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        hint = " (run `driftline db upgrade`)" if "no such table" in str(exc) or \
            "does not exist" in str(exc) else ""
        fail((text[0] if text else type(exc).__name__) + hint)


config_option = click.option("--config", type=click.Path(path_type=Path), default=None,
                             help="YAML settings file (default: $DRIFTLINE_CONFIG).")
database_option = click.option("--database", default=None, metavar="URL",
                               help="Database URL (default: the settings' database_url).")


@click.group("db")
def db() -> None:
    """Database schema management."""


@db.command("upgrade")
@config_option
@database_option
def db_upgrade(config: Path | None, database: str | None) -> None:
    """Apply every migration (Alembic) to the database."""
    url = _database_url(config, database)
    with _store_errors():
        migrate.upgrade(make_engine(url))
    click.echo("database is at the latest schema")


@click.group("reference")
def reference() -> None:
    """Reference profiles of models."""


@reference.command("set")
@click.argument("model")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--model-version", "model_version", default=None,
              help="Model version the reference is for (default: every version).")
@click.option("--prediction", multiple=True, metavar="COL",
              help="Model output columns (default: prediction, score when present).")
@click.option("--exclude", multiple=True, metavar="COL", help="Columns to leave out.")
@config_option
@database_option
def reference_set(model: str, file: Path, model_version: str | None,
                  prediction: tuple[str, ...], exclude: tuple[str, ...],
                  config: Path | None, database: str | None) -> None:
    """Profile FILE (CSV, Parquet or JSONL) and store it as MODEL's reference."""
    try:
        profile = profile_file(file, prediction, exclude)
    except (InputError, ValueError) as exc:
        fail(str(exc))
    with _store_errors():
        engine = make_engine(_database_url(config, database))
        migrate.upgrade(engine)
        with engine.begin() as conn:
            repository.touch_model(conn, model)
            ref_id = set_reference(conn, cli_actor(), model, model_version, profile, "file")
    scope = f"version {model_version}" if model_version else "every version"
    click.echo(f"stored reference {ref_id} for {model} ({scope}): {len(profile.columns)} "
               f"columns, {profile.n_rows} rows")


def echo_json_list(items: Iterable[Any]) -> None:
    """Print ``items`` as ``json.dumps(list(items), indent=2)`` would, one item at a time."""
    first = True
    for item in items:
        text = json.dumps(item, indent=2, allow_nan=False).replace("\n", "\n  ")
        click.echo(("[\n  " if first else ",\n  ") + text, nl=False)
        first = False
    click.echo("[]" if first else "\n]")


@reference.command("from-range")
@click.argument("model")
@click.option("--since", callback=iso_time, required=True, metavar="TIME",
              help="Events with event_time at or after TIME (ISO 8601; no offset means UTC).")
@click.option("--until", callback=iso_time, required=True, metavar="TIME",
              help="Events with event_time before TIME (at most 31 days after --since).")
@click.option("--model-version", "model_version", default=None,
              help="Model version the reference is for (default: every version's events, "
                   "stored for every version).")
@click.option("--broker", "broker_url", default=None, metavar="URL",
              help="Kafka brokers (default: the settings' broker_url, $DRIFTLINE_BROKER_URL).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=60.0,
              show_default=True, help="Seconds to allow for reading the topic.")
@config_option
@database_option
def reference_from_range(model: str, since: datetime, until: datetime,
                         model_version: str | None, broker_url: str | None, timeout: float,
                         config: Path | None, database: str | None) -> None:
    """Build MODEL's reference from the events of [--since, --until) still held in the
    predictions topic, as the worker builds one from a stream, and store it."""
    try:
        settings = load_settings(config)
    except SettingsError as exc:
        fail(str(exc))
    bootstrap = bootstrap_from_url(broker_url) if broker_url else settings.bootstrap_servers
    try:
        with kafka_python_errors(bootstrap):
            built = profile_range(settings, model, model_version, since, until,
                                  timeout=timeout, bootstrap=bootstrap)
    except ValueError as exc:
        fail(str(exc))
    with _store_errors():
        engine = make_engine(database or settings.database_url)
        migrate.upgrade(engine)
        with engine.begin() as conn:
            ref_id = set_reference(conn, cli_actor(), model, model_version, built.profile,
                                   "range", details=built.audit())
    counts = built.found
    scope = f"version {model_version}" if model_version else "every version"
    sampled = f", a sample of {counts.kept}" if counts.sampled else ""
    click.echo(f"stored reference {ref_id} for {model} ({scope}) from {since.isoformat()} to "
               f"{until.isoformat()}: {len(built.profile.columns)} columns, "
               f"{built.profile.n_rows} events{sampled} ({counts.records_read} records read, "
               f"{counts.invalid} invalid skipped)")


@click.command("windows")
@click.argument("model")
@click.option("--model-version", "model_version", default=None, help="Only this model version.")
@click.option("--limit", type=int, default=None, help="Only the newest N windows.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@config_option
@database_option
@api_options
def windows(model: str, model_version: str | None, limit: int | None, fmt: str,
            config: Path | None, database: str | None, api_url: str | None,
            api_token_file: Path | None) -> None:
    """The stored windows of MODEL, oldest first."""
    api = connect(api_url, api_token_file, config=config, database=database)
    if limit is not None:
        with _store_errors():
            check_count("limit", limit)
    rows: Iterable[dict[str, Any]]
    if api is not None:
        rows = reads.windows(api, model, model_version, limit)
    else:
        with _store_errors():
            engine = make_engine(_database_url(config, database))
            try:
                with engine.connect() as conn:
                    found = repository.list_windows(conn, model, model_version, limit)
                    performance = list_performance(conn, model, model_version)
            finally:
                engine.dispose()
        with_performance(found, performance)
        rows = found
    if fmt == "json":
        echo_json_list(rows)
        return
    for row in rows:
        drifted = [f["name"] for f in row["features"] if f["drifted"]]
        share = "-" if row["drift_share"] is None else f"{row['drift_share']:.0%}"
        realised, estimated = row["performance"], row["performance_estimate"]
        accuracy = "-" if realised is None else _percent(realised["metrics"].get("accuracy"))
        coverage = "-" if realised is None else _percent(realised["label_coverage"])
        guess = "-" if estimated is None else _percent(estimated.get("accuracy"))
        click.echo(f"{row['window_start']}  v{row['model_version']}  {row['n_events']:>7} "
                   f"events  share {share:>4}  {row['status']:<17} accuracy {accuracy:>4} "
                   f"(est. {guess:>4}, labels {coverage:>4})  {', '.join(drifted) or '-'}")


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


@click.command("detections")
@click.argument("model")
@click.option("--model-version", "model_version", default=None, help="Only this model version.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@config_option
@database_option
@api_options
def detections(model: str, model_version: str | None, fmt: str, config: Path | None,
               database: str | None, api_url: str | None, api_token_file: Path | None) -> None:
    """The concept-drift detections on MODEL's error stream, in stream order."""
    api = connect(api_url, api_token_file, config=config, database=database)
    items: Iterable[dict[str, Any]]
    if api is not None:
        items = reads.detections(api, model, model_version)
    else:
        with _store_errors():
            engine = make_engine(_database_url(config, database))
            try:
                with engine.connect() as conn:
                    rows = list_detections(conn, model, model_version)
            finally:
                engine.dispose()
        items = [reads.detection_item(r["model_id"], r["model_version"], {
            **r, "event_time": iso_utc(r["event_time"]),
            "detected_at": iso_utc(r["detected_at"])}) for r in rows]
    if fmt == "json":
        echo_json_list(items)
        return
    for item in items:
        click.echo(f"{item['event_time']}  v{item['model_version']}  {item['detector']:<12} "
                   f"position {item['position']:>8}  on {item['statistic']}")


@click.command("alerts")
@click.argument("model")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@config_option
@database_option
@api_options
def alerts(model: str, fmt: str, config: Path | None, database: str | None,
           api_url: str | None, api_token_file: Path | None) -> None:
    """The current state of each of MODEL's alert instances."""
    api = connect(api_url, api_token_file, config=config, database=database)
    if api is not None:
        items = reads.alerts(api, model)
    else:
        with _store_errors():
            engine = make_engine(_database_url(config, database))
            try:
                with engine.connect() as conn:
                    items = [reads.alert_item(row) for row in alert_page(conn, model)]
            finally:
                engine.dispose()
    if fmt == "json":
        echo_json_list(items)
        return
    for item in items:
        value = "-" if item["value"] is None else f"{item['value']:.4g}"
        click.echo(f"v{item['model_version']}  {item['rule']:<16} {item['feature'] or '-':<16} "
                   f"{item['status']:<9} episode {item['episode']:>3}  since "
                   f"{item['since'] or '-'}  value {value}")
