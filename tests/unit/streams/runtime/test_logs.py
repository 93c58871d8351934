"""Log set-up: one line per record as text or JSON, framework loggers quieted."""

from __future__ import annotations

import io
import json
import logging
import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from streams.runtime.logs import (
    FRAMEWORK_LOGGERS,
    JsonFormatter,
    TextFormatter,
    configure_logging,
    level_number,
    make_formatter,
)


def record(message: str = "window closed: %s", *args: object, level: int = logging.INFO,
           name: str = "streams.app.worker", **extra: object) -> logging.LogRecord:
    made = logging.LogRecord(name, level, __file__, 1, message, args or ("fraud",), None)
    made.created = datetime(2026, 12, 7, 13, 40, 0, 123456, tzinfo=UTC).timestamp()
    made.__dict__.update(extra)
    return made


def test_text_is_time_level_logger_and_message() -> None:
    line = TextFormatter().format(record(event="window_closed", model="fraud"))
    assert line == "2026-12-07T13:40:00.123Z INFO streams.app.worker: window closed: fraud"


def test_text_joins_the_lines_of_a_message() -> None:
    made = record("Unclosed AIOKafkaProducer\nproducer: %s", "<AIOKafkaProducer>",
                  level=logging.ERROR, name="asyncio")
    assert TextFormatter().format(made) == (
        "2026-12-07T13:40:00.123Z ERROR asyncio: Unclosed AIOKafkaProducer | "
        "producer: <AIOKafkaProducer>")


def test_json_has_the_four_keys_then_the_fields() -> None:
    when = datetime(2026, 12, 7, 13, 40, tzinfo=UTC)
    line = JsonFormatter().format(record(event="window_closed", model="fraud", events=6250,
                                         drifted=["amount"], at=when, reasons={"x"}))
    assert "\n" not in line
    assert json.loads(line) == {
        "time": "2026-12-07T13:40:00.123Z", "level": "INFO", "logger": "streams.app.worker",
        "message": "window closed: fraud", "event": "window_closed", "model": "fraud",
        "events": 6250, "drifted": ["amount"], "at": "2026-12-07T13:40:00+00:00",
        "reasons": ["x"]}


def test_json_keeps_a_traceback_on_its_one_line() -> None:
    made = record("failed: %s", "store")
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        made.exc_info = sys.exc_info()
    line = JsonFormatter().format(made)
    assert len(line.splitlines()) == 1
    data = json.loads(line)
    assert data["message"] == "failed: store"
    assert "ValueError: boom" in data["exc_info"]


def test_bad_format_and_level_are_refused() -> None:
    with pytest.raises(ValueError, match="log format must be one of text, json, got 'xml'"):
        make_formatter("xml")
    with pytest.raises(ValueError, match="log level must be one of"):
        level_number("verbose")
    assert level_number("WARNING") == logging.WARNING


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    levels = {name: logging.getLogger(name).level for name in FRAMEWORK_LOGGERS}
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    for name, old in levels.items():
        logging.getLogger(name).setLevel(old)
    logging.captureWarnings(False)


@pytest.mark.usefixtures("restore_logging")
def test_framework_info_is_dropped_and_driftline_info_kept() -> None:
    stream = io.StringIO()
    configure_logging("info", "json", "warning", stream=stream)
    logging.getLogger("faust.worker").info("[^Worker]: Starting...")
    logging.getLogger("aiokafka.consumer.subscription_state").info(
        "Updating subscribed topics to: \n+----+\n| topic name |\n+----+")
    logging.getLogger("mode.services").info("Stopping...")
    logging.getLogger("aiokafka.conn").warning("Unable to connect to %s", "kafka:9092")
    logging.getLogger("streams.app.worker").info("ready: %s", "partitions 0-1",
                                             extra={"event": "ready"})
    logging.getLogger("streams.app.worker").debug("not shown at info")
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(r["logger"], r["message"]) for r in records] == [
        ("aiokafka.conn", "Unable to connect to kafka:9092"),
        ("streams.app.worker", "ready: partitions 0-1")]
    assert records[1]["event"] == "ready"


@pytest.mark.usefixtures("restore_logging")
def test_levels_and_text_format_are_configurable() -> None:
    stream = io.StringIO()
    configure_logging("debug", "text", "info", stream=stream)
    logging.getLogger("faust.worker").info("Ready")
    logging.getLogger("streams.app.worker").debug("details")
    lines = stream.getvalue().splitlines()
    assert [re.sub(r"^\S+ ", "", line) for line in lines] == [
        "INFO faust.worker: Ready", "DEBUG streams.app.worker: details"]


@pytest.mark.usefixtures("restore_logging")
def test_the_handler_thins_out_a_framework_flood() -> None:
    stream = io.StringIO()
    configure_logging("info", "text", "warning", stream=stream)
    for attempt in range(200):  # what a broker outage makes aiokafka log in a second
        logging.getLogger("aiokafka.conn").error(
            "Unable connect to node with id %s (handler flood test)", attempt)
        logging.getLogger("streams.app.worker").warning("own line %d (handler flood test)", attempt)
    lines = stream.getvalue().splitlines()
    assert [line for line in lines if "aiokafka.conn" in line] == [
        lines[0]]  # the first only: the next within 30 s are counted, not written
    assert lines[0].endswith("Unable connect to node with id 0 (handler flood test)")
    assert sum("streams.app.worker" in line for line in lines) == 200  # driftline's own: all
