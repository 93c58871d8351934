"""``driftline broker``: the embedded Kafka-compatible broker in the foreground."""

from __future__ import annotations

import signal
from types import FrameType

import click

from streams.cli.common import fail
from streams.devtools.broker import BrokerError, EmbeddedBroker


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@click.command("broker")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (and to advertise to clients).")
@click.option("--port", type=click.IntRange(1, 65535), default=9092, show_default=True,
              help="Port to listen on.")
def command(host: str, port: int) -> None:
    """Run the embedded broker (Tansu, in memory) until Ctrl-C or SIGTERM.

    Its data lives in memory and is gone when it stops. It has no idempotent or
    transactional producers, no topic auto-creation and no compaction.
    """
    broker = EmbeddedBroker(host, port)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        try:
            broker.start()
        except BrokerError as exc:
            fail(str(exc))
        click.echo(f"driftline: broker ready at {broker.url} (pid {broker.pid}); "
                   "Ctrl-C stops it")
        status = broker.wait()
        fail(f"the broker exited unexpectedly with status {status}")
    except KeyboardInterrupt:
        click.echo("driftline: broker stopped")
    finally:
        broker.stop()
        signal.signal(signal.SIGTERM, previous)
