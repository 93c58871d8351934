"""``driftline replay``: a CSV, Parquet or JSON Lines file into Kafka, as events.

CSV and Parquet rows become schema v1 prediction events: the columns
``event_id``, ``model_id``, ``model_version``, ``event_time``, ``prediction_id``,
``prediction`` and ``score`` fill those fields, ``segment.NAME`` columns fill
``segment``, and every other column (but ``--exclude``) is a feature. A row
without ``event_id`` gets one derived from the file name and row number, without
``prediction_id`` ``STEM-ROW``, and without ``event_time`` the time it is sent.
With ``--labels`` rows become label events (``prediction_id``, ``model_id``,
``label``, ``event_time``) keyed by ``prediction_id``. JSON Lines files are sent
line by line as they are, keyed by the line's ``model_id`` (``prediction_id``
with ``--labels``).

Every event is checked first as the worker will check it, with the limits of
the settings (``--config``, or ``DRIFTLINE_CONFIG`` and the environment, as the
worker reads them): an event the worker would dead-letter is refused and not
sent (``--send-invalid`` sends it anyway). At the end one line reports what was
sent, what was refused (by reason) and what the broker did not take; the exit
status is 0 when everything was sent, 1 when events were refused, 3 when some
were not delivered, 2 on a command error (``streams.cli.checked_send``). Events
older than ``ingest.max_past`` are refused with a warning at the first one,
unless ``--backfill`` marks them as history (``streams.decoding.backfill``,
docs/backfill.md). File order is kept: a backfill from an unsorted file has
late events; ``driftline backfill`` sorts by event time.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
import msgspec

from streams.batch.files import FORMATS, InputError, read_table
from streams.cli.checked_send import SendReport, check, exit_status, send
from streams.cli.common import bootstrap_from_url, broker_errors, broker_option, fail
from streams.config.settings import Settings, SettingsError, TopicSettings, load_settings
from streams.decoding.events import DeadLetter
from streams.transport.producer import encode_event
from streams.transport.topics import ensure_topics

FIELDS = ("event_id", "model_id", "model_version", "event_time", "prediction_id",
          "prediction", "score")
LABEL_FIELDS = ("prediction_id", "model_id", "label", "event_time")
_NAMESPACE = uuid.UUID("0d6f3c52-8e41-4b8a-a0a9-61f1c2e7b3d4")
_TOPICS = TopicSettings()
Record = tuple[bytes | None, bytes]


@dataclass(frozen=True)
class RowMapping:
    """How the rows of one file become events."""

    source: Path
    labels: bool
    model_id: str | None
    model_version: str
    exclude: frozenset[str]
    timed: bool = False  # rows must have an event_time (a backfill): none is not "now"


def _time(row: Mapping[str, Any], how: RowMapping) -> str | None:
    """The row's event time; without one the time it is sent, unless ``how.timed``."""
    return _text(row.get("event_time")) or (None if how.timed else rfc3339(datetime.now(UTC)))


