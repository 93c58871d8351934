"""The worker's logging: one line per record, as text or as JSON, framework chatter quieted.

``configure_logging`` replaces the root logger's handlers with one stream handler
(standard error) whose formatter is chosen by ``worker.log_format``:

- ``text``: ``2026-12-07T14:33:41.258Z INFO streams.app.worker: ready: ...``. The
  message carries what an operator needs; the structured fields are not repeated.
  A message of several lines (a library's) is joined with `` | ``; only a
  traceback takes lines of its own.
- ``json``: one JSON object per line with ``time`` (UTC, ISO 8601, milliseconds),
  ``level``, ``logger`` and ``message``, then every structured field of the record
  (the ``extra`` of the logging call: ``event``, ``model``, ``version``, ...), and
  ``exc_info`` (the traceback as one string) when there is one. Values JSON does
  not know are written as text.

Framework loggers (Faust, mode, aiokafka, kafka, aiohttp, alembic, ...) get their
own level, ``worker.framework_log_level`` (``warning`` by default): their start
and stop messages and Faust's multi-line ASCII tables of topics and partitions
are INFO records, so they are gone, while their warnings and errors stay.
driftline's own loggers follow ``worker.log_level``. Their repeated warnings
and errors (a broker outage makes aiokafka log hundreds a second) are thinned
out by ``streams.runtime.logfloods.FLOODS`` on the handler: the first line of each kind,
then at most one per 30 s with the count of those left out.

The catalogue of driftline's INFO lines and their fields is docs/operations.md.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from streams.runtime.logfloods import FLOODS

LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("debug", "info", "warning", "error")
# Loggers of the libraries the worker runs on: their INFO is start/stop chatter.
FRAMEWORK_LOGGERS = ("faust", "mode", "aiokafka", "kafka", "aiohttp", "alembic", "venusian",
                     "sqlalchemy", "asyncio", "urllib3", "croniter")
# The attributes every LogRecord has: anything else on a record came from ``extra``.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message", "asctime", "taskName"}


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def record_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The structured fields of ``record``: what the logging call passed as ``extra``."""
    return {key: value for key, value in record.__dict__.items()
            if key not in _STANDARD and not key.startswith("_")}


class TextFormatter(logging.Formatter):
    """``TIME LEVEL LOGGER: MESSAGE``, the lines of a multi-line message joined with
    `` | ``; a traceback, if any, follows on its own lines."""

    def format(self, record: logging.LogRecord) -> str:
        message = " | ".join(record.getMessage().splitlines())
        line = f"{_timestamp(record)} {record.levelname} {record.name}: {message}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        elif record.exc_text:
            line += "\n" + record.exc_text
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (module docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {"time": _timestamp(record), "level": record.levelname,
                                "logger": record.name, "message": record.getMessage()}
        for key, value in record_fields(record).items():
            data.setdefault(key, value)
        if record.exc_info:
            data["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(data, default=_plain, ensure_ascii=False, allow_nan=False)


def _plain(value: object) -> object:
    """A value JSON does not know, as JSON can hold it."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    return str(value)


def level_number(name: str) -> int:
    """``"info"`` -> ``logging.INFO``; ``ValueError`` for a name not in ``LOG_LEVELS``."""
    if name.lower() not in LOG_LEVELS:
        raise ValueError(f"log level must be one of {', '.join(LOG_LEVELS)}, got {name!r}")
    return int(logging.getLevelName(name.upper()))


def make_formatter(log_format: str) -> logging.Formatter:
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}, "
                         f"got {log_format!r}")
    return JsonFormatter() if log_format == "json" else TextFormatter()


def configure_logging(level: str = "info", log_format: str = "text",
                      framework_level: str = "warning", stream: TextIO | None = None
                      ) -> logging.Handler:
    """Send every record to one handler on ``stream`` (standard error); return it."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(make_formatter(log_format))
    handler.addFilter(FLOODS)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level_number(level))
    for name in FRAMEWORK_LOGGERS:
        logging.getLogger(name).setLevel(level_number(framework_level))
    logging.captureWarnings(True)
    return handler
