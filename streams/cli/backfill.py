"""``driftline backfill``: replay history (predictions and their labels) through the worker.

``driftline backfill PREDICTIONS [LABELS]`` reads a file of prediction events
and, optionally, one of label events (CSV, Parquet or JSON Lines, read as
``driftline replay`` reads them), sorts each by event time, merges the two into
one stream in event-time order (a prediction before a label of the same time)
and sends it with the backfill header (``streams.decoding.backfill``), so the worker
bounds the events' time by ``ingest.backfill_max_past`` instead of
``ingest.max_past``.

Why one command for both files, in event-time order: the worker's windows close
as the model's event-time watermark passes them, so events sent out of order
beyond the grace period would be late; and the label join expires a prediction
when its model's label watermark passes its time plus ``labels.prediction_ttl``,
so labels must advance with the predictions, not after a month of them (the
predictions of the first weeks would have expired by then).

Every event is checked as the worker will check it (``streams.cli.checked_send``);
the end line and the exit status are ``driftline replay``'s. The files are held
in memory to be sorted, as ``replay`` holds them to be read: split a very long
history into files of a month or so, and backfill them oldest first.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import click
import msgspec
import numpy as np

from streams.batch.files import FORMATS, InputError
from streams.cli.checked_send import SendReport, check, exit_status, send
from streams.cli.common import bootstrap_from_url, broker_errors, broker_option, fail
from streams.cli.replay import (
    RowMapping,
    config_option,
    jsonl_records,
    past_warning,
    settings_from,
    table_records,
)
from streams.transport.producer import Routed
from streams.transport.topics import ensure_topics

Timed = tuple[float, int, str, bytes | None, bytes]  # (event time, order, topic, key, value)


class _EventTime(msgspec.Struct):
    event_time: datetime | None = None


_TIMES = msgspec.json.Decoder(_EventTime)


def event_time(value: bytes) -> float:
    """The event time of an encoded event in seconds; -inf when it has none that reads
    (such an event is refused by the checks, and sorts first)."""
    try:
        moment = _TIMES.decode(value).event_time
    except msgspec.DecodeError:
        return -np.inf
    if moment is None or moment.tzinfo is None:
        return -np.inf
    return moment.timestamp()


def sorted_records(path: Path, topic: str, how: RowMapping) -> tuple[list[Timed], int]:
    """A file's records in event-time order (stable), and how many were out of order."""
    try:
        if FORMATS.get(path.suffix.lower()) == "jsonl":
            _, records = jsonl_records(path, "prediction_id" if how.labels else "model_id")
        else:
            _, records = table_records(path, how)
        rows = [(event_time(value), key, value) for key, value in records]
    except InputError as exc:
        fail(str(exc))
    times = np.array([t for t, _, _ in rows], np.float64)
    unordered = int((times[1:] < np.maximum.accumulate(times)[:-1]).sum()) if len(rows) else 0
    order = np.argsort(times, kind="stable").tolist()
    return [(rows[i][0], i, topic, rows[i][1], rows[i][2]) for i in order], unordered


def merged(*streams: list[Timed]) -> Iterator[Routed]:
    """The streams merged by event time; on a tie, the earlier stream's record first."""
    for _, _, topic, key, value in heapq.merge(*streams, key=lambda r: r[0]):
        yield topic, key, value


@click.command("backfill")
@click.argument("predictions", type=click.Path(path_type=Path))
@click.argument("labels", type=click.Path(path_type=Path), required=False)
@broker_option
@config_option
@click.option("--rate", type=click.FloatRange(min=0, min_open=True), default=None,
              metavar="EV/S", help="Events per second [default: as fast as possible].")
@click.option("--model", "model_id", default=None, metavar="ID",
              help="model_id of rows without a model_id column.")
@click.option("--model-version", default="1", show_default=True,
              help="model_version of prediction rows without one.")
@click.option("--exclude", multiple=True, metavar="COL",
              help="Column of PREDICTIONS to leave out of the features.")
def command(predictions: Path, labels: Path | None, broker_url: str, config: Path | None,
            rate: float | None, model_id: str | None, model_version: str,
            exclude: tuple[str, ...]) -> None:
    """Send the history in PREDICTIONS (and their LABELS) to the worker, in event-time order.

    Events are checked as the worker will check them; those it would dead-letter
    are refused. Exit status: 0 all sent, 1 some refused, 2 command error,
    3 some not delivered (docs/backfill.md).
    """
    bootstrap = bootstrap_from_url(broker_url)
    settings = settings_from(config)
    topics = settings.topics
    streams = []
    notes = []
    for path, topic, is_labels in ((predictions, topics.predictions, False),
                                   (labels, topics.labels, True)):
        if path is None:
            continue
        how = RowMapping(path, is_labels, model_id, model_version,
                         frozenset() if is_labels else frozenset(exclude), timed=True)
        records, unordered = sorted_records(path, topic, how)
        streams.append(records)
        notes.append(f"{len(records):,} from {path}" + (
            f" ({unordered:,} out of event-time order in the file, sorted)" if unordered else ""))
    total = sum(len(s) for s in streams)
    report = SendReport()
    checked = check(merged(*streams), labels_topic=topics.labels, settings=settings,
                    backfill=True, report=report, on_past=past_warning(True, False))
    with broker_errors(bootstrap):
        ensure_topics(bootstrap, dict.fromkeys([topics.predictions, topics.labels],
                                               topics.partitions))
        with click.progressbar(length=total, label="backfilling",
                               file=click.get_text_stream("stderr")) as bar:
            send(bootstrap, checked, report, backfill=True, rate=rate,
                 on_progress=lambda done: bar.update(report.handled(done) - bar.pos))
    click.echo(f"driftline: read {'; '.join(notes)}")
    click.echo(f"driftline: sent {report.sent:,} events as a backfill to {topics.predictions} "
               f"and {topics.labels} at {bootstrap}; {report.summary()}")
    click.echo("driftline: the worker closes each model's last windows once it has seen no "
               "event of it for models.<id>.window.idle_timeout")
    raise SystemExit(exit_status(report))