def rfc3339(moment: datetime) -> str:
    """A datetime as RFC 3339 UTC with milliseconds and ``Z`` (naive means UTC)."""
    moment = moment.astimezone(UTC) if moment.tzinfo else moment
    return moment.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return rfc3339(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return rfc3339(value) if isinstance(value, datetime) else str(value)


def prediction_event(row: Mapping[str, Any], number: int, how: RowMapping) -> dict[str, Any]:
    """One CSV/Parquet row (``number`` counts from 1) as a schema v1 prediction event."""
    prediction = row.get("prediction")
    event: dict[str, Any] = {
        "event_id": _text(row.get("event_id"))
        or str(uuid.uuid5(_NAMESPACE, f"{how.source.name}:{number}")),
        "model_id": _text(row.get("model_id")) or how.model_id,
        "model_version": _text(row.get("model_version")) or how.model_version,
        "event_time": _time(row, how),
        "prediction_id": _text(row.get("prediction_id")) or f"{how.source.stem}-{number}",
        "features": {name: _jsonable(value) for name, value in row.items()
                     if name not in FIELDS and name not in how.exclude
                     and not name.startswith("segment.")},
        "prediction": int(prediction) if isinstance(prediction, bool) else prediction,
    }
    if "score" in row:
        event["score"] = row["score"]
    segment = {name.removeprefix("segment."): _jsonable(value)
               for name, value in row.items() if name.startswith("segment.")}
    if segment:
        event["segment"] = segment
    return event


def label_event(row: Mapping[str, Any], number: int, how: RowMapping) -> dict[str, Any]:
    """One CSV/Parquet row as a label event."""
    label = row.get("label")
    return {"prediction_id": _text(row.get("prediction_id")),
            "model_id": _text(row.get("model_id")) or how.model_id,
            "label": int(label) if isinstance(label, bool) else label,
            "event_time": _time(row, how)}


def _check_columns(columns: list[str], how: RowMapping) -> None:
    required = ["prediction_id", "label"] if how.labels else ["prediction"]
    if how.timed:
        required.append("event_time")
    if how.model_id is None:
        required.append("model_id")
    for name in required:
        if name not in columns:
            hint = "; pass --model ID" if name == "model_id" else ""
            fail(f"{how.source}: no column {name!r} (columns: {', '.join(columns)}){hint}")


def table_records(path: Path, how: RowMapping) -> tuple[int, Iterator[Record]]:
    """The number of rows of a CSV/Parquet file and its rows as ``(key, JSON)`` records."""
    table = read_table(path)
    _check_columns(table.column_names, how)
    convert: Callable[[Mapping[str, Any], int, RowMapping], dict[str, Any]] = (
        label_event if how.labels else prediction_event)
    key_field = "prediction_id" if how.labels else "model_id"

    def records() -> Iterator[Record]:
        number = 0
        for batch in table.to_batches(max_chunksize=10_000):
            for row in batch.to_pylist():
                number += 1
                event = convert(row, number, how)
                yield str(event[key_field]).encode(), encode_event(event)

    return table.num_rows, records()


def jsonl_records(path: Path, key_field: str) -> tuple[int, Iterator[Record]]:
    """The non-blank lines of a JSON Lines file, as they are, keyed by ``key_field``."""
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    lines = [line for line in path.read_bytes().splitlines() if line.strip()]
    if not lines:
        raise InputError(f"{path}: file is empty")
    return len(lines), ((_line_key(line, key_field), line) for line in lines)


def _line_key(line: bytes, key_field: str) -> bytes | None:
    try:
        value = msgspec.json.decode(line)
    except msgspec.DecodeError:
        return None
    key = value.get(key_field) if isinstance(value, dict) else None
    return key.encode() if isinstance(key, str) else None


def settings_from(config: Path | None) -> Settings:
    """The settings the events are checked with, as the worker reads them."""
    try:
        return load_settings(config)
    except SettingsError as exc:
        fail(str(exc))


def past_warning(backfill: bool, send_invalid: bool) -> Callable[[DeadLetter], None]:
    """The warning at the first event refused as ``past_timestamp``."""
    def warn(letter: DeadLetter) -> None:
        fate = ("they are sent anyway and will be dead-lettered" if send_invalid
                else "they are not sent")
        hint = ("" if backfill else "; to replay history, pass --backfill or use "
                "`driftline backfill` (docs/backfill.md)")
        detail = letter.detail
        if backfill:  # a backfill's bound takes the place of max_past
            detail = detail.replace("ingest.max_past", "ingest.backfill_max_past")
        click.echo(f"driftline: warning: {detail}: the worker dead-letters such events "
                   f"as past_timestamp, so {fate}{hint}", err=True)
    return warn


config_option = click.option(
    "--config", type=click.Path(path_type=Path, dir_okay=False), default=None,
    help="The worker's settings file, for the limits events are checked against "
         "[default: DRIFTLINE_CONFIG, else the defaults].")


@click.command("replay")
@click.argument("file", type=click.Path(path_type=Path))
@broker_option
@config_option
@click.option("--topic", default=None,
              help="Topic to send to [default: the settings' topics.predictions, or "
                   f"topics.labels with --labels: {_TOPICS.predictions}, {_TOPICS.labels}].")
@click.option("--rate", type=click.FloatRange(min=0, min_open=True), default=None,
              metavar="EV/S", help="Events per second [default: as fast as possible].")
@click.option("--labels", is_flag=True,
              help="Rows are labels, sent keyed by prediction_id to the labels topic.")
@click.option("--model", "model_id", default=None, metavar="ID",
              help="model_id of rows without a model_id column.")
@click.option("--model-version", default="1", show_default=True,
              help="model_version of rows without one.")
@click.option("--exclude", multiple=True, metavar="COL",
              help="Column to leave out of the features (a label column, say).")
@click.option("--backfill", is_flag=True,
              help="The events are history: mark them so the worker bounds their event time "
                   "by ingest.backfill_max_past instead of ingest.max_past.")
@click.option("--send-invalid", is_flag=True,
              help="Send events the worker will dead-letter too (they are still reported).")
def command(file: Path, broker_url: str, config: Path | None, topic: str | None,
            rate: float | None, labels: bool, model_id: str | None, model_version: str,
            exclude: tuple[str, ...], backfill: bool, send_invalid: bool) -> None:
    """Send the rows of FILE (CSV, Parquet or JSON Lines) to Kafka as events.

    Events are checked as the worker will check them; those it would dead-letter
    are refused. Exit status: 0 all sent, 1 some refused, 2 command error,
    3 some not delivered (docs/backfill.md).
    """
    bootstrap = bootstrap_from_url(broker_url)
    settings = settings_from(config)
    topic = topic or (settings.topics.labels if labels else settings.topics.predictions)
    how = RowMapping(file, labels, model_id, model_version, frozenset(exclude))
    try:
        if FORMATS.get(file.suffix.lower()) == "jsonl":
            total, records = jsonl_records(file, "prediction_id" if labels else "model_id")
        else:
            total, records = table_records(file, how)
    except InputError as exc:
        fail(str(exc))
    report = SendReport(sent_invalid=send_invalid)
    checked = check(((topic, key, value) for key, value in records),
                    labels_topic=topic if labels else "", settings=settings, backfill=backfill,
                    report=report, on_past=past_warning(backfill, send_invalid),
                    send_invalid=send_invalid)
    with broker_errors(bootstrap):
        ensure_topics(bootstrap, {topic: settings.topics.partitions})
        with click.progressbar(length=total, label=f"replaying {file.name}",
                               file=click.get_text_stream("stderr")) as bar:
            send(bootstrap, checked, report, backfill=backfill, rate=rate,
                 on_progress=lambda done: bar.update(report.handled(done) - bar.pos))
    kind = "label events" if labels else "events"
    marked = " as a backfill" if backfill else ""
    click.echo(f"driftline: sent {report.sent:,} {kind} from {file} to {topic}{marked} at "
               f"{bootstrap}; {report.summary()}")
    raise SystemExit(exit_status(report))
