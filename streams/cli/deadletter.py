"""``driftline deadletter``: the newest dead letters of ``driftline.deadletter``, with reasons.

A synchronous reader (kafka-python's ``KafkaConsumer``) that joins no consumer
group and commits nothing, so it never moves anyone's offsets: it assigns
itself each partition in turn and reads it backwards from the end, in windows
of ``--limit`` records and then twice as many each time, until it holds
``--limit`` letters that pass the filters or reaches the partition's start (or
the first record of ``--since``, found with ``offsets_for_times``). The
``--limit`` newest letters over all partitions are shown, by the time each was
written, newest last. See docs/deadletters.md.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from alerting.config_values import parse_duration
from streams.cli.common import bootstrap_from_url, fail, kafka_python_errors
from streams.config.settings import SettingsError, load_settings
from streams.decoding.events import DEAD_LETTER_REASONS
from streams.transport.deadletters import (
    Letter,
    json_line,
    newest,
    read_letter,
    render_table,
    selected,
)
from streams.transport.reading import open_consumer, topic_partitions

MAX_WINDOW = 10_000  # records read backwards at once, at most
POLL_MS = 200
POLL_RECORDS = 500


@dataclass(frozen=True)
class Query:
    """What to read: where, how many, which reasons, since when, within how long."""

    bootstrap: str
    topic: str
    limit: int
    reasons: frozenset[str]
    since_ms: int | None
    timeout: float


def read_dead_letters(query: Query) -> list[Letter]:
    """The ``query.limit`` newest letters that pass its filters, newest last.

    Raises ``ConnectionError`` when no broker answers, ``TimeoutError`` when the
    reads do not finish within ``query.timeout`` and ``LookupError`` when the topic
    does not exist.
    """
    deadline = time.monotonic() + query.timeout
    timeout_ms = max(1, int(query.timeout * 1000))
    consumer = open_consumer(query.bootstrap, query.timeout, "driftline-deadletter")
    try:
        partitions = topic_partitions(consumer, query.topic)
        starts = consumer.beginning_offsets(partitions, timeout_ms=timeout_ms)
        ends = consumer.end_offsets(partitions, timeout_ms=timeout_ms)
        if query.since_ms is not None:
            found = consumer.offsets_for_times(dict.fromkeys(partitions, query.since_ms),
                                               timeout_ms=timeout_ms)
            # None (or -1): no record that new; the first window still reads past the end.
            starts = {tp: ends[tp] if found.get(tp) is None or found[tp].offset < 0
                      else found[tp].offset for tp in partitions}
        letters: list[Letter] = []
        for tp in partitions:
            consumer.assign([tp])
            letters += _newest_of(consumer, tp, starts[tp], ends[tp], query, deadline)
        return newest(letters, query.limit)
    finally:
        consumer.close(autocommit=False)


def _newest_of(consumer: Any, tp: Any, start: int, end: int, query: Query,
               deadline: float) -> list[Letter]:
    """The ``query.limit`` newest letters of one partition from ``start`` that pass.

    ``end`` (the broker's end offset) is taken as a hint: the first window reads on
    to the high watermark of the fetches, since the embedded broker reports the
    base offset of the last batch, plus one, as the end offset. At most
    ``query.limit`` letters are held at a time.
    """
    found: list[Letter] = []
    high, size, first = end, query.limit, True
    while (first or high > start) and len(found) < query.limit:
        low = max(start, high - size)
        found = (_read(consumer, tp, low, None if first else high, query, deadline)
                 + found)[-query.limit:]
        high, size, first = low, min(2 * size, MAX_WINDOW), False
    return found


def _read(consumer: Any, tp: Any, low: int, high: int | None, query: Query,
          deadline: float) -> list[Letter]:
    """The newest ``query.limit`` letters that pass of offsets [low, high) of ``tp``.

    ``high`` None reads to the end: the high watermark of the fetch responses
    (None until the first one).
    """
    consumer.seek(tp, low)
    kept: deque[Letter] = deque(maxlen=query.limit)
    while True:
        target = high if high is not None else consumer.highwater(tp)
        if target is not None and consumer.position(tp) >= target:
            return list(kept)
        if time.monotonic() > deadline:
            raise TimeoutError(f"reading {tp.topic} partition {tp.partition} from offset "
                               f"{low} did not finish in time")
        for records in consumer.poll(timeout_ms=POLL_MS, max_records=POLL_RECORDS).values():
            for r in records:
                if r.offset >= low and (high is None or r.offset < high):
                    letter = read_letter(r.partition, r.offset, r.timestamp, r.value)
                    if selected(letter, query.reasons, query.since_ms):
                        kept.append(letter)


def _since_ms(since: str | None, now: float) -> int | None:
    if since is None:
        return None
    seconds = parse_duration(since)
    if seconds is None or seconds <= 0:
        fail(f"--since must be a duration such as 30s, 15m, 2h or 1d, got {since!r}")
    return int((now - seconds) * 1000)


@click.command("deadletter")
@click.option("--config", type=click.Path(path_type=Path), default=None,
              help="YAML settings file for the broker and topic (default: $DRIFTLINE_CONFIG).")
@click.option("--broker", "broker_url", default=None, metavar="URL",
              help="Kafka brokers (default: the settings' broker_url, $DRIFTLINE_BROKER_URL).")
@click.option("--topic", default=None,
              help="Dead-letter topic (default: the settings' topics.deadletter).")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True,
              help="Show the N newest dead letters (over all partitions).")
@click.option("--reason", "reasons", multiple=True, type=click.Choice(DEAD_LETTER_REASONS),
              help="Only this reason; repeatable.")
@click.option("--since", default=None, metavar="DURATION",
              help="Only dead letters written in the last DURATION (30s, 15m, 2h, 1d).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="json: one dead-letter record per line, as stored.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=30.0,
              show_default=True, help="Seconds to allow for the whole read.")
def command(config: Path | None, broker_url: str | None, topic: str | None, limit: int,
            reasons: tuple[str, ...], since: str | None, fmt: str, timeout: float) -> None:
    """Show the newest dead letters (invalid events) with their reasons, newest last.

    Joins no consumer group and commits no offsets.
    """
    try:
        settings = load_settings(config)
    except SettingsError as exc:
        fail(str(exc))
    bootstrap = bootstrap_from_url(broker_url or settings.broker_url)
    query = Query(bootstrap, topic or settings.topics.deadletter, limit, frozenset(reasons),
                  _since_ms(since, time.time()), timeout)
    with kafka_python_errors(bootstrap):
        letters = read_dead_letters(query)
    show(letters, fmt, query.topic, query.reasons)


def show(letters: list[Letter], fmt: str, topic: str, reasons: Collection[str]) -> None:
    """Print ``letters`` as a table or as JSON lines; unreadable records are named on stderr."""
    if fmt == "table":
        if letters:
            click.echo(render_table(letters))
        else:
            which = f" with reason {', '.join(sorted(reasons))}" if reasons else ""
            click.echo(f"no dead letters{which} in {topic}", err=True)
        return
    for letter in letters:
        if letter.record is None:
            click.echo(f"driftline: warning: {topic} partition {letter.partition} offset "
                       f"{letter.offset} is not a dead letter ({letter.problem})", err=True)
        else:
            click.echo(json_line(letter))
