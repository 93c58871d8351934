"""``driftline simulate``: synthetic prediction (and label) events into Kafka."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from itertools import takewhile
from typing import TypeVar

import click

from streams.cli.common import (
    ProgressLine,
    bootstrap_from_url,
    broker_errors,
    broker_option,
    fail,
)
from streams.config.settings import TopicSettings
from streams.devtools.simulator import Simulator, interleave, split_count
from streams.transport.producer import send_routed
from streams.transport.topics import driftline_topics, ensure_topics

T = TypeVar("T")
DEFAULT_EVENTS = 10_000
_TOPICS = TopicSettings()


def _parse_start(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC).replace(microsecond=0)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        fail(f"--start must be an ISO 8601 time such as 2026-11-22T10:00:00Z, got {value!r}")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _until(deadline: float, items: Iterable[T]) -> Iterator[T]:
    return takewhile(lambda _: time.monotonic() < deadline, items)


@click.command("simulate")
@broker_option
@click.option("--events", "n_events", type=click.IntRange(min=1), default=None,
              help=f"Prediction events to send [default: {DEFAULT_EVENTS:,} "
                   "unless --duration].")
@click.option("--duration", type=click.FloatRange(min=0, min_open=True), default=None,
              metavar="SECONDS", help="Send for this many seconds instead of --events.")
@click.option("--rate", type=click.FloatRange(min=0, min_open=True), default=None,
              metavar="EV/S", help="Events per second of wall clock [default: as fast as "
                                   "possible].")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Same seed, same events.")
@click.option("--model", "models", multiple=True, default=("fraud",), show_default=True,
              metavar="ID", help="Model id; repeat for several models (keys spread over "
                                 "partitions).")
@click.option("--model-version", default="1", show_default=True)
@click.option("--events-per-second", type=click.FloatRange(min=0, min_open=True),
              default=200.0, show_default=True,
              help="Events per second of simulated event time, per model.")
@click.option("--start", default=None, metavar="TIME",
              help="Event time of the first event, ISO 8601 [default: now].")
@click.option("--shift-at", type=click.FloatRange(min=0), default=1800.0, show_default=True,
              metavar="SECONDS", help="Event-time seconds after --start from which "
              f"{', '.join(Simulator.shifted_features)} drift.")
@click.option("--no-shift", is_flag=True, help="Keep every feature stable.")
@click.option("--invalid-rate", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Share of payloads replaced by invalid ones (bad JSON, wrong types, "
                   "missing fields).")
@click.option("--topic", default=_TOPICS.predictions, show_default=True,
              help="Topic of the prediction events.")
@click.option("--labels", "with_labels", is_flag=True,
              help="Also send ground-truth labels, each about --label-delay seconds of "
                   "event time after its prediction, in event-time order with them.")
@click.option("--labels-topic", default=_TOPICS.labels, show_default=True)
@click.option("--label-delay", type=click.FloatRange(min=0), default=60.0, show_default=True,
              metavar="SECONDS", help="Mean delay of a label (exponential), in event time.")
@click.option("--label-share", type=click.FloatRange(0, 1), default=1.0, show_default=True,
              help="Share of valid predictions whose label ever arrives.")
def command(broker_url: str, n_events: int | None, duration: float | None,
            rate: float | None, seed: int, models: tuple[str, ...], model_version: str,
            events_per_second: float, start: str | None, shift_at: float, no_shift: bool,
            invalid_rate: float, topic: str, with_labels: bool, labels_topic: str,
            label_delay: float, label_share: float) -> None:
    """Send simulated prediction events of a fraud-scoring model to Kafka.

    Creates driftline's topics when they are missing. The events are a pure
    function of the seed; features shift at --shift-at seconds of event time,
    and with --labels the label function changes there too (concept drift).
    --rate counts predictions; labels ride along at the same pace.
    """
    if n_events is not None and duration is not None:
        fail("--events and --duration exclude each other; give one")
    bootstrap = bootstrap_from_url(broker_url)
    origin = _parse_start(start)
    try:
        sims = [Simulator(seed, model, model_version, events_per_second,
                          None if no_shift else shift_at, start=origin,
                          label_delay=label_delay, label_share=label_share)
                for model in models]
    except ValueError as exc:
        fail(str(exc))
    total = None if duration is not None else (n_events or DEFAULT_EVENTS)
    shares = split_count(total, len(sims)) if total is not None else [None] * len(sims)
    routed = interleave([sim.records(share, invalid_rate)
                         for sim, share in zip(sims, shares, strict=True)])
    if not with_labels:
        routed = (r for r in routed if r[0] == "prediction")
    if duration is not None:
        routed = _until(time.monotonic() + duration, routed)
    counts = Counter[str]()
    targets = {"prediction": topic, "label": labels_topic}

    def records() -> Iterator[tuple[str, bytes | None, bytes]]:
        for kind, key, value in routed:
            counts[kind] += 1
            yield targets[kind], key, value

    progress = ProgressLine(total)
    began = time.monotonic()
    pace = None if rate is None else rate * (1 + label_share if with_labels else 1)
    with broker_errors(bootstrap):
        ensure_topics(bootstrap, driftline_topics(predictions=topic, labels=labels_topic))
        asyncio.run(send_routed(bootstrap, records(), rate=pace,
                                on_progress=lambda _: progress(counts["prediction"])))
        sent = counts["prediction"]
        progress.finish(sent)
        elapsed = max(time.monotonic() - began, 1e-9)
        sent_shares = split_count(sent, len(sims))
        invalid = sum(len(sim.invalid_indices(share, invalid_rate))
                      for sim, share in zip(sims, sent_shares, strict=True))
        click.echo(f"driftline: sent {sent:,} prediction events ({invalid:,} invalid) to "
                   f"{topic} at {bootstrap} in {elapsed:.1f} s ({sent / elapsed:,.0f}/s)")
        if with_labels:
            click.echo(f"driftline: sent {counts['label']:,} label events to {labels_topic}")
