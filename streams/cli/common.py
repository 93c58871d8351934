"""What ``driftline``'s subcommands share: the one-line error, the broker option and
its errors, the progress line."""

from __future__ import annotations

import getpass
import logging
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from typing import NoReturn, TextIO

import click

from streams.cli.errors import CLIError
from streams.config.settings import DEFAULT_BROKER_URL, Settings, SettingsError

BROKER_ENV = "DRIFTLINE_BROKER_URL"

broker_option = click.option(
    "--broker", "broker_url", default=DEFAULT_BROKER_URL, show_default=True, metavar="URL",
    envvar=BROKER_ENV, show_envvar=True,
    help="Kafka brokers: kafka://host:port[,host:port] or host:port.")


def cli_actor() -> str:
    """Who a write from the CLI is recorded as in the audit trail: ``cli:<login name>``.

    The CLI opens the database with its own credentials, so the operating-system
    user is the best name there is; ``cli`` alone when the system has none.
    """
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def fail(message: str) -> NoReturn:
    """Stop the command with ``driftline: error: MESSAGE`` and exit status 2."""
    raise _cli_error(message)


def bootstrap_from_url(url: str) -> str:
    """``kafka://host:port[,host:port]`` or ``host:port`` as Kafka ``bootstrap_servers``."""
    try:
        return Settings(broker_url=url).bootstrap_servers
    except SettingsError as exc:
        raise _cli_error(str(exc).replace("broker_url", "--broker", 1)) from exc


@contextmanager
def _one_line_errors(bootstrap: str, logger: str, unreachable: tuple[type[BaseException], ...],
                     others: tuple[type[BaseException], ...]) -> Iterator[None]:
    """``unreachable`` and ``others`` as one-line command errors, ``logger`` quiet meanwhile
    (its records do not fall through to logging's last-resort handler, which would print
    them, unless the application configured logging)."""
    quiet = logging.NullHandler()
    logging.getLogger(logger).addHandler(quiet)
    try:
        yield
    except unreachable as exc:
        raise _cli_error(f"cannot reach the broker at {bootstrap} (is it running? "
                         "`driftline broker` starts one)") from exc
    except others as exc:
        raise _cli_error(f"{bootstrap}: {str(exc) or type(exc).__name__}") from exc
    finally:
        logging.getLogger(logger).removeHandler(quiet)


def broker_errors(bootstrap: str) -> AbstractContextManager[None]:
    """Turn aiokafka's Kafka, topic and timeout errors into one-line command errors."""
    from aiokafka.errors import KafkaConnectionError, KafkaError

    from streams.transport.topics import TopicError

    return _one_line_errors(bootstrap, "aiokafka", (KafkaConnectionError,),
                            (KafkaError, TopicError, TimeoutError))


def kafka_python_errors(bootstrap: str) -> AbstractContextManager[None]:
    """``broker_errors`` for the synchronous readers (kafka-python's ``KafkaConsumer`` in
    ``streams.transport.reading``): no broker, no topic, a timeout, a Kafka error."""
    from kafka.errors import KafkaError

    return _one_line_errors(bootstrap, "kafka", (ConnectionError,),
                            (KafkaError, LookupError, TimeoutError))


def _cli_error(message: str) -> click.ClickException:
    return CLIError(message)


class ProgressLine:
    """``sent N [/ TOTAL] events``, redrawn in place on a terminal, throttled otherwise."""

    def __init__(self, total: int | None, *, noun: str = "events",
                 stream: TextIO | None = None, interval: float | None = None) -> None:
        self.total, self.noun = total, noun
        self.stream = stream or click.get_text_stream("stderr")
        self.tty = self.stream.isatty()
        self.interval = interval if interval is not None else (0.2 if self.tty else 2.0)
        self._last = time.monotonic()
        self.shown = 0

    def __call__(self, done: int) -> None:
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            self._show(done, final=False)

    def finish(self, done: int) -> None:
        if self.tty or self.shown:
            self._show(done, final=True)

    def _show(self, done: int, *, final: bool) -> None:
        of = f" / {self.total:,}" if self.total is not None else ""
        start = "\r" if self.tty else ""
        end = "\n" if final or not self.tty else ""
        click.echo(f"{start}sent {done:,}{of} {self.noun}{end}", nl=False, file=self.stream)
        self.shown += 1


def iso_time(_: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    """A click callback: an ISO 8601 time, UTC when it has no offset (``--since``,
    ``--until``); None stays None."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 time "
                                 "(e.g. 2026-01-31T12:00Z)") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
